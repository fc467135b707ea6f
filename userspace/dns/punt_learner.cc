#include "dns/punt_learner.h"

#include <algorithm>
#include <cstring>

#include "dns/wide_parse.h"

namespace egressd::dns {
namespace {

constexpr uint64_t kNsPerS = 1000000000ull;
// A TCP stream idle this long is forgotten (resolvers close after answering).
constexpr uint64_t kTcpIdleNs = 30 * kNsPerS;
constexpr int kStatusOk = 0;
constexpr int kStatusTruncated = 2;

bool hasScope(const __u64* words, uint32_t scope_id) { return (words[scope_id / 64] >> (scope_id % 64)) & 1; }

}  // namespace

void PuntStats::add(const std::string& event, uint64_t n) {
  std::lock_guard lock(mutex_);
  counts_[event] += n;
}

std::map<std::string, uint64_t> PuntStats::snapshot() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

uint64_t PuntStats::created() const {
  std::lock_guard lock(mutex_);
  auto it = counts_.find("agent_new_entries");
  return it == counts_.end() ? 0 : it->second;
}

std::vector<uint32_t> matchHostClasses(const DesiredState& desired, uint32_t scope_id,
                                       const std::vector<uint8_t>& rname, const std::vector<uint8_t>& suffix_end,
                                       const std::vector<uint64_t>& suffix_hash) {
  std::vector<uint32_t> out;
  const int labels = static_cast<int>(suffix_hash.size());
  for (int k = labels - 1; k >= 0 && out.size() < EGRESSD_DNS_CLASSES_PER_IP; --k) {
    auto it = desired.dns_names.find(egressd_dns_name_key{suffix_hash[k]});
    if (it == desired.dns_names.end()) continue;
    const auto& v = it->second;
    const bool exact = k == labels - 1;
    const uint32_t class_id = exact ? v.exact_class : v.wildcard_class;
    if (!class_id || !hasScope(exact ? v.exact_scopes : v.wildcard_scopes, scope_id)) continue;
    const size_t n = suffix_end[k];
    if (v.rname_len != n || n > rname.size() || std::memcmp(v.rname, rname.data(), n) != 0) continue;
    out.push_back(class_id);
  }
  return out;
}

void PuntLearner::onPunt(const egressd_dns_punt& punt, const DesiredState& desired, uint64_t now_ns) {
  if (punt.flags & EGRESSD_DNS_PUNT_F_TCP) {
    onTcpSegment(punt, desired, now_ns);
    return;
  }
  if (punt.flags & EGRESSD_DNS_PUNT_F_INCOMPLETE) {
    stats_.add("agent_incomplete");  // larger than the ring buffer record
    return;
  }
  learnMessage(punt.payload, std::min<size_t>(punt.payload_len, sizeof(punt.payload)), punt.scope_id, desired,
               now_ns);
}

// DNS over TCP: 2-byte length, message, repeated. Segments are taken in
// order; a gap (loss, reordering) drops the stream: the resolver's answer
// then stays unlearned, counted, and the client's retry starts a new one.
void PuntLearner::onTcpSegment(const egressd_dns_punt& punt, const DesiredState& desired, uint64_t now_ns) {
  std::erase_if(tcp_, [&](const auto& kv) { return now_ns - kv.second.last_ns > kTcpIdleNs; });
  const size_t len = std::min<size_t>(punt.payload_len, sizeof(punt.payload));
  auto [it, fresh] = tcp_.try_emplace(punt.cookie);
  TcpStream& stream = it->second;
  if (!fresh && punt.tcp_seq != stream.next_seq) {
    if (static_cast<int32_t>(punt.tcp_seq - stream.next_seq) < 0) return;  // retransmission
    stats_.add("agent_tcp_gap");
    tcp_.erase(it);
    return;
  }
  if (punt.flags & EGRESSD_DNS_PUNT_F_INCOMPLETE) {
    stats_.add("agent_incomplete");
    tcp_.erase(it);
    return;
  }
  stream.next_seq = punt.tcp_seq + static_cast<uint32_t>(len);
  stream.last_ns = now_ns;
  stream.buffer.insert(stream.buffer.end(), punt.payload, punt.payload + len);
  while (stream.buffer.size() >= 2) {
    const size_t msg_len = (size_t{stream.buffer[0]} << 8) | stream.buffer[1];
    if (stream.buffer.size() < 2 + msg_len) break;
    learnMessage(stream.buffer.data() + 2, msg_len, punt.scope_id, desired, now_ns);
    stream.buffer.erase(stream.buffer.begin(), stream.buffer.begin() + 2 + static_cast<long>(msg_len));
  }
}

void PuntLearner::learnMessage(const uint8_t* data, size_t len, uint32_t scope_id, const DesiredState& desired,
                               uint64_t now_ns) {
  WideParse parsed = parseWide(data, len);
  if (parsed.status != kStatusOk && parsed.status != kStatusTruncated) {
    stats_.add("agent_unparsable");
    return;
  }
  auto classes = matchHostClasses(desired, scope_id, parsed.rname, parsed.suffix_end, parsed.suffix_hash);
  if (classes.empty()) {
    stats_.add("agent_name_not_allowed");
    return;
  }
  for (const auto& a : parsed.addresses) {
    const uint32_t ttl = std::clamp(a.ttl, ttl_.min_s, ttl_.max_s);
    egressd_dns_learned_key key{};
    key.scope_id = scope_id;
    std::memcpy(key.addr, a.addr, sizeof(key.addr));
    egressd_dns_learned_value next{};
    next.expires_ns = now_ns + ttl * kNsPerS;
    auto current = store_.lookup(key);
    if (current && *current) {
      const auto& cur = **current;
      if (cur.expires_ns > now_ns) {
        std::copy(std::begin(cur.class_ids), std::end(cur.class_ids), next.class_ids);
        next.expires_ns = std::max<uint64_t>(next.expires_ns, cur.expires_ns);
      }
      next.hits = cur.hits;
    } else {
      stats_.add("agent_new_entries");
    }
    for (uint32_t id : classes) {
      auto* slot = std::find_if(std::begin(next.class_ids), std::end(next.class_ids),
                                [&](uint32_t c) { return c == id || c == 0; });
      if (slot == std::end(next.class_ids)) slot = std::end(next.class_ids) - 1;
      *slot = id;
    }
    if (store_.put(key, next)) {
      stats_.add("agent_ips_learned");
    } else {
      stats_.add("agent_write_failed");
    }
  }
  stats_.add("agent_answers_learned");
}

}  // namespace egressd::dns
