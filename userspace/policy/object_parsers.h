#pragma once
// One reader per kind: YAML document -> typed object. Type errors are
// recorded in the DocumentReader (naming the field); semantic rules live in
// validation.h. Each returns whatever it could read, so a rejection can still
// name the object.
#include <yaml-cpp/yaml.h>

#include "policy/model.h"
#include "policy/yaml_reader.h"

namespace egressd::policy {

// metadata.{name,namespace,labels}; namespace defaults to "default".
ObjectMeta readMeta(DocumentReader& reader, const YAML::Node& document);

ServiceEntry readServiceEntry(DocumentReader& reader, const YAML::Node& document);
Sidecar readSidecar(DocumentReader& reader, const YAML::Node& document);
Workload readWorkload(DocumentReader& reader, const YAML::Node& document);
Namespace readNamespace(DocumentReader& reader, const YAML::Node& document);
Gateway readGateway(DocumentReader& reader, const YAML::Node& document);
VirtualService readVirtualService(DocumentReader& reader, const YAML::Node& document);
DestinationRule readDestinationRule(DocumentReader& reader, const YAML::Node& document);
Service readService(DocumentReader& reader, const YAML::Node& document);

// A MeshConfig map (IstioOperator spec.meshConfig, or the parsed data.mesh of
// the istio ConfigMap); `field` prefixes field names in messages.
MeshConfig readMeshConfig(DocumentReader& reader, const YAML::Node& mesh, const std::string& field);

// "ALLOW_ANY" / "REGISTRY_ONLY"; records an issue otherwise.
std::optional<OutboundMode> readOutboundMode(DocumentReader& reader, const YAML::Node& node,
                                             const std::string& field);

}  // namespace egressd::policy
