// The kernel's DNS learning (bpf/lib/dns_learn.h) under BPF_PROG_TEST_RUN:
// the query goes through the egress program, the answer through the ingress
// program, both with one fixed socket cookie (bpf/dns_learn_test.bpf.c), and
// dns_learned and the counters are compared with the case table
// (tests/fixtures/dns_learn_cases.h). The test-run socket belongs to this
// process's cgroup, registered as the workload. IPv4 and IPv6 transports.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bpf/cgroup.h"
#include "compiler/host_classes.h"
#include "dns_learn_test.skel.h"
#include "fixtures/dns_answers.h"
#include "fixtures/dns_fixture_util.h"
#include "fixtures/dns_learn_cases.h"
#include "fixtures/dns_packets.h"
#include "kernel/kernel_env.h"

namespace egressd::testing {
namespace {

using ktest::bootNs;

constexpr uint32_t kScope = 3;

struct SkelDeleter {
  void operator()(dns_learn_test* s) const { dns_learn_test__destroy(s); }
};

const DnsFixture& fixtureNamed(const std::string& description) {
  for (const auto& f : dnsAnswerFixtures()) {
    if (f.description == description) return f;
  }
  ADD_FAILURE() << "no fixture " << description;
  static const DnsFixture none{};
  return none;
}

uint64_t ownCgroupId() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) {
      auto id = bpf::cgroupIdOf(bpf::cgroup2MountRoot() + line.substr(3));
      return id ? *id : 0;
    }
  }
  return 0;
}

std::array<uint8_t, 16> mapped(const std::string& ip) {
  std::array<uint8_t, 16> out{};
  if (ip.find(':') != std::string::npos) {
    inet_pton(AF_INET6, ip.c_str(), out.data());
  } else {
    out[10] = out[11] = 0xff;
    inet_pton(AF_INET, ip.c_str(), out.data() + 12);
  }
  return out;
}

// The query the client sent for the fixture's answer: header (QR clear,
// no answers) and the same question section.
std::vector<uint8_t> queryFor(const std::vector<uint8_t>& answer, int id_delta) {
  auto parsed = parseTwin(answer);
  std::vector<uint8_t> q(answer.begin(), answer.begin() + parsed.st.qend + 4);
  const uint16_t id = static_cast<uint16_t>(parsed.id + id_delta);
  q[0] = static_cast<uint8_t>(id >> 8);
  q[1] = static_cast<uint8_t>(id);
  q[2] = 0x01;  // RD
  q[3] = 0x00;
  q[6] = q[7] = 0;  // ancount
  q[10] = q[11] = 0;  // arcount
  return q;
}

class DnsLearnKernelTest : public ::testing::TestWithParam<std::tuple<DnsLearnCase, int>> {
 protected:
  void SetUp() override {
    EGRESSD_REQUIRE_KERNEL();
    skel_.reset(dns_learn_test__open_and_load());
    ASSERT_TRUE(skel_) << "load dns_learn_test: " << std::strerror(errno);
    const uint64_t cgroup = ownCgroupId();
    ASSERT_NE(cgroup, 0u);
    egressd_workload_key wk{cgroup};
    egressd_workload_value wv{kScope, 0};
    ASSERT_EQ(0, bpf_map_update_elem(bpf_map__fd(skel_->maps.workloads), &wk, &wv, BPF_ANY));
    for (const char* resolver : {kResolver4, kResolver6}) {
      egressd_dns_server_key sk{};
      auto a = mapped(resolver);
      std::copy(a.begin(), a.end(), sk.addr);
      sk.port = 53;
      egressd_dns_server_value sv{};
      ASSERT_EQ(0, bpf_map_update_elem(bpf_map__fd(skel_->maps.dns_servers), &sk, &sv, BPF_ANY));
    }
  }

  // Writes the hosts the way the compiler does (HostTable), for kScope.
  void allowHosts(const std::vector<std::string>& hosts) {
    compiler::HostTable table;
    for (const auto& text : hosts) {
      auto host = compiler::normalizeHost(text);
      ASSERT_TRUE(host) << text;
      compiler::ScopeSet scopes{};
      scopes[kScope / 64] |= 1ull << (kScope % 64);
      table.grant(*host, 80, 6, scopes, 0);
    }
    DesiredState desired;
    std::vector<std::string> errors;
    classes_ = table.emit(desired, errors);
    ASSERT_TRUE(errors.empty());
    for (const auto& [key, value] : desired.dns_names) {
      ASSERT_EQ(0, bpf_map_update_elem(bpf_map__fd(skel_->maps.dns_names), &key, &value, BPF_ANY));
    }
  }

