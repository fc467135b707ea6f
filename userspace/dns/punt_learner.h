#pragma once
// Learns what the kernel punted (dns_punt ring buffer): truncated answers,
// answers beyond the kernel parser's bounds, DNS over TCP. Same rules as the
// kernel (bpf/lib/dns_learn.h): the scope's hosts by exact name or wildcard
// suffix, every A/AAAA of the question's CNAME chain, TTL clamped. NOT race-free: the answer has already
// reached the socket when the agent reads it, so a client that connects at
// once may be denied the first time (docs/DNS_LEARNING.md).
// The kernel already checked the source (trusted resolver, a unicast to the
// receiving socket) and, for UDP, the pending query. For TCP the learner
// binds answers itself: only on a connection the workload opened to that
// resolver (its SYN, by socket cookie), only in the answer stream's sequence
// from the resolver's SYN-ACK on, and only answers to a query the workload
// sent on that connection (id, type and question name), each once.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "compiler/desired_state.h"

namespace egressd::dns {

// dns_learned, as the learner sees it (the Datapath in the agent, a fake in tests).
class LearnedStore {
 public:
  virtual ~LearnedStore() = default;
  virtual Result<std::optional<egressd_dns_learned_value>> lookup(const egressd_dns_learned_key& key) = 0;
  virtual Status put(const egressd_dns_learned_key& key, const egressd_dns_learned_value& value) = 0;
};

struct TtlBounds {
  uint32_t min_s = 5;
  uint32_t max_s = 3600;
};

// Thread-safe event counts for metrics (egressd_dns_events_total{event}).
class PuntStats {
 public:
  void add(const std::string& event, uint64_t n = 1);
  std::map<std::string, uint64_t> snapshot() const;
  uint64_t created() const;  // entries the agent created (eviction estimate)

 private:
  mutable std::mutex mutex_;
  std::map<std::string, uint64_t> counts_;
};

// Which host classes of `scope_id` the question name matches, most specific
// first (at most EGRESSD_DNS_CLASSES_PER_IP), by the kernel's rule.
std::vector<uint32_t> matchHostClasses(const DesiredState& desired, uint32_t scope_id,
                                       const std::vector<uint8_t>& rname, const std::vector<uint8_t>& suffix_end,
                                       const std::vector<uint64_t>& suffix_hash);

class PuntLearner {
 public:
  PuntLearner(LearnedStore& store, TtlBounds ttl, PuntStats& stats) : store_(store), ttl_(ttl), stats_(stats) {}

  // One ring buffer record. `desired` is the policy in force.
  void onPunt(const egressd_dns_punt& punt, const DesiredState& desired, uint64_t now_ns);

 private:
  void learnMessage(const uint8_t* data, size_t len, uint32_t scope_id, const DesiredState& desired,
                    uint64_t now_ns);
  void onTcpSegment(const egressd_dns_punt& punt, const DesiredState& desired, uint64_t now_ns);

  // One direction of a connection: 2-byte length, message, repeated.
  struct TcpStream {
    bool open = false;       // its SYN was seen: next_seq is known
    uint32_t next_seq = 0;
    std::vector<uint8_t> buffer;  // bytes not yet consumed as messages
  };
  struct Question {
    uint16_t id;
    uint16_t qtype;
    std::vector<uint8_t> rname;
    bool operator==(const Question&) const = default;
  };
  // A connection the workload opened to a resolver.
  struct TcpConnection {
    uint8_t resolver[16] = {};
    uint16_t resolver_port = 0;
    TcpStream queries;  // workload -> resolver
    TcpStream answers;  // resolver -> workload
    std::vector<Question> asked;  // sent, not yet answered
    uint64_t last_ns = 0;
  };
  // Appends an in-order segment to `stream`; false (counted) when it isn't
  // the next one: a retransmission, or a gap the real stream never has
  // here (the kernel's TCP drops out-of-window segments after this hook).
  bool appendInOrder(TcpStream& stream, const egressd_dns_punt& punt);

  LearnedStore& store_;
  TtlBounds ttl_;
  PuntStats& stats_;
  std::map<uint64_t, TcpConnection> tcp_;  // by socket cookie
};

}  // namespace egressd::dns
