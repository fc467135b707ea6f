#include "agent/event_query.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>

namespace egressd::agent {
namespace {

// A decimal number no larger than `max`, or nullopt.
std::optional<uint64_t> number(const std::string& text, uint64_t max) {
  if (text.empty() || text.size() > 19 || !std::all_of(text.begin(), text.end(), ::isdigit)) return std::nullopt;
  const uint64_t value = std::stoull(text);
  if (value > max) return std::nullopt;
  return value;
}

constexpr uint64_t kMaxWaitMs = 10000;

}  // namespace

Result<EventQuery> parseEventQuery(const std::map<std::string, std::string>& query) {
  EventQuery out;
  const auto get = [&](const char* key) { return query.count(key) ? query.at(key) : std::string(); };
  if (const std::string after = get("after"); !after.empty() && after != "latest") {
    auto n = number(after, UINT64_MAX - 1);
    if (!n) return fail("after=" + after + ": expected a sequence number or latest");
    out.after = *n;
  }
  if (const std::string since = get("since"); !since.empty()) {
    auto n = number(since, 365ull * 24 * 3600);
    if (!n) return fail("since=" + since + ": expected seconds");
    out.since = std::chrono::seconds(*n);
  }
  if (const std::string wait = get("wait_ms"); !wait.empty()) {
    auto n = number(wait, kMaxWaitMs);
    if (!n) return fail("wait_ms=" + wait + ": expected 0-" + std::to_string(kMaxWaitMs));
    out.wait = std::chrono::milliseconds(*n);
  }
  out.namespace_ = get("namespace");
  out.workload = get("workload");
  out.verdict = get("verdict");
  if (!out.verdict.empty() && out.verdict != "allowed" && out.verdict != "denied" && out.verdict != "redirected" &&
      out.verdict != "audit")
    return fail("verdict=" + out.verdict + ": expected allowed, denied, redirected or audit");
  out.host_glob = get("host");
  return out;
}

bool EventQuery::matches(const nlohmann::json& event) const {
  if (!namespace_.empty() && event.value("namespace", "") != namespace_) return false;
  if (!workload.empty() && event.value("workload", "") != workload) return false;
  if (!verdict.empty() && event.value("verdict", "") != verdict) return false;
  if (!host_glob.empty()) {
    const auto& host = event.contains("host") ? event["host"] : nlohmann::json();
    const std::string name = host.is_string() ? host.get<std::string>() : event.value("destination_ip", "");
    if (fnmatch(host_glob.c_str(), name.c_str(), 0) != 0) return false;
  }
  return true;
}

}  // namespace egressd::agent
