#include "agent/recent_events.h"

namespace egressd::agent {

void RecentEvents::add(nlohmann::json event, std::chrono::system_clock::time_point when) {
  {
    std::lock_guard lock(mutex_);
    event["seq"] = next_seq_;
    entries_.push_back(Entry{next_seq_++, when, std::move(event)});
    while (entries_.size() > capacity_) entries_.pop_front();
  }
  changed_.notify_all();
}

RecentEvents::Batch RecentEvents::after(uint64_t after, std::chrono::system_clock::time_point not_before,
                                        std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  if (after == UINT64_MAX) after = next_seq_ - 1;
  changed_.wait_for(lock, wait, [&] { return closed_ || next_seq_ - 1 > after; });
  Batch batch;
  batch.next = after;
  const uint64_t oldest = entries_.empty() ? next_seq_ : entries_.front().seq;
  if (oldest > after + 1) batch.dropped = oldest - after - 1;
  for (const Entry& e : entries_) {
    if (e.seq <= after) continue;
    batch.next = e.seq;
    if (e.when >= not_before) batch.events.push_back(e.event);
  }
  if (batch.next < next_seq_ - 1) batch.next = next_seq_ - 1;
  return batch;
}

void RecentEvents::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  changed_.notify_all();
}

}  // namespace egressd::agent
