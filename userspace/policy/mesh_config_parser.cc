#include "policy/object_parsers.h"

namespace egressd::policy {

MeshConfig readMeshConfig(DocumentReader& reader, const YAML::Node& mesh, const std::string& field) {
  MeshConfig config;
  if (!reader.expectMap(mesh, field)) return config;
  const std::string prefix = field.empty() ? "" : field + ".";
  const YAML::Node policy = DocumentReader::child(mesh, "outboundTrafficPolicy");
  // Absent: Istio's mesh default (ALLOW_ANY). Present, each top-level mesh
  // field replaces the default as a whole, so `outboundTrafficPolicy: {}` is
  // the enum default, REGISTRY_ONLY.
  if (reader.expectMap(policy, prefix + "outboundTrafficPolicy")) {
    config.outbound_mode = readOutboundMode(reader, DocumentReader::child(policy, "mode"),
                                            prefix + "outboundTrafficPolicy.mode", OutboundModeScope::kMesh);
  }
  config.default_service_export_to =
      reader.stringList(DocumentReader::child(mesh, "defaultServiceExportTo"), prefix + "defaultServiceExportTo");
  config.default_virtual_service_export_to = reader.stringList(
      DocumentReader::child(mesh, "defaultVirtualServiceExportTo"), prefix + "defaultVirtualServiceExportTo");
  config.default_destination_rule_export_to = reader.stringList(
      DocumentReader::child(mesh, "defaultDestinationRuleExportTo"), prefix + "defaultDestinationRuleExportTo");
  if (auto root = reader.string(DocumentReader::child(mesh, "rootNamespace"), prefix + "rootNamespace")) {
    config.root_namespace = *root;
  }
  return config;
}

}  // namespace egressd::policy
