#include <limits>

#include "policy/object_parsers.h"
#include "policy/protocols.h"

namespace egressd::policy {
namespace {

using R = DocumentReader;
constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();

std::string at(const std::string& field, size_t i) { return field + "[" + std::to_string(i) + "]"; }

std::vector<ServicePort> readPorts(R& reader, const YAML::Node& node) {
  std::vector<ServicePort> ports;
  if (!reader.expectList(node, "ports")) return ports;
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string field = at("ports", i);
    if (!R::present(item)) {
      reader.fail(field, "must not be empty", item);
      continue;
    }
    if (!reader.expectMap(item, field)) continue;
    reader.warnUnknownKeys(item, field, {"number", "protocol", "name", "targetPort"});
    ServicePort port;
    port.number = reader.number(R::child(item, "number"), field + ".number", kMaxU32).value_or(0);
    port.name = reader.string(R::child(item, "name"), field + ".name").value_or("");
    port.protocol_name = reader.string(R::child(item, "protocol"), field + ".protocol").value_or("");
    if (auto protocol = parseProtocol(port.protocol_name)) {
      port.protocol = *protocol;
    } else {
      reader.fail(field + ".protocol",
                  "\"" + port.protocol_name + "\" is not a known protocol (" + std::string(kKnownProtocols) + ")",
                  R::child(item, "protocol"));
    }
    port.target_port = reader.number(R::child(item, "targetPort"), field + ".targetPort", kMaxU32).value_or(0);
    ports.push_back(std::move(port));
  }
  return ports;
}

std::vector<WorkloadEntrySpec> readEndpoints(R& reader, const YAML::Node& node) {
  std::vector<WorkloadEntrySpec> endpoints;
  if (!reader.expectList(node, "endpoints")) return endpoints;
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string field = at("endpoints", i);
    if (!reader.expectMap(item, field)) {
      if (!R::present(item)) reader.fail(field, "must not be empty", item);
      continue;
    }
    reader.warnUnknownKeys(item, field,
                           {"address", "ports", "labels", "network", "locality", "weight", "serviceAccount"});
    WorkloadEntrySpec endpoint;
    endpoint.address = reader.string(R::child(item, "address"), field + ".address").value_or("");
    const YAML::Node ports = R::child(item, "ports");
    if (reader.expectMap(ports, field + ".ports")) {
      for (const auto& entry : ports) {
        const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : "";
        if (auto number = reader.number(entry.second, field + ".ports." + name, kMaxU32)) {
          endpoint.ports[name] = *number;
        }
      }
    }
    endpoint.labels = reader.stringMap(R::child(item, "labels"), field + ".labels");
    endpoint.network = reader.string(R::child(item, "network"), field + ".network").value_or("");
    endpoint.locality = reader.string(R::child(item, "locality"), field + ".locality").value_or("");
    endpoint.weight = reader.number(R::child(item, "weight"), field + ".weight", kMaxU32).value_or(0);
    endpoint.service_account =
        reader.string(R::child(item, "serviceAccount"), field + ".serviceAccount").value_or("");
    endpoints.push_back(std::move(endpoint));
  }
  return endpoints;
}

std::optional<Resolution> parseResolution(const std::string& text) {
  if (text == "NONE") return Resolution::kNone;
  if (text == "STATIC") return Resolution::kStatic;
  if (text == "DNS") return Resolution::kDns;
  if (text == "DNS_ROUND_ROBIN") return Resolution::kDnsRoundRobin;
  if (text == "DYNAMIC_DNS") return Resolution::kDynamicDns;
  return std::nullopt;
}

std::vector<std::string> readStatusAddresses(R& reader, const YAML::Node& document) {
  std::vector<std::string> out;
  const YAML::Node list = R::child(R::child(document, "status"), "addresses");
  if (!reader.expectList(list, "status.addresses")) return out;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string field = at("status.addresses", i);
    if (!reader.expectMap(list[i], field)) continue;
    if (auto value = reader.string(R::child(list[i], "value"), field + ".value")) out.push_back(*value);
  }
  return out;
}

}  // namespace

ServiceEntry readServiceEntry(DocumentReader& reader, const YAML::Node& document) {
  ServiceEntry entry;
  entry.meta = readMeta(reader, document);
  const YAML::Node spec = R::child(document, "spec");
  if (!R::present(spec)) {
    reader.fail("spec", "is required", document);
    return entry;
  }
  if (!reader.expectMap(spec, "spec")) return entry;
  reader.warnUnknownKeys(spec, "", {"hosts", "addresses", "ports", "location", "resolution", "endpoints",
                                    "workloadSelector", "exportTo", "subjectAltNames", "trafficDistribution"});
  entry.hosts = reader.stringList(R::child(spec, "hosts"), "hosts");
  entry.addresses = reader.stringList(R::child(spec, "addresses"), "addresses");
  entry.ports = readPorts(reader, R::child(spec, "ports"));
  if (auto text = reader.string(R::child(spec, "location"), "location")) {
    if (*text == "MESH_EXTERNAL") {
      entry.location = Location::kMeshExternal;
    } else if (*text == "MESH_INTERNAL") {
      entry.location = Location::kMeshInternal;
    } else {
      reader.fail("location", "\"" + *text + "\" is not a valid location (MESH_EXTERNAL or MESH_INTERNAL)",
                  R::child(spec, "location"));
    }
  }
  if (auto text = reader.string(R::child(spec, "resolution"), "resolution")) {
    if (auto resolution = parseResolution(*text)) {
      entry.resolution = *resolution;
    } else {
      reader.fail("resolution",
                  "\"" + *text + "\" is not a valid resolution (NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS)",
                  R::child(spec, "resolution"));
    }
  }
  entry.endpoints = readEndpoints(reader, R::child(spec, "endpoints"));
  const YAML::Node selector = R::child(spec, "workloadSelector");
  if (reader.expectMap(selector, "workloadSelector")) {
    entry.workload_selector = reader.stringMap(R::child(selector, "labels"), "workloadSelector.labels");
  }
  entry.export_to = reader.stringList(R::child(spec, "exportTo"), "exportTo");
  entry.subject_alt_names = reader.stringList(R::child(spec, "subjectAltNames"), "subjectAltNames");
  entry.status_addresses = readStatusAddresses(reader, document);
  return entry;
}

}  // namespace egressd::policy