  int run(int prog_fd, const std::vector<uint8_t>& frame, bool on_loopback = false) {
    __sk_buff ctx{};
    ctx.ingress_ifindex = on_loopback ? 1 : 7;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_size_in = static_cast<uint32_t>(frame.size()),
                .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
    EXPECT_EQ(0, bpf_prog_test_run_opts(prog_fd, &opts)) << std::strerror(errno);
    return static_cast<int>(opts.retval);
  }

  uint64_t counter(egressd_dns_counter c) {
    std::vector<uint64_t> per_cpu(static_cast<size_t>(libbpf_num_possible_cpus()));
    uint32_t key = c;
    EXPECT_EQ(0, bpf_map_lookup_elem(bpf_map__fd(skel_->maps.dns_counters), &key, per_cpu.data()));
    uint64_t sum = 0;
    for (auto v : per_cpu) sum += v;
    return sum;
  }

  std::vector<std::pair<egressd_dns_learned_key, egressd_dns_learned_value>> learned() {
    std::vector<std::pair<egressd_dns_learned_key, egressd_dns_learned_value>> out;
    const int fd = bpf_map__fd(skel_->maps.dns_learned);
    egressd_dns_learned_key key{}, next{};
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
      key = next;
      prev = &key;
      egressd_dns_learned_value v{};
      if (bpf_map_lookup_elem(fd, &key, &v) == 0) out.emplace_back(key, v);
    }
    return out;
  }

  std::unique_ptr<dns_learn_test, SkelDeleter> skel_;
  std::map<uint32_t, std::string> classes_;
};

TEST_P(DnsLearnKernelTest, LearnsExactlyWhatTheTableSays) {
  const auto& [c, family] = GetParam();
  allowHosts(c.hosts);
  const auto answer = hexToBytes(fixtureNamed(c.fixture).hex);
  if (c.send_query) {
    EXPECT_EQ(1, run(bpf_program__fd(skel_->progs.dns_learn_egress), udpFrame(family, queryFor(answer, c.query_id_delta), true)));
    EXPECT_EQ(counter(EGRESSD_DNS_QUERIES), 1u);
  }
  const char* source = c.answer_source;
  std::string source6;
  if (source && family == 6) source6 = "2001:db8::99", source = source6.c_str();
  auto frame = udpFrame(family, answer, false, source);
  switch (c.delivery) {
    case Delivery::kBroadcast:
      std::fill_n(frame.begin(), 6, 0xff);
      break;
    case Delivery::kMulticast:  // 01:00:5e:00:00:fb, 33:33:00:00:00:fb
      frame[0] = family == 4 ? 0x01 : 0x33, frame[1] = family == 4 ? 0x00 : 0x33, frame[2] = family == 4 ? 0x5e : 0x00;
      frame[5] = 0xfb;
      break;
    case Delivery::kOtherAddress: {  // bound to 10.0.0.3 / fd00::3, the answer is to .2 / ::2
      auto other = mapped(family == 4 ? "10.0.0.3" : "fd00::3");
      std::memcpy(const_cast<__u32*>(skel_->bss->test_local_addr), other.data(), 16);
      break;
    }
    case Delivery::kBoundAddress: {
      auto own = mapped(family == 4 ? "10.0.0.2" : "fd00::2");
      std::memcpy(const_cast<__u32*>(skel_->bss->test_local_addr), own.data(), 16);
      break;
    }
    case Delivery::kOtherPort:
      skel_->data->test_local_port = kClientPort + 1;
      break;
    default:
      break;
  }
  const uint64_t before = bootNs();
  EXPECT_EQ(1, run(bpf_program__fd(skel_->progs.dns_learn_ingress), frame, c.delivery == Delivery::kLoopback))
      << "DNS is never dropped";
  EXPECT_EQ(counter(c.counter), 1u) << "counter " << c.counter;

  auto entries = learned();
  std::set<std::array<uint8_t, 16>> got, want;
  for (const auto& [key, value] : entries) {
    std::array<uint8_t, 16> a;
    std::copy(std::begin(key.addr), std::end(key.addr), a.begin());
    got.insert(a);
    EXPECT_EQ(key.scope_id, kScope);
    EXPECT_NE(value.class_ids[0], 0u);
    EXPECT_TRUE(classes_.count(value.class_ids[0]));
    const uint64_t ttl_ns = value.expires_ns - before;
    EXPECT_GE(ttl_ns, uint64_t{c.ttl_seconds} * 1000000000ull);
    EXPECT_LT(ttl_ns, (uint64_t{c.ttl_seconds} + 2) * 1000000000ull);
  }
  for (const auto& ip : c.learned) want.insert(mapped(ip));
  EXPECT_EQ(got, want);
  EXPECT_EQ(counter(EGRESSD_DNS_IPS_LEARNED), c.learned.size());
}

