#pragma once
// What one ServiceEntry allows, independent of who sees it: every
// (prefix, port, protocol) its addresses, auto-allocated VIPs and STATIC
// endpoints open.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "egressd/abi.h"
#include "policy/model.h"

namespace egressd::compiler {

uint8_t l4Protocol(policy::PortProtocol protocol);  // UDP -> 17, everything else TCP 6

struct Destination {
  egressd_prefix_key prefix;
  uint16_t port;            // where the connection goes (an endpoint's target port)
  uint8_t protocol;         // IPPROTO_TCP / IPPROTO_UDP
  uint32_t service_port;    // the ServicePort.number it came from (Sidecar listener ports)
};

// Messages name the entry; the caller prefixes nothing.
// `resolved` maps endpoint hostnames to IPs (CompileOptions::resolved_endpoints).
std::vector<Destination> serviceEntryDestinations(const policy::ServiceEntry& entry,
                                                  const std::map<std::string, std::vector<std::string>>& resolved,
                                                  std::vector<std::string>& warnings,
                                                  std::vector<std::string>& errors);

// True when the entry's endpoints are hostnames the proxy resolves itself.
bool resolvesEndpointHostnames(const policy::ServiceEntry& entry);

}  // namespace egressd::compiler
