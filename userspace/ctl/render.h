#pragma once
// Human-readable tables for egressctl's default output.
#include <nlohmann/json.hpp>
#include <string>

namespace egressd::ctl {

using Renderer = std::string (*)(const nlohmann::json&);

std::string renderStatus(const nlohmann::json& status);
std::string renderPolicy(const nlohmann::json& policy);
std::string renderExplain(const nlohmann::json& explanation);
std::string renderDns(const nlohmann::json& dns);
std::string renderFlows(const nlohmann::json& flows);
std::string renderSuggest(const nlohmann::json& suggestion);
// One flow event of `egressctl observe`, on one line.
std::string renderEvent(const nlohmann::json& event);
std::string renderWorkloads(const nlohmann::json& workloads);

}  // namespace egressd::ctl
