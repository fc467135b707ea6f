#include "dns/punt_learner.h"

#include <algorithm>
#include <cstring>

#include "dns/wide_parse.h"
#include "egressd/scope_bits.h"

namespace egressd::dns {
namespace {

constexpr uint64_t kNsPerS = 1000000000ull;
// A TCP stream idle this long is forgotten (resolvers close after answering).
constexpr uint64_t kTcpIdleNs = 30 * kNsPerS;

bool hasScope(const __u64* words, uint32_t scope_id) { return egressd_scope_bit_test(words, scope_id); }

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

bool PuntLearner::appendInOrder(TcpStream& stream, const egressd_dns_punt& punt) {
  const size_t len = std::min<size_t>(punt.payload_len, sizeof(punt.payload));
  if (punt.tcp_seq != stream.next_seq) {
    stats_.add(static_cast<int32_t>(punt.tcp_seq - stream.next_seq) < 0 ? "agent_tcp_retransmit"
                                                                         : "agent_tcp_out_of_sequence");
    return false;
  }
  if (punt.flags & EGRESSD_DNS_PUNT_F_INCOMPLETE) {
    stats_.add("agent_incomplete");
    return false;
  }
  stream.next_seq = punt.tcp_seq + static_cast<uint32_t>(len);
  stream.buffer.insert(stream.buffer.end(), punt.payload, punt.payload + len);
  return true;
}

// DNS over TCP. The workload's SYN to a resolver opens a connection (by
// socket cookie); its query segments, in sequence, say what it asked; the
// resolver's SYN-ACK starts the answer sequence, and an answer is learned
// only in that sequence, on that connection, from that resolver, and only if
// it answers a question asked there (consumed). Anything else is counted and
// ignored: a segment forged with the resolver's address starts nothing and
// can't end the real stream. Segments are taken in order only: after a loss
// the stream stays stuck (counted), and the client's retry starts a new one.
void PuntLearner::onTcpSegment(const egressd_dns_punt& punt, const DesiredState& desired, uint64_t now_ns) {
  std::erase_if(tcp_, [&](const auto& kv) { return now_ns - kv.second.last_ns > kTcpIdleNs; });
  const bool egress = punt.flags & EGRESSD_DNS_PUNT_F_EGRESS;
  const bool syn = punt.flags & EGRESSD_DNS_PUNT_F_SYN;
  if (egress && syn) {  // the workload opens a connection to the resolver
    TcpConnection& c = tcp_[punt.cookie] = TcpConnection{};
    std::memcpy(c.resolver, punt.resolver, sizeof(c.resolver));
    c.resolver_port = punt.resolver_port;
    c.queries.open = true;
    c.queries.next_seq = punt.tcp_seq + 1;
    c.last_ns = now_ns;
    return;
  }
  auto it = tcp_.find(punt.cookie);
  if (it == tcp_.end() || std::memcmp(it->second.resolver, punt.resolver, sizeof(punt.resolver)) != 0 ||
      it->second.resolver_port != punt.resolver_port) {
    stats_.add("agent_tcp_no_connection");
    return;
  }
  TcpConnection& c = it->second;
  if (syn) {  // the resolver's SYN-ACK: once, before any answer
    if (c.answers.open) {
      stats_.add("agent_tcp_retransmit");
      return;
    }
    c.answers.open = true;
    c.answers.next_seq = punt.tcp_seq + 1;
    c.last_ns = now_ns;
    return;
  }
  TcpStream& stream = egress ? c.queries : c.answers;
  if (!stream.open) {
    stats_.add("agent_tcp_no_connection");
    return;
  }
  if (!appendInOrder(stream, punt)) return;
  c.last_ns = now_ns;
  while (stream.buffer.size() >= 2) {
    const size_t msg_len = (size_t{stream.buffer[0]} << 8) | stream.buffer[1];
    if (stream.buffer.size() < 2 + msg_len) break;
    const uint8_t* msg = stream.buffer.data() + 2;
    if (egress) {
      WideParse q = parseWideQuery(msg, msg_len);
      if (q.status == kParseOk && q.label_count > 0) c.asked.push_back(Question{q.id, q.qtype, q.rname});
    } else {
      WideParse a = parseWide(msg, msg_len);
      auto asked = std::find(c.asked.begin(), c.asked.end(), Question{a.id, a.qtype, a.rname});
      if (a.label_count == 0 || asked == c.asked.end()) {
        stats_.add("agent_tcp_unasked");
      } else {
        c.asked.erase(asked);
        learnMessage(msg, msg_len, punt.scope_id, desired, now_ns);
      }
    }
    stream.buffer.erase(stream.buffer.begin(), stream.buffer.begin() + 2 + static_cast<long>(msg_len));
  }
}

void PuntLearner::learnMessage(const uint8_t* data, size_t len, uint32_t scope_id, const DesiredState& desired,
                               uint64_t now_ns) {
  WideParse parsed = parseWide(data, len);
  if (parsed.status != kParseOk && parsed.status != kParseTruncated) {
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
