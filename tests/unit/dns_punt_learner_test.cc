// The agent's side of DNS learning: what the kernel punts (UDP beyond its
// bounds, truncated answers, DNS over TCP) learned with the kernel's rules,
// and the `egressctl dns` view.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "agent/dns_view.h"
#include "compiler/host_classes.h"
#include "dns/punt_learner.h"
#include "fixtures/dns_answers.h"
#include "fixtures/dns_fixture_util.h"

namespace egressd::testing {
namespace {

constexpr uint32_t kScope = 2;
constexpr uint64_t kNow = 1000ull * 1000000000ull;

class FakeLearned : public dns::LearnedStore {
 public:
  Result<std::optional<egressd_dns_learned_value>> lookup(const egressd_dns_learned_key& key) override {
    auto it = entries.find(key);
    if (it == entries.end()) return std::optional<egressd_dns_learned_value>{};
    return std::optional<egressd_dns_learned_value>{it->second};
  }
  Status put(const egressd_dns_learned_key& key, const egressd_dns_learned_value& value) override {
    entries[key] = value;
    return Ok{};
  }
  AbiMap<egressd_dns_learned_key, egressd_dns_learned_value> entries;
};

std::vector<uint8_t> fixtureBytes(const std::string& description) {
  for (const auto& f : dnsAnswerFixtures()) {
    if (f.description == description) return hexToBytes(f.hex);
  }
  ADD_FAILURE() << description;
  return {};
}

DesiredState policyFor(const std::vector<std::string>& hosts, std::map<uint32_t, std::string>* classes = nullptr) {
  compiler::HostTable table;
  compiler::ScopeSet scopes{};
  scopes[kScope / 64] |= 1ull << (kScope % 64);
  for (const auto& h : hosts) table.grant(*compiler::normalizeHost(h), 443, 6, scopes, 0);
  DesiredState desired;
  std::vector<std::string> errors;
  auto ids = table.emit(desired, errors);
  if (classes) *classes = ids;
  return desired;
}

egressd_dns_punt udpPunt(const std::vector<uint8_t>& message) {
  egressd_dns_punt p{};
  p.cookie = 7;
  p.scope_id = kScope;
  p.payload_len = static_cast<uint16_t>(message.size());
  p.wire_len = static_cast<uint32_t>(message.size());
  std::memcpy(p.payload, message.data(), message.size());
  return p;
}

class DnsPuntLearnerTest : public ::testing::Test {
 protected:
  FakeLearned store_;
  dns::PuntStats stats_;
  dns::PuntLearner learner_{store_, dns::TtlBounds{5, 3600}, stats_};
};

TEST_F(DnsPuntLearnerTest, LearnsAnswersBeyondTheKernelBounds) {
  auto desired = policyFor({"many.example.com"});
  learner_.onPunt(udpPunt(fixtureBytes("17 A records: beyond the bound, punted")), desired, kNow);
  EXPECT_EQ(store_.entries.size(), 17u);
  for (const auto& [key, value] : store_.entries) {
    EXPECT_EQ(key.scope_id, kScope);
    EXPECT_EQ(value.expires_ns, kNow + 30ull * 1000000000ull);
  }
  EXPECT_EQ(stats_.snapshot()["agent_ips_learned"], 17u);
  EXPECT_EQ(stats_.created(), 17u);
}

TEST_F(DnsPuntLearnerTest, SameNameRulesAsTheKernel) {
  auto desired = policyFor({"*.example.com"});
  learner_.onPunt(udpPunt(fixtureBytes("A record, answer owner compressed")), desired, kNow);  // the apex
  EXPECT_TRUE(store_.entries.empty());
  EXPECT_EQ(stats_.snapshot()["agent_name_not_allowed"], 1u);
  learner_.onPunt(udpPunt(fixtureBytes("TTL 0 is reported as 0")), desired, kNow);  // zero.example.com
  ASSERT_EQ(store_.entries.size(), 1u);
  EXPECT_EQ(store_.entries.begin()->second.expires_ns, kNow + 5ull * 1000000000ull);  // min TTL
}

TEST_F(DnsPuntLearnerTest, OtherScopesLearnNothing) {
  auto desired = policyFor({"many.example.com"});
  auto punt = udpPunt(fixtureBytes("16 A records: the bound, all kept"));
  punt.scope_id = kScope + 1;
  learner_.onPunt(punt, desired, kNow);
  EXPECT_TRUE(store_.entries.empty());
}

// The query the client sent for an answer: its header (QR clear, no
// records) and question.
std::vector<uint8_t> queryFor(const std::vector<uint8_t>& answer) {
  auto parsed = parseTwin(answer);
  std::vector<uint8_t> q(answer.begin(), answer.begin() + parsed.st.qend + 4);
  q[2] = 0x01, q[3] = 0;
  q[6] = q[7] = q[8] = q[9] = q[10] = q[11] = 0;
  return q;
}

// DNS over TCP framing: 2-byte length, message.
std::vector<uint8_t> framed(const std::vector<uint8_t>& message) {
  // Sized once, then filled: g++ 12's -Warray-bounds misreads a grow-by-insert
  // of a 2-byte vector.
  std::vector<uint8_t> out(2 + message.size());
  out[0] = static_cast<uint8_t>(message.size() >> 8);
  out[1] = static_cast<uint8_t>(message.size());
  std::copy(message.begin(), message.end(), out.begin() + 2);
  return out;
}

// Segments of one DNS-over-TCP connection (cookie 7) to the resolver
// 192.0.2.53:53: client ISN 100, resolver ISN 5000.
struct TcpConn {
  uint64_t cookie = 7;
  const char* resolver = "192.0.2.53";
  egressd_dns_punt segment(bool egress, bool syn, uint32_t seq, const std::vector<uint8_t>& bytes) const {
    auto p = udpPunt(bytes);
    p.cookie = cookie;
    p.flags = EGRESSD_DNS_PUNT_F_TCP | (egress ? EGRESSD_DNS_PUNT_F_EGRESS : 0) | (syn ? EGRESSD_DNS_PUNT_F_SYN : 0);
    p.tcp_seq = seq;
    auto a = mappedAddr(resolver);
    std::memcpy(p.resolver, a.data(), 16);
    p.resolver_port = 53;
    return p;
  }
  egressd_dns_punt syn() const { return segment(true, true, 100, {}); }
  egressd_dns_punt synAck() const { return segment(false, true, 5000, {}); }
  egressd_dns_punt query(const std::vector<uint8_t>& q, uint32_t offset = 0) const {
    return segment(true, false, 101 + offset, framed(q));
  }
  egressd_dns_punt answer(const std::vector<uint8_t>& bytes, uint32_t offset = 0) const {
    return segment(false, false, 5001 + offset, bytes);
  }
};

TEST_F(DnsPuntLearnerTest, TcpStreamIsReassembledInOrder) {
  auto desired = policyFor({"www.example.org"});
  auto message = fixtureBytes("four A records (the benchmark packet)");
  const auto stream = framed(message);
  const TcpConn conn;
  learner_.onPunt(conn.syn(), desired, kNow);
  learner_.onPunt(conn.synAck(), desired, kNow);
  learner_.onPunt(conn.query(queryFor(message)), desired, kNow);
  // Three segments, the middle one retransmitted.
  const size_t cut1 = 1, cut2 = 40;
  auto segment = [&](size_t from, size_t to) {
    return conn.answer(std::vector<uint8_t>(stream.begin() + from, stream.begin() + to), static_cast<uint32_t>(from));
  };
  learner_.onPunt(segment(0, cut1), desired, kNow);
  learner_.onPunt(segment(cut1, cut2), desired, kNow);
  learner_.onPunt(segment(cut1, cut2), desired, kNow);
  EXPECT_TRUE(store_.entries.empty());
  learner_.onPunt(segment(cut2, stream.size()), desired, kNow);
  EXPECT_EQ(store_.entries.size(), 4u);
  EXPECT_EQ(stats_.snapshot()["agent_tcp_retransmit"], 1u);
}

// Issue 12 item 6: a segment with the resolver's address is learned only on
// a connection the workload opened to it, in the answer sequence, answering
// a question asked on that connection, once.
TEST_F(DnsPuntLearnerTest, TcpAnswerMustBeBoundToConnectionSequenceAndQuery) {
  auto desired = policyFor({"www.example.org"});
  const auto message = fixtureBytes("four A records (the benchmark packet)");
  const auto stream = framed(message);
  struct Case {
    const char* name;
    std::vector<egressd_dns_punt> segments;
    const char* counted;
  };
  TcpConn conn;
  TcpConn other = conn;
  other.cookie = 8;
  TcpConn other_resolver = conn;
  other_resolver.resolver = "192.0.2.54";
  auto query = queryFor(message);
  auto other_id = query;
  other_id[1] ^= 1;
  auto other_type = query;
  other_type[other_type.size() - 3] = 28;  // AAAA
  const std::vector<Case> cases = {
      {"no connection: a segment alone", {conn.answer(stream)}, "agent_tcp_no_connection"},
      {"no connection: a SYN-ACK and a segment", {conn.synAck(), conn.answer(stream)}, "agent_tcp_no_connection"},
      {"another socket's connection", {other.syn(), other.synAck(), other.query(query), conn.answer(stream)},
       "agent_tcp_no_connection"},
      {"a connection to another resolver",
       {other_resolver.syn(), other_resolver.synAck(), other_resolver.query(query), conn.answer(stream)},
       "agent_tcp_no_connection"},
      {"no SYN-ACK yet", {conn.syn(), conn.query(query), conn.answer(stream)}, "agent_tcp_no_connection"},
      {"nothing asked", {conn.syn(), conn.synAck(), conn.answer(stream)}, "agent_tcp_unasked"},
      {"another id asked", {conn.syn(), conn.synAck(), conn.query(other_id), conn.answer(stream)}, "agent_tcp_unasked"},
      {"another type asked", {conn.syn(), conn.synAck(), conn.query(other_type), conn.answer(stream)},
       "agent_tcp_unasked"},
      {"ahead of the sequence", {conn.syn(), conn.synAck(), conn.query(query), conn.answer(stream, 1000)},
       "agent_tcp_out_of_sequence"},
      {"behind the sequence", {conn.syn(), conn.synAck(), conn.query(query), conn.answer(stream, uint32_t(-1000))},
       "agent_tcp_retransmit"},
      {"the query out of sequence", {conn.syn(), conn.synAck(), conn.query(query, 7), conn.answer(stream)},
       "agent_tcp_unasked"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    FakeLearned store;
    dns::PuntStats stats;
    dns::PuntLearner learner{store, dns::TtlBounds{5, 3600}, stats};
    for (const auto& seg : c.segments) learner.onPunt(seg, desired, kNow);
    EXPECT_TRUE(store.entries.empty());
    EXPECT_GE(stats.snapshot()[c.counted], 1u) << c.counted;
  }
}

TEST_F(DnsPuntLearnerTest, TcpQueryIsAnsweredOnceAndForgeriesDontEndTheStream) {
  auto desired = policyFor({"www.example.org"});
  const auto message = fixtureBytes("four A records (the benchmark packet)");
  const auto stream = framed(message);
  const TcpConn conn;
  learner_.onPunt(conn.syn(), desired, kNow);
  learner_.onPunt(conn.synAck(), desired, kNow);
  learner_.onPunt(conn.query(queryFor(message)), desired, kNow);
  auto forged = stream;
  forged[forged.size() - 1] ^= 0x55;  // another address
  learner_.onPunt(conn.answer(forged, 12345), desired, kNow);  // a blind forgery: wrong sequence
  EXPECT_TRUE(store_.entries.empty());
  learner_.onPunt(conn.answer(stream), desired, kNow);  // the real answer still learns
  EXPECT_EQ(store_.entries.size(), 4u);
  // The same answer again, in sequence, answers no question: consumed.
  learner_.onPunt(conn.answer(stream, static_cast<uint32_t>(stream.size())), desired, kNow);
  EXPECT_EQ(stats_.snapshot()["agent_tcp_unasked"], 1u);
  EXPECT_EQ(stats_.snapshot()["agent_answers_learned"], 1u);
}

TEST_F(DnsPuntLearnerTest, NewNameKeepsTheHostsAlreadyLearnedForTheIp) {
  std::map<uint32_t, std::string> classes;
  auto desired = policyFor({"example.com", "www.example.com"}, &classes);
  auto a = fixtureBytes("A record, answer owner compressed");  // example.com -> 93.184.216.34
  auto b = fixtureBytes("mixed-case question is lowercased");  // www.example.com -> 192.0.2.1
  std::copy_n(a.end() - 4, 4, b.end() - 4);                   // same IP
  learner_.onPunt(udpPunt(a), desired, kNow);
  learner_.onPunt(udpPunt(b), desired, kNow);
  ASSERT_EQ(store_.entries.size(), 1u);
  const auto& v = store_.entries.begin()->second;
  EXPECT_NE(v.class_ids[0], 0u);
  EXPECT_NE(v.class_ids[1], 0u);
  EXPECT_NE(v.class_ids[0], v.class_ids[1]);
}

TEST(DnsView, NamesScopesTtlAndExpiry) {
  agent::AppliedPolicy applied;
  applied.compiled.host_classes[11] = "api.example.com";
  compiler::CompiledScope scope;
  scope.id = 4;
  scope.key = "production|";
  applied.compiled.scopes.push_back(scope);
  std::vector<bpf::DnsLearnedEntry> entries(2);
  entries[0].key.scope_id = 4;
  entries[0].key.addr[10] = entries[0].key.addr[11] = 0xff;
  entries[0].key.addr[12] = 192;
  entries[0].key.addr[15] = 7;
  entries[0].value.class_ids[0] = 11;
  entries[0].value.class_ids[1] = 99;
  entries[0].value.expires_ns = kNow + 42ull * 1000000000ull;
  entries[0].value.hits = 3;
  entries[1] = entries[0];
  entries[1].key.addr[15] = 8;
  entries[1].value.expires_ns = kNow - 1;
  auto out = agent::dnsLearnedJson(&applied, entries, kNow, false);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["ip"], "192.0.0.7");
  EXPECT_EQ(out[0]["scope"], "production|");
  EXPECT_EQ(out[0]["ttl_seconds"], 42);
  EXPECT_EQ(out[0]["hits"], 3);
  EXPECT_EQ(out[0]["names"][0], "api.example.com");
  EXPECT_EQ(out[0]["names"][1], "(removed host 99)");
  EXPECT_EQ(agent::dnsLearnedJson(&applied, entries, kNow, true).size(), 2u);
}

}  // namespace
}  // namespace egressd::testing
