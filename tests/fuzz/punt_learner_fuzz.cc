// libFuzzer over the agent's DNS punt learner: sequences of ring buffer
// records (UDP answers, TCP SYNs, query and answer segments with arbitrary
// sequence numbers, flags and payloads; tests/fuzz/punt_records.h) against a
// fake dns_learned store and a policy of a few host classes in two scopes.
// Besides ASan/UBSan it checks what enforcement relies on:
//  - an IP is learned only in a scope that allows the name, with host
//    classes of that scope, and the name is in the answer's bytes;
//  - over TCP, only on a connection the workload opened to that resolver
//    (its SYN, then the resolver's SYN-ACK), only for a name the workload's
//    own query segments on it carried, and at most one answer per query;
//  - never from an egress, SYN or incomplete record; TTLs clamped; no
//    duplicate class in an entry.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "compiler/host_classes.h"
#include "dns/punt_learner.h"
#include "fuzz/punt_records.h"

namespace {

using namespace egressd;
namespace pr = egressd::testing::punt_records;

constexpr uint64_t kNsPerS = 1000000000ull;
constexpr dns::TtlBounds kTtl{5, 3600};
// Scopes: 2 and 70 (another bitmap word) have hosts; 5 has none.
constexpr uint32_t kScopes[4] = {2, 70, 5, 2};

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

struct Policy {
  DesiredState desired;
  std::map<uint32_t, std::string> class_host;          // class id -> host text
  std::map<uint32_t, std::set<uint32_t>> scope_classes;  // scope -> its class ids
};

const Policy& policy() {
  static const Policy p = [] {
    Policy out;
    const std::map<std::string, std::vector<uint32_t>> grants = {
        {"example.com", {2}},      {"*.example.com", {2}}, {"www.github.com", {2}},
        {"many.example.com", {70}}, {"*.example.org", {70}},
    };
    compiler::HostTable table;
    for (const auto& [host, scopes] : grants) {
      compiler::ScopeSet set{};
      for (uint32_t s : scopes) set[s / 64] |= 1ull << (s % 64);
      table.grant(*compiler::normalizeHost(host), 443, 6, set, 0);
    }
    std::vector<std::string> errors;
    out.class_host = table.emit(out.desired, errors);
    check(errors.empty() && out.class_host.size() == grants.size(), "policy builds");
    for (const auto& [id, host] : out.class_host) {
      for (uint32_t s : grants.at(host)) out.scope_classes[s].insert(id);
    }
    return out;
  }();
  return p;
}

// "example.com" and "*.example.com" (its suffix) -> "\7example\3com\0".
std::string wireName(const std::string& host) {
  std::string text = host.rfind("*.", 0) == 0 ? host.substr(2) : host;
  std::string out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t dot = text.find('.', start);
    if (dot == std::string::npos) dot = text.size();
    out += static_cast<char>(dot - start);
    out += text.substr(start, dot - start);
    start = dot + 1;
  }
  out += '\0';
  return out;
}

// Case-insensitive search of a wire name (or a wildcard's suffix) in bytes.
bool containsName(const std::vector<uint8_t>& bytes, const std::string& wire) {
  auto eq = [](uint8_t a, char b) { return std::tolower(a) == std::tolower(static_cast<uint8_t>(b)); };
  return std::search(bytes.begin(), bytes.end(), wire.begin(), wire.end(), eq) != bytes.end();
}

class FakeStore : public dns::LearnedStore {
 public:
  Result<std::optional<egressd_dns_learned_value>> lookup(const egressd_dns_learned_key& key) override {
    auto it = entries.find(key);
    if (it == entries.end()) return std::optional<egressd_dns_learned_value>{};
    return std::optional<egressd_dns_learned_value>{it->second};
  }
  Status put(const egressd_dns_learned_key& key, const egressd_dns_learned_value& value) override {
    auto it = entries.find(key);
    puts.push_back({key, value, it == entries.end() ? std::optional<egressd_dns_learned_value>{} : it->second});
    if (fail) return Error{"map full"};
    entries[key] = value;
    return Ok{};
  }
  struct Put {
    egressd_dns_learned_key key;
    egressd_dns_learned_value value;
    std::optional<egressd_dns_learned_value> before;
  };
  AbiMap<egressd_dns_learned_key, egressd_dns_learned_value> entries;
  std::vector<Put> puts;  // during the current record
  bool fail = false;
};

// What the fuzzer knows of one connection (by cookie), to drive sequence
// numbers and to judge what the learner may learn from it.
struct Conn {
  bool opened = false;  // the workload's SYN
  bool answers_open = false;
  int resolver = 0;
  uint32_t query_next = 0, answer_next = 0;
  std::vector<uint8_t> query_bytes;   // egress payloads since the SYN
  std::vector<uint8_t> answer_bytes;  // ingress payloads since the SYN
  uint64_t answers_learned = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Policy& pol = policy();
  FakeStore store;
  dns::PuntStats stats;
  dns::PuntLearner learner(store, kTtl, stats);
  Conn conns[4];
  uint64_t now = 1000 * kNsPerS;

