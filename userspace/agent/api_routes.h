#pragma once
// JSON views of the applied policy for the admin API (egressctl's backend).
#include <nlohmann/json.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/agent_state.h"
#include "agent/tc_attachments.h"
#include "kube/pod_cgroups.h"
#include "bpf/datapath.h"
#include "common/result.h"

namespace egressd::agent {

nlohmann::json rejectionsJson(const AppliedPolicy& applied);

// What `egressctl workloads` lists: every workload the agent knows (this
// node's pods, local Workloads) with its state (enforced, excluded, waiting
// for its cgroup, not enforced), scope, mode, audit and TC backstop; then
// the pod cgroups found in the QoS directories that no Pod names (state
// "unknown cgroup", what --unknown-pods does to them).
struct WorkloadsView {
  std::vector<TcInterfaceStatus> tc;  // of the TC attachments, when there are
  bool tc_off = false;                // --tc-mode off
  std::vector<kube::FoundPodCgroup> pod_cgroups;  // Kubernetes mode: what is in the QoS directories
  std::string unknown_pods = "deny";
};
nlohmann::json workloadsJson(const AppliedPolicy& applied, const WorkloadsView& view);
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