INSTANTIATE_TEST_SUITE_P(Table, DnsLearnKernelTest,
                         ::testing::Combine(::testing::ValuesIn(dnsLearnCases()), ::testing::Values(4, 6)),
                         [](const auto& info) {
                           std::string name = "v" + std::to_string(std::get<1>(info.param)) + "_";
                           for (char ch : std::get<0>(info.param).description)
                             name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return name;
                         });

class DnsLearnKernelFlowTest : public DnsLearnKernelTest {};

// The answer consumes its query: a replay of the same answer learns nothing.
TEST_F(DnsLearnKernelFlowTest, AnswerConsumesItsQuery) {
  allowHosts({"example.com"});
  const auto answer = hexToBytes(fixtureNamed("A record, answer owner compressed").hex);
  run(bpf_program__fd(skel_->progs.dns_learn_egress), udpFrame(4, queryFor(answer, 0), true));
  run(bpf_program__fd(skel_->progs.dns_learn_ingress), udpFrame(4, answer));
  run(bpf_program__fd(skel_->progs.dns_learn_ingress), udpFrame(4, answer));
  EXPECT_EQ(counter(EGRESSD_DNS_ANSWERS_LEARNED), 1u);
  EXPECT_EQ(counter(EGRESSD_DNS_REJECTED_NO_QUERY), 1u);
}

// Another socket's query does not open this socket's answer.
TEST_F(DnsLearnKernelFlowTest, QueryOfAnotherSocketDoesNotCount) {
  allowHosts({"example.com"});
  const auto answer = hexToBytes(fixtureNamed("A record, answer owner compressed").hex);
  run(bpf_program__fd(skel_->progs.dns_learn_egress), udpFrame(4, queryFor(answer, 0), true));
  skel_->data->test_cookie = 2;
  run(bpf_program__fd(skel_->progs.dns_learn_ingress), udpFrame(4, answer));
  EXPECT_EQ(counter(EGRESSD_DNS_REJECTED_NO_QUERY), 1u);
  EXPECT_TRUE(learned().empty());
}

// A workload sending as the resolver is dropped on the way out.
TEST_F(DnsLearnKernelFlowTest, SpoofedResolverSourceIsDropped) {
  const auto answer = hexToBytes(fixtureNamed("A record, answer owner compressed").hex);
  EXPECT_EQ(0, run(bpf_program__fd(skel_->progs.dns_learn_egress), udpFrame(4, answer)));
  EXPECT_EQ(counter(EGRESSD_DNS_SPOOFED), 1u);
}

// Two hosts resolving to one IP: the entry keeps both classes.
TEST_F(DnsLearnKernelFlowTest, OneIpForTwoNamesKeepsBothHosts) {
  allowHosts({"example.com", "*.example.com"});
  for (const char* f : {"A record, answer owner compressed", "mixed-case question is lowercased"}) {
    auto answer = hexToBytes(fixtureNamed(f).hex);
    // Same IP in both: patch the second answer's address to 93.184.216.34.
    if (std::string(f) != "A record, answer owner compressed") {
      std::copy_n(std::vector<uint8_t>{93, 184, 216, 34}.begin(), 4, answer.end() - 4);
    }
    run(bpf_program__fd(skel_->progs.dns_learn_egress), udpFrame(4, queryFor(answer, 0), true));
    run(bpf_program__fd(skel_->progs.dns_learn_ingress), udpFrame(4, answer));
  }
  auto entries = learned();
  ASSERT_EQ(entries.size(), 1u);
  std::set<uint32_t> ids(std::begin(entries[0].second.class_ids), std::end(entries[0].second.class_ids));
  ids.erase(0);
  EXPECT_EQ(ids.size(), 2u);
}

}  // namespace
}  // namespace egressd::testing
