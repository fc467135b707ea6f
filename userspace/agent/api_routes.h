#pragma once
// JSON views of the applied policy for the admin API (egressctl's backend).
#include <nlohmann/json.hpp>
#include <string>

#include "agent/agent_state.h"
#include "common/result.h"

namespace egressd::agent {

nlohmann::json rejectionsJson(const AppliedPolicy& applied);
Result<nlohmann::json> workloadPolicyJson(const AppliedPolicy& applied, const std::string& workload);
// `to` is IP:PORT or [IPv6]:PORT; `protocol` tcp or udp.
Result<nlohmann::json> explainJson(const AppliedPolicy& applied, const std::string& workload, const std::string& to,
                                   const std::string& protocol);

}  // namespace egressd::agent
