#pragma once
// egressctl observe: flow events streamed live from the agent (new flows,
// denials, redirects, audits), like `hubble observe`, until Ctrl-C.
#include <string>

#include "common/result.h"

namespace egressd::ctl {

struct ObserveOptions {
  std::string admin_addr;
  std::string namespace_;  // only this namespace's workloads
  std::string workload;   // NS/NAME
  std::string verdict;    // allowed, denied, redirected, audit
  std::string host_glob;  // host (or IP) glob
  std::string since;      // "30s", "5m", "1h": first replay what the agent still holds
  bool json = false;      // one JSON object per line
};

// "90", "90s", "5m", "2h" -> seconds.
Result<long> parseDuration(const std::string& text);

// Streams to stdout until SIGINT/SIGTERM (then returns 0) or the agent
// cannot be reached (a message on stderr, then 1).
int observe(const ObserveOptions& options);

}  // namespace egressd::ctl
