#pragma once
// What a TLS connection's SNI changes, for `egressctl explain --sni`.
// The kernel decides at connect(), before the ClientHello is sent: on the IP
// and the hosts it learned for it. Istio's sidecar routes a TLS port on the
// SNI. This replays the sidecar's choice for the SNI on the compiled policy
// and says where the two agree, and what to do where they don't (an IP
// shared by many names, an IP not learned for the name, a gateway without a
// route for it).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compiler/compiler.h"
#include "egressd/abi.h"
#include "policy/model.h"

namespace egressd::compiler {

struct SniQuestion {
  std::string workload;  // "ns/name"
  std::string sni;
  uint16_t port = 0;
  egressd_verdict kernel_verdict = EGRESSD_VERDICT_DENIED;  // what explain computed for the IP(s)
  // Hosts the kernel knows this destination by: the learned hosts of the IP,
  // the hosts of the ServiceEntry that decided, or the host explained.
  std::vector<std::string> destination_hosts;
};

struct SniExplanation {
  std::string sni;                             // lowercased, no trailing dot
  std::optional<std::string> service_entry;    // "ns/name" registering sni on the port, visible to the workload
  std::optional<std::string> registered_host;  // its host that covers sni
  bool covers_destination = false;             // sni is one of destination_hosts (or under a wildcard of them)
  bool egress_gateway = false;                 // the workload is an egress gateway: exempt, never redirected
  egressd_verdict sidecar_verdict = EGRESSD_VERDICT_DENIED;  // a sidecar routing on the SNI
  std::optional<GatewayRoute> gateway_route;   // the route a sidecar would take for sni, if any
  bool agrees = false;                         // kernel and sidecar verdicts match (audit counts as denied)
  std::string detail;
};

// Fails on an SNI that is not a host name (an address, a wildcard, bad
// syntax) and on a workload that is not enforced.
Result<SniExplanation> explainSni(const CompileOutput& compiled, const policy::PolicySnapshot& snapshot,
                                  const SniQuestion& question);

}  // namespace egressd::compiler
