#include "compiler/destinations.h"

#include <netinet/in.h>

#include "compiler/address.h"
#include "policy/protocols.h"

namespace egressd::compiler {

uint8_t l4Protocol(policy::PortProtocol protocol) {
  return protocol == policy::PortProtocol::kUdp ? IPPROTO_UDP : IPPROTO_TCP;
}

bool resolvesEndpointHostnames(const policy::ServiceEntry& entry) {
  return entry.resolution == policy::Resolution::kDns || entry.resolution == policy::Resolution::kDnsRoundRobin;
}

std::vector<Destination> serviceEntryDestinations(const policy::ServiceEntry& entry,
                                                  const std::map<std::string, std::vector<std::string>>& resolved,
                                                  std::vector<std::string>& warnings,
                                                  std::vector<std::string>& errors) {
  const std::string who = "ServiceEntry " + entry.meta.namespace_ + "/" + entry.meta.name;
  std::vector<Destination> out;

  std::vector<egressd_prefix_key> vips;
  auto addVip = [&](const std::string& text) {
    if (auto prefix = parsePrefix(text)) {
      vips.push_back(*prefix);
    } else {
      errors.push_back(who + ": address '" + text + "' is not an IP or CIDR, skipped");
    }
  };
  for (const auto& a : entry.addresses) addVip(a);
  for (const auto& a : entry.status_addresses) addVip(a);

  // Port 0 is the kernel's "any port" probe and 65535 is the last real port.
  auto validPort = [&](uint32_t port, const std::string& what) {
    if (port >= 1 && port <= 65535) return true;
    errors.push_back(who + ": " + what + " " + std::to_string(port) + " is out of range, skipped");
    return false;
  };

  const bool no_addresses = entry.addresses.empty() && entry.status_addresses.empty();
  for (const auto& port : entry.ports) {
    if (!validPort(port.number, "port")) continue;
    const uint8_t proto = l4Protocol(port.protocol);
    for (const auto& vip : vips) {
      out.push_back({vip, static_cast<uint16_t>(port.number), proto, port.number});
    }
    // HTTP and TLS ports carry the host name (Host, SNI): a sidecar matches
    // them by name, which the kernel does through the IPs DNS answers gave
    // the workload (host_classes.h). Only opaque ports match any IP.
    if (no_addresses && entry.resolution == policy::Resolution::kNone && policy::isOpaqueProtocol(port.protocol)) {
      if (proto == IPPROTO_TCP) {
        // Istio listens on 0.0.0.0:port for such an entry: any IP on that port.
        egressd_prefix_key any{};  // ::/0 also covers every v4-mapped address
        out.push_back({any, static_cast<uint16_t>(port.number), proto, port.number});
        warnings.push_back(who + ": port " + std::to_string(port.number) +
                           " has no addresses and resolution NONE: any IP is allowed on that port");
      } else {
        warnings.push_back(who + ": UDP port " + std::to_string(port.number) +
                           " has no addresses and resolution NONE: nothing is allowed by it");
      }
    }
    const bool dns_endpoints = resolvesEndpointHostnames(entry);
    if (entry.resolution != policy::Resolution::kStatic && !dns_endpoints) continue;
    for (const auto& endpoint : entry.endpoints) {
      std::vector<egressd_prefix_key> addresses;
      if (auto address = parseAddress(endpoint.address)) {
        addresses.push_back(*address);
      } else if (!dns_endpoints) {
        errors.push_back(who + ": STATIC endpoint '" + endpoint.address + "' is not an IP, skipped");
        continue;
      } else if (auto it = resolved.find(endpoint.address); it != resolved.end()) {
        for (const auto& ip : it->second) {
          if (auto a = parseAddress(ip)) addresses.push_back(*a);
        }
      }
      if (addresses.empty()) continue;  // not resolved (yet): the agent retries
      // Istio sends to the endpoint's mapped port, else targetPort, else number.
      uint32_t target = port.target_port ? port.target_port : port.number;
      if (auto it = endpoint.ports.find(port.name); !port.name.empty() && it != endpoint.ports.end()) {
        target = it->second;
      }
      if (!validPort(target, "endpoint port")) continue;
      for (const auto& address : addresses) {
        out.push_back({address, static_cast<uint16_t>(target), proto, port.number});
      }
    }
  }
  return out;
}

}  // namespace egressd::compiler
