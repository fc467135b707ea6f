// Core v1 Service rules, following the Kubernetes API server's.
#include <charconv>
#include <map>
#include <set>

#include "policy/findings.h"
#include "policy/hosts.h"
#include "policy/validation.h"

namespace egressd::policy {
namespace {

using findings::at;
using findings::error;
using findings::quoted;

bool validPort(uint32_t port) { return port >= 1 && port <= 65535; }

// DNS-1035 label: a DNS-1123 label that starts with a letter.
bool isDns1035Label(const std::string& name) {
  return isDns1123Label(name, true) && name.front() >= 'a' && name.front() <= 'z';
}

// targetPort: a port number, or an IANA service name (at most 15 chars,
// lower-case letters, digits and '-', at least one letter).
void validateTargetPort(const std::string& target, const std::string& field, Findings& out) {
  if (target.empty()) return;
  uint64_t number = 0;
  auto [ptr, ec] = std::from_chars(target.data(), target.data() + target.size(), number);
  if (ec == std::errc() && ptr == target.data() + target.size()) {
    if (number < 1 || number > 65535) error(out, field, "must be between 1 and 65535, got " + target);
    return;
  }
  bool letter = false;
  for (char c : target) letter = letter || (c >= 'a' && c <= 'z');
  if (target.size() > 15 || !letter || !isDns1123Label(target, true) || target.find("--") != std::string::npos) {
    error(out, field, quoted(target) + " is neither a port number nor a valid port name");
  }
}

void validateClusterIps(const Service& service, Findings& out) {
  auto valid = [](const std::string& ip) { return ip == "None" || isIpAddress(ip); };
  if (!service.cluster_ip.empty() && !valid(service.cluster_ip)) {
    error(out, "clusterIP", quoted(service.cluster_ip) + " is not an IP address or \"None\"");
  }
  for (size_t i = 0; i < service.cluster_ips.size(); ++i) {
    if (!valid(service.cluster_ips[i])) {
      error(out, at("clusterIPs", i), quoted(service.cluster_ips[i]) + " is not an IP address or \"None\"");
    }
  }
  if (!service.cluster_ip.empty() && !service.cluster_ips.empty() && service.cluster_ips[0] != service.cluster_ip) {
    error(out, "clusterIPs[0]", "must equal clusterIP (" + quoted(service.cluster_ip) + ")");
  }
}

}  // namespace

Findings validateService(const Service& service) {
  Findings out = validateMeta(service.meta);
  if (!service.meta.name.empty() && !isDns1035Label(service.meta.name)) {
    error(out, "metadata.name", quoted(service.meta.name) + " is not a valid Service name (DNS-1035 label)");
  }
  static const std::set<std::string> kTypes = {"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"};
  if (kTypes.count(service.type) == 0) {
    error(out, "type", quoted(service.type) + " is not a valid type (ClusterIP, NodePort, LoadBalancer, ExternalName)");
  }
  if (service.type == "ExternalName") {
    if (service.external_name.empty()) error(out, "externalName", "is required for type ExternalName");
  } else if (service.ports.empty()) {
    error(out, "ports", "must list at least one port");
  }
  std::map<std::string, size_t> names;
  std::map<std::pair<uint32_t, std::string>, size_t> numbers;
  for (size_t i = 0; i < service.ports.size(); ++i) {
    const ServiceSpecPort& port = service.ports[i];
    const std::string field = at("ports", i);
    if (port.name.empty()) {
      if (service.ports.size() > 1) error(out, field + ".name", "is required when there are several ports");
    } else if (!isDns1123Label(port.name, true)) {
      error(out, field + ".name", quoted(port.name) + " is not a valid port name (lower-case DNS-1123 label)");
    } else if (auto [it, fresh] = names.emplace(port.name, i); !fresh) {
      error(out, field + ".name", quoted(port.name) + " is already used by " + at("ports", it->second));
    }
    if (!validPort(port.port)) {
      error(out, field + ".port", "must be between 1 and 65535, got " + std::to_string(port.port));
    } else if (auto [it, fresh] = numbers.emplace(std::make_pair(port.port, port.protocol), i); !fresh) {
      error(out, field + ".port",
            std::to_string(port.port) + "/" + port.protocol + " is already used by " + at("ports", it->second));
    }
    if (port.protocol != "TCP" && port.protocol != "UDP" && port.protocol != "SCTP") {
      error(out, field + ".protocol", quoted(port.protocol) + " is not a valid protocol (TCP, UDP or SCTP)");
    }
    validateTargetPort(port.target_port, field + ".targetPort", out);
  }
  validateClusterIps(service, out);
  return out;
}

}  // namespace egressd::policy
