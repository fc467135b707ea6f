// Core v1 Service: selector, ports and cluster IPs. In file mode this is
// where the egress gateway's address comes from. Kubernetes (not Istio)
// field names; Kubernetes fields egressd does not use are not warned about.
#include <limits>

#include "policy/object_parsers.h"

namespace egressd::policy {
namespace {

using R = DocumentReader;

std::vector<ServiceSpecPort> readServicePorts(R& reader, const YAML::Node& node) {
  std::vector<ServiceSpecPort> ports;
  if (!reader.expectList(node, "ports")) return ports;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string field = "ports[" + std::to_string(i) + "]";
    if (!reader.expectMap(node[i], field)) {
      if (!R::present(node[i])) reader.fail(field, "must not be empty", node[i]);
      continue;
    }
    reader.warnUnknownKeys(node[i], field, {"name", "port", "targetPort", "protocol", "appProtocol", "nodePort"});
    ServiceSpecPort port;
    port.name = reader.string(R::child(node[i], "name"), field + ".name").value_or("");
    port.port =
        reader.number(R::child(node[i], "port"), field + ".port", std::numeric_limits<uint32_t>::max()).value_or(0);
    port.target_port = reader.string(R::child(node[i], "targetPort"), field + ".targetPort").value_or("");
    port.protocol = reader.string(R::child(node[i], "protocol"), field + ".protocol").value_or("TCP");
    port.app_protocol = reader.string(R::child(node[i], "appProtocol"), field + ".appProtocol").value_or("");
    ports.push_back(std::move(port));
  }
  return ports;
}

}  // namespace

Service readService(DocumentReader& reader, const YAML::Node& document) {
  Service service;
  service.meta = readMeta(reader, document);
  const YAML::Node spec = R::child(document, "spec");
  if (!R::present(spec)) {
    reader.fail("spec", "is required", document);
    return service;
  }
  if (!reader.expectMap(spec, "spec")) return service;
  if (R::present(R::child(spec, "selector")))
    service.selector = reader.stringMap(R::child(spec, "selector"), "selector");
  service.ports = readServicePorts(reader, R::child(spec, "ports"));
  service.cluster_ip = reader.string(R::child(spec, "clusterIP"), "clusterIP").value_or("");
  service.cluster_ips = reader.stringList(R::child(spec, "clusterIPs"), "clusterIPs");
  service.type = reader.string(R::child(spec, "type"), "type").value_or("ClusterIP");
  service.external_name = reader.string(R::child(spec, "externalName"), "externalName").value_or("");
  return service;
}

}  // namespace egressd::policy
