#pragma once
// Kernel flows and events as people read them: the workload's name instead of
// its cgroup id, the destination's host when the policy knows it (a learned
// DNS name or the deciding ServiceEntry), and which object decided.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/agent_state.h"
#include "egressd/abi.h"

namespace egressd::agent {

struct FlowLabels {
  std::string workload;  // "ns/name"; "cgroup:<id>" when no workload has the id
  std::string namespace_;
  std::string name;
  // Its workload as Istio's telemetry names it (source_workload): a pod's
  // Deployment, StatefulSet..., a local Workload's name; bounded by design.
  std::string source_workload;
  std::string ip;
  uint16_t port = 0;
  std::string protocol;
  std::optional<std::string> host;           // learned DNS name or ServiceEntry host
  std::optional<std::string> service_entry;  // "ns/name" that allowed it
  std::optional<std::string> sidecar;        // "ns/name" of the scope's Sidecar
  std::string scope;
};

// (scope, IP) -> learned host class ids, from dns_learned.
using LearnedClasses = std::function<std::vector<uint32_t>(uint32_t scope_id, const uint8_t (&addr)[16])>;

FlowLabels describeFlow(const AppliedPolicy* applied, uint64_t cgroup_id, const uint8_t (&addr)[16], uint16_t port,
                        uint8_t protocol, uint32_t scope_id, const LearnedClasses& learned);

// Bounded metric label: the host, else Istio's catch-all cluster names.
std::string destinationService(const FlowLabels& labels, egressd_verdict verdict);

std::string addressText(const uint8_t (&addr)[16]);

}  // namespace egressd::agent
