#include "agent/access_log.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace egressd::agent {

Result<std::unique_ptr<AccessLog>> AccessLog::open(const std::string& path, double lines_per_second) {
  if (path.empty() || path == "-") return std::unique_ptr<AccessLog>(new AccessLog(stdout, false, lines_per_second));
  FILE* out = std::fopen(path.c_str(), "a");
  if (!out) return fail("--access-log " + path + ": " + std::strerror(errno));
  return std::unique_ptr<AccessLog>(new AccessLog(out, true, lines_per_second));
}

AccessLog::~AccessLog() {
  if (owned_) std::fclose(out_);
}

bool AccessLog::write(nlohmann::json line) {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  // Burst of one second's worth.
  tokens_ = std::min(rate_, tokens_ + rate_ * std::chrono::duration<double>(now - last_).count());
  last_ = now;
  if (tokens_ < 1) {
    ++pending_suppressed_;
    ++suppressed_total_;
    return false;
  }
  tokens_ -= 1;
  if (pending_suppressed_) {
    line["suppressed_before"] = pending_suppressed_;  // lines not written since the last one
    pending_suppressed_ = 0;
  }
  const std::string text = line.dump() + "\n";
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
  ++written_;
  return true;
}

}  // namespace egressd::agent
