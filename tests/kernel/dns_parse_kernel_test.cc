// The kernel's parse of every DNS fixture, through the real cgroup_skb path:
// each message is wrapped in Ethernet + IPv4/UDP and Ethernet + IPv6/UDP,
// run with BPF_PROG_TEST_RUN, and the result map is compared with the
// fixture's expectation and with the user-space twin (same C source).
// Needs root and BPF: skipped without them, a failure under CI.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dns_parse_test.skel.h"
#include "fixtures/dns_answers.h"
#include "fixtures/dns_fixture_util.h"
#include "fixtures/dns_packets.h"

namespace egressd::testing {
namespace {

constexpr uint8_t kUnwritten = 0xee;  // status before a run: proves the program wrote

// Loads the test program once per suite; runs one frame through it.
class DnsParseKernelBase : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skel_ = dns_parse_test__open_and_load();
    if (!skel_) loadErrno_ = errno;
  }
  static void TearDownTestSuite() {
    dns_parse_test__destroy(skel_);
    skel_ = nullptr;
  }
  void SetUp() override {
    if (skel_) return;
    std::string why = "cannot load dns_parse_test: " + std::string(std::strerror(loadErrno_));
    if (std::getenv("CI")) FAIL() << why << " (kernel tests must run under CI)";
    GTEST_SKIP() << why;
  }

  // Runs the parser program on one frame; returns the result map's entry.
  dns_parse_result runKernel(const std::vector<uint8_t>& frame) {
    uint32_t key = 0;
    dns_parse_result res;
    std::memset(&res, 0, sizeof(res));
    res.status = kUnwritten;
    EXPECT_EQ(0, bpf_map_update_elem(bpf_map__fd(skel_->maps.dns_results), &key, &res, BPF_ANY));
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_size_in = static_cast<uint32_t>(frame.size()),
                .repeat = 1);
    EXPECT_EQ(0, bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.dns_parse_prog), &opts)) << std::strerror(errno);
    EXPECT_EQ(opts.retval, 1u);  // the harness never drops
    EXPECT_EQ(0, bpf_map_lookup_elem(bpf_map__fd(skel_->maps.dns_results), &key, &res));
    return res;
  }

  static inline dns_parse_test* skel_ = nullptr;
  static inline int loadErrno_ = 0;
};

class DnsParseKernelTest : public DnsParseKernelBase,
                           public ::testing::WithParamInterface<std::tuple<DnsFixture, int>> {};
class DnsParseKernelPacketTest : public DnsParseKernelBase {};

TEST_P(DnsParseKernelTest, KernelMatchesFixtureAndTwin) {
  const auto& [f, family] = GetParam();
  std::vector<uint8_t> message = hexToBytes(f.hex);
  dns_parse_result kernel = runKernel(udpFrame(family, message));
  dns_parse_result twin = parseTwin(message);

  ASSERT_NE(kernel.status, kUnwritten);
  EXPECT_EQ(statusName(kernel.status), std::string(statusName(f.status)));
  EXPECT_EQ(kernel.status, twin.status);
  if (!f.name.empty()) {
    EXPECT_EQ(rnameToText(kernel), f.name);
  }
  ASSERT_EQ(kernel.addr_count, f.addrs.size());
  for (size_t i = 0; i < f.addrs.size(); ++i) {
    EXPECT_EQ(addrText(kernel.addrs[i]), addrText(twin.addrs[i])) << "addr " << i;
    EXPECT_EQ(0, std::memcmp(kernel.addrs[i].addr, mappedAddr(f.addrs[i].ip).data(), 16)) << "addr " << i;
    EXPECT_EQ(kernel.addrs[i].ttl, f.addrs[i].ttl) << "addr " << i;
  }
  // Everything the parser promises is valid must be bit-identical to the twin.
  EXPECT_EQ(kernel.id, twin.id);
  EXPECT_EQ(kernel.flags, twin.flags);
  EXPECT_EQ(kernel.qtype, twin.qtype);
  EXPECT_EQ(kernel.rcode, twin.rcode);
  ASSERT_EQ(kernel.rname_len, twin.rname_len);
  ASSERT_EQ(kernel.label_count, twin.label_count);
  if (kernel.status == DNS_PARSE_OK || kernel.status == DNS_PARSE_TRUNCATED) {
    EXPECT_EQ(0, std::memcmp(kernel.rname, twin.rname, kernel.rname_len));
    for (int k = 0; k < kernel.label_count; ++k) {
      EXPECT_EQ(kernel.suffix_end[k], twin.suffix_end[k]) << k;
      EXPECT_EQ(kernel.suffix_hash[k], twin.suffix_hash[k]) << k;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DnsParseKernelTest,
                         ::testing::Combine(::testing::ValuesIn(dnsAnswerFixtures()), ::testing::Values(4, 6)),
                         [](const auto& info) {
                           std::string name = "v" + std::to_string(std::get<1>(info.param)) + "_" +
                                              std::to_string(info.index / 2) + "_";
                           for (char c : std::get<0>(info.param).description)
                             name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name;
                         });

// Packets the hook must not hand to the parser: not UDP, or a UDP length
// that claims more than the packet holds.
TEST_F(DnsParseKernelPacketTest, NonDnsPacketsNeverReachTheParser) {
  std::vector<uint8_t> message = hexToBytes(dnsAnswerFixtures().front().hex);
  std::vector<uint8_t> tcp = udpFrame(4, message);
  tcp[14 + 9] = IPPROTO_TCP;
  EXPECT_EQ(runKernel(tcp).status, 0xff);
  std::vector<uint8_t> lying = udpFrame(6, message);
  lying[14 + 40 + 4] = 0xff;  // UDP length 0xff.. > what follows
  EXPECT_EQ(runKernel(lying).status, 0xff);
}

}  // namespace
}  // namespace egressd::testing
