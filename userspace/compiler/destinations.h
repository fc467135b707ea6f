#pragma once
// What one ServiceEntry allows, independent of who sees it: every
// (prefix, port, protocol) its addresses, auto-allocated VIPs and STATIC
// endpoints open.
#include <cstdint>
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
std::vector<Destination> serviceEntryDestinations(const policy::ServiceEntry& entry,
                                                  std::vector<std::string>& warnings,
                                                  std::vector<std::string>& errors);

}  // namespace egressd::compiler
