#include "policy/object_parsers.h"

namespace egressd::policy {

ObjectMeta readMeta(DocumentReader& reader, const YAML::Node& document) {
  ObjectMeta meta;
  const YAML::Node metadata = DocumentReader::child(document, "metadata");
  if (!reader.expectMap(metadata, "metadata")) return meta;
  meta.name = reader.string(DocumentReader::child(metadata, "name"), "metadata.name").value_or("");
  meta.namespace_ =
      reader.string(DocumentReader::child(metadata, "namespace"), "metadata.namespace").value_or("default");
  if (meta.namespace_.empty()) meta.namespace_ = "default";
  meta.labels = reader.stringMap(DocumentReader::child(metadata, "labels"), "metadata.labels");
  return meta;
}

std::optional<OutboundMode> readOutboundMode(DocumentReader& reader, const YAML::Node& node,
                                             const std::string& field) {
  const auto text = reader.string(node, field);
  if (!text) return std::nullopt;
  if (*text == "ALLOW_ANY") return OutboundMode::kAllowAny;
  if (*text == "REGISTRY_ONLY") return OutboundMode::kRegistryOnly;
  reader.fail(field, "\"" + *text + "\" is not a valid mode (ALLOW_ANY or REGISTRY_ONLY)", node);
  return std::nullopt;
}

}  // namespace egressd::policy
