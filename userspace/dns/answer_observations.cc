#include "dns/answer_observations.h"

#include <algorithm>
#include <vector>

#include "dns/wide_parse.h"

namespace egressd::dns {

std::string dottedName(const uint8_t* rname, size_t len) {
  // Labels in reverse order: collect them, then join last to first.
  std::vector<std::string> labels;
  for (size_t i = 0; i < len;) {
    const size_t l = rname[i];
    if (l == 0 || i + 1 + l > len) break;
    labels.emplace_back(reinterpret_cast<const char*>(rname + i + 1), l);
    i += 1 + l;
  }
  std::string out;
  for (auto it = labels.rbegin(); it != labels.rend(); ++it) out += (out.empty() ? "" : ".") + *it;
  return out;
}

bool AnswerObservations::recordAnswer(const egressd_dns_punt& punt) {
  if (punt.flags & (EGRESSD_DNS_PUNT_F_TCP | EGRESSD_DNS_PUNT_F_INCOMPLETE)) return false;
  const WideParse parsed = parseWide(punt.payload, std::min<size_t>(punt.payload_len, sizeof(punt.payload)));
  if (parsed.status != kParseOk || parsed.rname.empty()) return false;
  const std::string name = dottedName(parsed.rname.data(), parsed.rname.size());
  for (const WideAddress& a : parsed.addresses) {
    Address address;
    std::copy(a.addr, a.addr + 16, address.begin());
    record(punt.scope_id, address, name);
  }
  return true;
}

void AnswerObservations::record(uint32_t scope_id, const Address& address, const std::string& name) {
  std::lock_guard lock(mutex_);
  const Key key{scope_id, address};
  if (auto it = entries_.find(key); it != entries_.end()) {
    recency_.erase(it->second.recency);
    entries_.erase(it);
  }
  recency_.push_front(key);
  entries_[key] = Entry{name, recency_.begin()};
  while (entries_.size() > capacity_) {
    entries_.erase(recency_.back());
    recency_.pop_back();
  }
}

std::optional<std::string> AnswerObservations::nameOf(uint32_t scope_id, const Address& address) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find({scope_id, address});
  if (it == entries_.end()) return std::nullopt;
  return it->second.name;
}

size_t AnswerObservations::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace egressd::dns
