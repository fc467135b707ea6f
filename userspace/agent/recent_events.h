#pragma once
// The flow events the agent saw last (new flows, denials, redirects, audits,
// as the access log writes them, before its rate limit), numbered, in a
// bounded buffer: `egressctl observe` follows it live (long polls from a
// sequence number) and `--since` first replays what it still holds.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include <nlohmann/json.hpp>

namespace egressd::agent {

class RecentEvents {
 public:
  explicit RecentEvents(size_t capacity = 10000) : capacity_(capacity) {}

  // `event` carries "time" (RFC 3339, UTC); it gets "seq".
  void add(nlohmann::json event, std::chrono::system_clock::time_point when);

  struct Batch {
    std::vector<nlohmann::json> events;
    uint64_t next = 0;     // ask from here next time
    uint64_t dropped = 0;  // events after `after` that the buffer no longer holds
  };
  // Events numbered after `after` and no older than `not_before`, waiting up
  // to `wait` for the first one. `after` = UINT64_MAX: from now on (nothing
  // buffered, only its `next`).
  Batch after(uint64_t after, std::chrono::system_clock::time_point not_before, std::chrono::milliseconds wait);
  // Wakes every waiting reader (shutdown).
  void close();

 private:
  struct Entry {
    uint64_t seq;
    std::chrono::system_clock::time_point when;
    nlohmann::json event;
  };
  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Entry> entries_;
  uint64_t next_seq_ = 1;
  bool closed_ = false;
};

}  // namespace egressd::agent
