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
  meta.creation_timestamp =
      reader.string(DocumentReader::child(metadata, "creationTimestamp"), "metadata.creationTimestamp").value_or("");
  return meta;
}

OutboundMode readOutboundMode(DocumentReader& reader, const YAML::Node& node, const std::string& field,
                              OutboundModeScope scope) {
  // Istio's enum: REGISTRY_ONLY = 0, so an outboundTrafficPolicy without a
  // mode (or with mode: null) is REGISTRY_ONLY, never ALLOW_ANY.
  const auto text = reader.string(node, field);
  if (!text || *text == "REGISTRY_ONLY") return OutboundMode::kRegistryOnly;
  if (*text == "ALLOW_ANY") return OutboundMode::kAllowAny;
  if (*text == "ALLOW_ANY_DYNAMIC_DNS") {
    if (scope == OutboundModeScope::kMesh) {
      // Unknown destinations are allowed, as with ALLOW_ANY; the proxy would
      // also resolve the Host/SNI itself, which a connect()-time enforcer
      // cannot do: the app's own resolution decides the address.
      reader.warn(field,
                  "ALLOW_ANY_DYNAMIC_DNS is enforced as ALLOW_ANY: unknown destinations are allowed; the "
                  "per-request DNS resolution and client TLS settings of the proxy are not applied",
                  node);
      return OutboundMode::kAllowAny;
    }
    reader.fail(field, "ALLOW_ANY_DYNAMIC_DNS is only supported in the mesh config, not in a Sidecar", node);
    return OutboundMode::kRegistryOnly;
  }
  reader.fail(field, "\"" + *text + "\" is not a valid mode (ALLOW_ANY or REGISTRY_ONLY)", node);
  return OutboundMode::kRegistryOnly;
}

}  // namespace egressd::policy
