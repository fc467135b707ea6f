#pragma once
// /api/v1/events (egressctl observe): the query (where to start, how long to
// wait, which events) and the filter it applies to each event.
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace egressd::agent {

struct EventQuery {
  uint64_t after = UINT64_MAX;  // events numbered after this; UINT64_MAX: from now on
  std::chrono::seconds since{0};  // with after=0: only events this recent (0: all held)
  std::chrono::milliseconds wait{1000};
  std::string namespace_;  // only this namespace's workloads
  std::string workload;   // NS/NAME
  std::string verdict;    // allowed, denied, redirected, audit
  std::string host_glob;  // fnmatch over the host, else the destination IP

  bool matches(const nlohmann::json& event) const;
};

// ?after=N|latest&since=SECONDS&wait_ms=MS&namespace=&workload=&verdict=&host=
Result<EventQuery> parseEventQuery(const std::map<std::string, std::string>& query);

}  // namespace egressd::agent