  for (const pr::Record& r : pr::decode(data, size)) {
    egressd_dns_punt punt{};
    const int ci = (r.op >> pr::kCookieShift) & 3;
    Conn& conn = conns[ci];
    const bool tcp = r.op & pr::kTcp, egress = r.op & pr::kEgress, syn = r.op & pr::kSyn;
    const bool incomplete = r.op & pr::kIncomplete;
    const int resolver = (r.op & pr::kOtherResolver) ? 1 : 0;
    punt.cookie = 0x1000 + ci;
    punt.scope_id = kScopes[r.ctl & pr::kScopeMask];
    punt.flags = (tcp ? EGRESSD_DNS_PUNT_F_TCP : 0) | (incomplete ? EGRESSD_DNS_PUNT_F_INCOMPLETE : 0) |
                 (egress ? EGRESSD_DNS_PUNT_F_EGRESS : 0) | (syn ? EGRESSD_DNS_PUNT_F_SYN : 0);
    punt.resolver[10] = punt.resolver[11] = 0xff;
    punt.resolver[12] = 192, punt.resolver[14] = 2, punt.resolver[15] = resolver ? 54 : 53;
    punt.resolver_port = 53;
    const size_t len = std::min(r.payload_len, sizeof(punt.payload));
    std::memcpy(punt.payload, r.payload, len);
    punt.payload_len = static_cast<uint16_t>(r.payload_len > 0xffff ? 0xffff : r.payload_len);
    punt.wire_len = static_cast<uint32_t>(r.payload_len);
    const bool in_sequence = r.op & pr::kInSequence;
    punt.tcp_seq = in_sequence && !syn ? (egress ? conn.query_next : conn.answer_next) : r.seq;
    now += uint64_t{r.advance_s} * kNsPerS;

    // The fuzzer's view before the record, for the checks after it.
    const Conn before = conn;
    if (tcp && egress && syn) {
      conn = Conn{};
      conn.opened = true;
      conn.resolver = resolver;
      conn.query_next = r.seq + 1;
    } else if (tcp && syn && conn.opened && !conn.answers_open && resolver == conn.resolver) {
      conn.answers_open = true;
      conn.answer_next = r.seq + 1;
    } else if (tcp && !syn && conn.opened && resolver == conn.resolver) {
      uint32_t& next = egress ? conn.query_next : conn.answer_next;
      if (punt.tcp_seq == next && !incomplete) {
        next += static_cast<uint32_t>(len);
        auto& bytes = egress ? conn.query_bytes : conn.answer_bytes;
        bytes.insert(bytes.end(), punt.payload, punt.payload + len);
      }
    }

    store.puts.clear();
    store.fail = r.ctl & pr::kStoreFails;
    const uint64_t answers_before = stats.snapshot()["agent_answers_learned"];
    learner.onPunt(punt, pol.desired, now);
    const uint64_t answers = stats.snapshot()["agent_answers_learned"] - answers_before;

    if (incomplete || (tcp && (egress || syn))) check(answers == 0 && store.puts.empty(), "learned from a non-answer");
    if (tcp) {
      conn.answers_learned += answers;
      if (answers > 0) {
        check(before.opened && before.answers_open && before.resolver == resolver,
              "TCP answer learned without the workload's connection to that resolver");
        // Each answer consumes one query of at least 2 + 12 + 3 + 4 bytes.
        check(conn.answers_learned * 21 <= conn.query_bytes.size(), "more answers than queries");
      }
    }
    const std::vector<uint8_t> answer_bytes =
        tcp ? conn.answer_bytes : std::vector<uint8_t>(punt.payload, punt.payload + len);
    for (const FakeStore::Put& p : store.puts) {
      check(p.key.scope_id == punt.scope_id, "learned in another scope");
      auto allowed = pol.scope_classes.find(p.key.scope_id);
      check(allowed != pol.scope_classes.end(), "learned in a scope without hosts");
      std::set<uint32_t> seen;
      for (uint32_t id : p.value.class_ids) {
        if (!id) continue;
        check(seen.insert(id).second, "duplicate class in an entry");
        check(allowed->second.count(id) == 1, "class of another scope");
        const bool carried = p.before && p.before->expires_ns > now &&
                             std::find(std::begin(p.before->class_ids), std::end(p.before->class_ids), id) !=
                                 std::end(p.before->class_ids);
        if (carried) continue;  // from an earlier answer
        const std::string& host = pol.class_host.at(id);
        const std::string wire = wireName(host);
        check(containsName(answer_bytes, wire), "learned a name the answer does not carry");
        if (tcp) check(containsName(conn.query_bytes, wire), "learned a name the workload did not ask");
      }
      check(p.value.expires_ns >= now + kTtl.min_s * kNsPerS, "TTL below the minimum");
      check(p.value.expires_ns <= now + kTtl.max_s * kNsPerS ||
                (p.before && p.value.expires_ns <= p.before->expires_ns),
            "TTL above the maximum");
    }
  }
  return 0;
}
