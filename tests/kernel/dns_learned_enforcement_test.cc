// The connect path's use of learned IPs (bpf/lib/policy.h rule 5): a
// dns_learned entry for the scope opens its host classes' ports, until it
// expires; another scope, another port or protocol stay denied. Entries are
// written by hand here; dns_learn_kernel_test.cc covers how they are learned.
#include <arpa/inet.h>
#include <time.h>

#include <cerrno>

#include "kernel/datapath_fixture.h"

namespace egressd::ktest {
namespace {

constexpr uint32_t kHostClass = 0x70000001;  // a host class: no prefix points at it

class DnsLearnedEnforcementTest : public DatapathTest {
 protected:
  void SetUp() override {
    DatapathTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    addScope(1, EGRESSD_MODE_REGISTRY_ONLY);
    addScope(2, EGRESSD_MODE_REGISTRY_ONLY);
    addPort(kHostClass, 443, IPPROTO_TCP, {1});
    pod_ = tree_->make("pod");
    other_ = tree_->make("other");
    addWorkload(pod_, 1);
    addWorkload(other_, 2);
  }

  void learn(uint32_t scope, const char* ip, int64_t ttl_s) {
    egressd_dns_learned_key key{};
    key.scope_id = scope;
    if (std::string(ip).find(':') != std::string::npos) {
      inet_pton(AF_INET6, ip, key.addr);
    } else {
      key.addr[10] = key.addr[11] = 0xff;
      inet_pton(AF_INET, ip, key.addr + 12);
    }
    egressd_dns_learned_value value{};
    value.class_ids[1] = kHostClass;  // any slot counts
    value.expires_ns = bootNs() + ttl_s * 1000000000ll;
    ASSERT_TRUE(datapath_->putDnsLearned(key, value).ok());
  }

  std::string pod_;
  std::string other_;
};

TEST_F(DnsLearnedEnforcementTest, LearnedIpOpensTheHostsPortsForItsScopeOnly) {
  expectProbes(pod_, {{"not learned yet", {AF_INET, SOCK_STREAM, kNetA, 443}, EPERM}});
  learn(1, kNetA, 60);
  learn(1, kNet6, 60);
  learn(2, kNetB, 60);  // scope 2 learned it, but its policy has no port
  expectProbes(pod_, {
      {"learned, host port", {AF_INET, SOCK_STREAM, kNetA, 443}, 0},
      {"learned, v4-mapped", {AF_INET6, SOCK_STREAM, std::string("::ffff:") + kNetA, 443}, 0},
      {"learned IPv6", {AF_INET6, SOCK_STREAM, kNet6, 443}, 0},
      {"learned, other port", {AF_INET, SOCK_STREAM, kNetA, 80}, EPERM},
      {"learned, UDP", {AF_INET, SOCK_DGRAM, kNetA, 443}, EPERM},
      {"learned by another scope", {AF_INET, SOCK_STREAM, kNetB, 443}, EPERM},
  });
  expectProbes(other_, {{"scope 2, its own entry, no port", {AF_INET, SOCK_STREAM, kNetB, 443}, EPERM},
                        {"scope 2, scope 1's entry", {AF_INET, SOCK_STREAM, kNetA, 443}, EPERM}});
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_DNS_LEARNED).allowed, 1u);
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT6, EGRESSD_REASON_DNS_LEARNED).allowed, 2u);

  auto entries = datapath_->readDnsLearned();
  ASSERT_TRUE(entries.ok());
  uint64_t hits = 0;
  for (const auto& e : *entries) hits += e.value.hits;
  EXPECT_EQ(hits, 3u);
}

TEST_F(DnsLearnedEnforcementTest, ExpiredEntriesDontAllow) {
  learn(1, kNetA, -1);
  expectProbes(pod_, {{"expired", {AF_INET, SOCK_STREAM, kNetA, 443}, EPERM}});
}

TEST_F(DnsLearnedEnforcementTest, RemovedHostClassStopsMatching) {
  learn(1, kNetA, 60);
  expectProbes(pod_, {{"learned", {AF_INET, SOCK_STREAM, kNetA, 443}, 0}});
  egressd_port_key key{};
  key.class_id = kHostClass;
  key.port = 443;
  key.protocol = IPPROTO_TCP;
  ASSERT_TRUE(datapath_->maps().deletePort(key).ok());  // the ServiceEntry went away
  expectProbes(pod_, {{"class gone", {AF_INET, SOCK_STREAM, kNetA, 443}, EPERM}});
}

}  // namespace
}  // namespace egressd::ktest
