#pragma once
// JSON views of the applied policy for the admin API (egressctl's backend).
#include <nlohmann/json.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/agent_state.h"
#include "bpf/datapath.h"
#include "common/result.h"

namespace egressd::agent {

nlohmann::json rejectionsJson(const AppliedPolicy& applied);
Result<nlohmann::json> workloadPolicyJson(const AppliedPolicy& applied, const std::string& workload);

// The kernel's dns_learned as explain needs it, read by the agent (explain
// itself reads no maps): one (scope, IP) entry, or all of them for a host.
struct LearnedReader {
  std::function<std::optional<egressd_dns_learned_value>(const egressd_dns_learned_key&)> lookup;
  std::function<std::vector<bpf::DnsLearnedEntry>()> all;
  uint64_t now_ns = 0;  // CLOCK_BOOTTIME, as the kernel's expiry
};

// `to` is IP:PORT, [IPv6]:PORT or HOST:PORT; `protocol` tcp or udp. For an
// IP, the (scope, IP) learned entry counts as in the kernel; for a host, each
// IP currently learned for it (exact or wildcard class) in the workload's
// scope is explained. A non-empty `sni` adds what a sidecar routing on that
// TLS SNI would decide, and whether it agrees (compiler/explain_sni.h).
Result<nlohmann::json> explainJson(const AppliedPolicy& applied, const std::string& workload, const std::string& to,
                                   const std::string& protocol, const LearnedReader& learned,
                                   const std::string& sni = "");

}  // namespace egressd::agent
