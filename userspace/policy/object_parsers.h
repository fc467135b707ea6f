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

// ConnectionPoolSettings at `field` (a map).
ConnectionPool readConnectionPool(DocumentReader& reader, const YAML::Node& node, const std::string& field);

// A MeshConfig map (IstioOperator spec.meshConfig, or the parsed data.mesh of
// the istio ConfigMap); `field` prefixes field names in messages.
MeshConfig readMeshConfig(DocumentReader& reader, const YAML::Node& mesh, const std::string& field);

// outboundTrafficPolicy.mode: "ALLOW_ANY" / "REGISTRY_ONLY"; absent is
// REGISTRY_ONLY (Istio's enum default). ALLOW_ANY_DYNAMIC_DNS is valid in the
// mesh config only (read as ALLOW_ANY, with a warning). Records an issue
// otherwise (and answers REGISTRY_ONLY: never fail open).
enum class OutboundModeScope { kMesh, kSidecar };
OutboundMode readOutboundMode(DocumentReader& reader, const YAML::Node& node, const std::string& field,
                              OutboundModeScope scope);

}  // namespace egressd::policy
