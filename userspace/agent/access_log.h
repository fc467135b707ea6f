#pragma once
// The access log: one JSON line per kernel event (new flow, denial, redirect,
// audit) to stdout or a file. A token bucket bounds the lines per second;
// suppressed lines are counted (and reported in the next line written), the
// per-flow counts stay exact in the flows map and the metrics.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace egressd::agent {

class AccessLog {
 public:
  // path empty or "-": stdout.
  static Result<std::unique_ptr<AccessLog>> open(const std::string& path, double lines_per_second);
  ~AccessLog();

  // Writes the line unless over the rate; returns whether it was written.
  bool write(nlohmann::json line);
  uint64_t written() const { return written_; }
  uint64_t suppressed() const { return suppressed_total_; }

 private:
  AccessLog(FILE* out, bool owned, double rate) : out_(out), owned_(owned), rate_(rate), tokens_(rate) {}
  FILE* out_;
  bool owned_;
  double rate_;
  double tokens_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
  uint64_t pending_suppressed_ = 0;
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> suppressed_total_{0};
  std::mutex mutex_;
};

}  // namespace egressd::agent
