// ServiceEntry rules, following Istio's ValidateServiceEntry.
#include <cctype>
#include <map>
#include <set>

#include "policy/findings.h"
#include "policy/hosts.h"
#include "policy/protocols.h"
#include "policy/validation.h"

namespace egressd::policy {
namespace {

using findings::at;
using findings::error;
using findings::quoted;
using findings::warn;

bool validPort(uint32_t port) { return port >= 1 && port <= 65535; }

const char* resolutionName(Resolution r) {
  switch (r) {
    case Resolution::kNone: return "NONE";
    case Resolution::kStatic: return "STATIC";
    case Resolution::kDns: return "DNS";
    case Resolution::kDnsRoundRobin: return "DNS_ROUND_ROBIN";
    case Resolution::kDynamicDns: return "DYNAMIC_DNS";
  }
  return "?";
}

void validateHosts(const ServiceEntry& entry, Findings& out) {
  if (entry.hosts.empty()) error(out, "hosts", "must list at least one host");
  for (size_t i = 0; i < entry.hosts.size(); ++i) {
    const std::string& host = entry.hosts[i];
    if (host == "*") {
      error(out, at("hosts", i), "\"*\" is not allowed: a ServiceEntry cannot match every host");
    } else if (auto err = checkWildcardHost(host, PartialWildcards::kAllowed); !err.empty()) {
      error(out, at("hosts", i), err);
    } else if (isPartialWildcard(host)) {
      // Istio warns (except for DYNAMIC_DNS); the kernel matches whole labels.
      warn(out, at("hosts", i),
           quoted(host) + " is a partial wildcard: egressd matches whole DNS labels only, so no address is "
                          "learned for it and it allows nothing by name (use \"*." +
               host.substr(1) + "\" or list the names)");
    }
  }
}

void validateAddresses(const ServiceEntry& entry, Findings& out) {
  const bool cidr_allowed =
      entry.resolution == Resolution::kNone || entry.resolution == Resolution::kStatic;
  for (size_t i = 0; i < entry.addresses.size(); ++i) {
    const std::string& address = entry.addresses[i];
    if (!isIpOrCidr(address)) {
      error(out, at("addresses", i), quoted(address) + " is not a valid IP or CIDR");
    } else if (address.find('/') != std::string::npos && !cidr_allowed) {
      error(out, at("addresses", i),
            quoted(address) + " is a CIDR; CIDR addresses are allowed only with resolution NONE or STATIC, not " +
                resolutionName(entry.resolution));
    }
  }
}

void validatePorts(const ServiceEntry& entry, Findings& out) {
  std::map<std::string, size_t> names;
  std::map<uint32_t, size_t> numbers;
  for (size_t i = 0; i < entry.ports.size(); ++i) {
    const ServicePort& port = entry.ports[i];
    const std::string field = at("ports", i);
    if (port.name.empty()) {
      error(out, field + ".name", "is required");
    } else if (!isDns1123Label(port.name)) {
      error(out, field + ".name", quoted(port.name) + " is not a valid port name (DNS-1123 label)");
    } else if (auto [it, fresh] = names.emplace(port.name, i); !fresh) {
      error(out, field + ".name", quoted(port.name) + " is already used by " + at("ports", it->second));
    }
    if (!validPort(port.number)) {
      error(out, field + ".number", "must be between 1 and 65535, got " + std::to_string(port.number));
    } else if (auto [it, fresh] = numbers.emplace(port.number, i); !fresh) {
      error(out, field + ".number", std::to_string(port.number) + " is already used by " + at("ports", it->second));
    }
    if (port.target_port != 0) {
      if (!validPort(port.target_port)) {
        error(out, field + ".targetPort", "must be between 1 and 65535, got " + std::to_string(port.target_port));
      } else if (entry.resolution == Resolution::kNone) {
        warn(out, field + ".targetPort", "has no effect when resolution is NONE");
      }
    }
  }
}

void validateEndpointPorts(const WorkloadEntrySpec& endpoint, const std::string& field,
                           const ServiceEntry& entry, Findings& out) {
  for (const auto& [name, number] : endpoint.ports) {
    bool known = false;
    for (const ServicePort& port : entry.ports) known = known || port.name == name;
    if (!known) {
      error(out, field + ".ports." + name, quoted(name) + " is not the name of a port of this ServiceEntry");
    }
    if (!validPort(number)) {
      error(out, field + ".ports." + name, "must be between 1 and 65535, got " + std::to_string(number));
    }
  }
  for (const auto& [key, value] : endpoint.labels) {
    if (key.empty()) error(out, field + ".labels", "has an empty key");
  }
}

void validateStaticEndpoint(const WorkloadEntrySpec& endpoint, const std::string& field,
                            const ServiceEntry& entry, Findings& out) {
  const std::string& address = endpoint.address;
  if (address.empty()) {
    if (endpoint.network.empty()) error(out, field + ".address", "is required");
    return;
  }
  if (address.rfind(kUnixPrefix, 0) == 0) {
    if (auto err = checkUnixAddress(address); !err.empty()) error(out, field + ".address", err);
    if (!endpoint.ports.empty()) error(out, field + ".ports", "must be empty for a unix:// endpoint");
    if (entry.ports.size() != 1) {
      error(out, field + ".address", "a unix:// endpoint needs exactly one ServiceEntry port");
    }
  } else if (!isIpAddress(address)) {
    error(out, field + ".address",
          quoted(address) + " is not an IP address (resolution STATIC needs IP or unix:// endpoints)");
  }
}

void validateDnsEndpoint(const WorkloadEntrySpec& endpoint, const std::string& field, Findings& out) {
  if (endpoint.address.empty()) {
    error(out, field + ".address", "is required");
  } else if (!isIpAddress(endpoint.address) && !checkFqdn(endpoint.address).empty()) {
    error(out, field + ".address", quoted(endpoint.address) + " is not a valid FQDN or IP address");
  }
}

void validateResolution(const ServiceEntry& entry, Findings& out) {
  const char* mode = resolutionName(entry.resolution);
  switch (entry.resolution) {
    case Resolution::kNone:
      if (!entry.endpoints.empty()) error(out, "endpoints", "must be empty when resolution is NONE");
      if (entry.workload_selector) warn(out, "workloadSelector", "should not be set when resolution is NONE");
      break;
    case Resolution::kStatic:
      // No endpoints is valid: the addresses (or status.addresses) are the
      // service, as with a workloadSelector's workloads.
      for (size_t i = 0; i < entry.endpoints.size(); ++i) {
        validateStaticEndpoint(entry.endpoints[i], at("endpoints", i), entry, out);
      }
      break;
    case Resolution::kDns:
    case Resolution::kDnsRoundRobin:
      if (entry.endpoints.empty()) {
        for (size_t i = 0; i < entry.hosts.size(); ++i) {
          if (isWildcardHost(entry.hosts[i]) && entry.hosts[i] != "*") {
            error(out, at("hosts", i),
                  quoted(entry.hosts[i]) + " is a wildcard; resolution " + mode +
                      " without endpoints needs hosts that can be resolved (FQDNs)");
          }
        }
      }
      if (entry.resolution == Resolution::kDnsRoundRobin && entry.endpoints.size() > 1) {
        error(out, "endpoints", "has " + std::to_string(entry.endpoints.size()) +
                                    " entries; resolution DNS_ROUND_ROBIN allows at most one");
      }
      for (size_t i = 0; i < entry.endpoints.size(); ++i) {
        validateDnsEndpoint(entry.endpoints[i], at("endpoints", i), out);
      }
      if (entry.workload_selector) {
        warn(out, "workloadSelector", std::string("should not be set when resolution is ") + mode);
      }
      break;
    case Resolution::kDynamicDns:
      // Resolved per request by the proxy from Host/SNI: wildcard hosts,
      // HTTP/TLS ports, nothing static.
      for (size_t i = 0; i < entry.hosts.size(); ++i) {
        if (!isWildcardHost(entry.hosts[i])) {
          error(out, at("hosts", i), quoted(entry.hosts[i]) + " must be a wildcard with resolution DYNAMIC_DNS");
        }
      }
      if (!entry.addresses.empty()) error(out, "addresses", "must be empty when resolution is DYNAMIC_DNS");
      if (!entry.endpoints.empty()) error(out, "endpoints", "must be empty when resolution is DYNAMIC_DNS");
      for (size_t i = 0; i < entry.ports.size(); ++i) {
        std::string protocol = entry.ports[i].protocol_name;
        for (char& c : protocol) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (protocol != "HTTP" && protocol != "TLS" && protocol != "GRPC" && protocol != "HTTP2") {
          error(out, at("ports", i) + ".protocol",
                "must be HTTP, TLS, GRPC or HTTP2 with resolution DYNAMIC_DNS, got " +
                    quoted(entry.ports[i].protocol_name));
        }
      }
      if (entry.location == Location::kMeshInternal) {
        auto waypoint = entry.meta.labels.find("istio.io/use-waypoint");
        if (waypoint != entry.meta.labels.end() && !waypoint->second.empty() && waypoint->second != "none" &&
            waypoint->second != "None" && waypoint->second != "NONE") {
          error(out, "location", "MESH_INTERNAL with resolution DYNAMIC_DNS is not supported with a waypoint");
        }
      }
      break;
  }
  for (size_t i = 0; i < entry.endpoints.size(); ++i) {
    validateEndpointPorts(entry.endpoints[i], at("endpoints", i), entry, out);
  }
}

// Plain TCP carries no host name, so a proxy cannot tell several hosts apart
// unless resolution is NONE (hosts ignored).
void validateMultipleHosts(const ServiceEntry& entry, Findings& out) {
  if (entry.resolution == Resolution::kNone || entry.hosts.size() < 2) return;
  for (size_t i = 0; i < entry.ports.size(); ++i) {
    const ServicePort& port = entry.ports[i];
    if (!isHttpFamily(port.protocol) && !isTlsFamily(port.protocol)) {
      error(out, at("ports", i),
            "(" + std::to_string(port.number) + "/" +
                (port.protocol_name.empty() ? std::string("unset protocol") : port.protocol_name) +
                ") cannot tell several hosts apart: with more than one host and resolution " +
                resolutionName(entry.resolution) + ", every port must be HTTP or TLS");
      return;
    }
  }
}

void warnAnalyzerStyle(const ServiceEntry& entry, Findings& out) {
  if (entry.ports.empty()) {
    warn(out, "ports", "none listed: this ServiceEntry allows no traffic");
  }
  if (entry.resolution != Resolution::kNone || !entry.addresses.empty()) return;
  for (size_t i = 0; i < entry.ports.size(); ++i) {
    const ServicePort& port = entry.ports[i];
    if (isOpaqueProtocol(port.protocol)) {
      warn(out, at("ports", i),
           "port " + std::to_string(port.number) + " (" +
               (port.protocol_name.empty() ? std::string("protocol unset") : port.protocol_name) +
               ") with resolution NONE and no addresses allows any IP on that port");
    }
  }
}

}  // namespace

Findings validateServiceEntry(const ServiceEntry& entry) {
  Findings out = validateMeta(entry.meta);
  validateSelector(entry.workload_selector, out);
  if (entry.workload_selector && !entry.endpoints.empty()) {
    error(out, "workloadSelector", "and endpoints cannot both be set");
  }
  validateHosts(entry, out);
  validateAddresses(entry, out);
  validatePorts(entry, out);
  validateResolution(entry, out);
  validateMultipleHosts(entry, out);
  validateExportTo(entry.meta.namespace_, entry.export_to, "exportTo", out, ExportToNone::kAllowed);
  for (size_t i = 0; i < entry.subject_alt_names.size(); ++i) {
    if (entry.subject_alt_names[i].empty()) error(out, at("subjectAltNames", i), "must not be empty");
  }
  warnAnalyzerStyle(entry, out);
  return out;
}

}  // namespace egressd::policy
