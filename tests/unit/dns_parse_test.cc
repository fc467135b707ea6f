// The user-space twin of the kernel's DNS answer parser (bpf/lib/dns_parse.h,
// the same source) against the shared fixture table, plus the properties the
// kernel's name matching relies on (suffix hashes, host text -> rname).
#include <gtest/gtest.h>

#include <memory>

#include <cstring>
#include <string>

#include "fixtures/dns_answers.h"
#include "fixtures/dns_fixture_util.h"

namespace egressd::testing {
namespace {

class DnsParseFixtureTest : public ::testing::TestWithParam<DnsFixture> {};

TEST_P(DnsParseFixtureTest, TwinMatchesExpectation) {
  const DnsFixture& f = GetParam();
  dns_parse_result res = parseTwin(hexToBytes(f.hex));
  EXPECT_EQ(statusName(res.status), std::string(statusName(f.status)));
  if (!f.name.empty()) {
    EXPECT_EQ(rnameToText(res), f.name);
  }
  ASSERT_EQ(res.addr_count, f.addrs.size());
  for (size_t i = 0; i < f.addrs.size(); ++i) {
    std::vector<uint8_t> want = mappedAddr(f.addrs[i].ip);
    ASSERT_EQ(want.size(), 16u) << f.addrs[i].ip;
    EXPECT_EQ(0, std::memcmp(res.addrs[i].addr, want.data(), 16)) << "addr " << i << ": " << addrText(res.addrs[i]);
    EXPECT_EQ(res.addrs[i].ttl, f.addrs[i].ttl) << "addr " << i;
  }
}

// What the kernel matches on: suffix k is the rname prefix holding the last
// k+1 labels, and its hash is the hash of that prefix.
TEST_P(DnsParseFixtureTest, SuffixHashesCoverThePrefixes) {
  const DnsFixture& f = GetParam();
  dns_parse_result res = parseTwin(hexToBytes(f.hex));
  if (f.name.empty() || res.label_count == 0) return;
  EXPECT_EQ(res.suffix_end[res.label_count - 1], res.rname_len);
  for (int k = 0; k < res.label_count; ++k) {
    EXPECT_EQ(res.suffix_hash[k], dns_rname_hash(res.rname, res.suffix_end[k])) << "suffix " << k;
    if (k > 0) {
      EXPECT_GT(res.suffix_end[k], res.suffix_end[k - 1]);
    }
  }
  uint8_t rname[DNS_RNAME_SIZE];
  int wildcard = 0;
  int len = dns_rname_from_text(f.name.data(), static_cast<__u32>(f.name.size()), rname, &wildcard);
  ASSERT_EQ(len, res.rname_len);
  EXPECT_EQ(0, std::memcmp(rname, res.rname, static_cast<size_t>(len)));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DnsParseFixtureTest, ::testing::ValuesIn(dnsAnswerFixtures()),
                         [](const ::testing::TestParamInfo<DnsFixture>& info) {
                           std::string name = std::to_string(info.index) + "_";
                           for (char c : info.param.description)
                             name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name;
                         });

TEST(DnsRname, FromTextReversesAndLowercases) {
  uint8_t rname[DNS_RNAME_SIZE];
  int wildcard = -1;
  std::string host = "API.GitHub.com.";
  int len = dns_rname_from_text(host.data(), static_cast<__u32>(host.size()), rname, &wildcard);
  ASSERT_EQ(len, 15);
  EXPECT_EQ(wildcard, 0);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(rname), 15), std::string("\3com\6github\3api"));
}

TEST(DnsRname, WildcardGivesTheSuffix) {
  uint8_t rname[DNS_RNAME_SIZE];
  int wildcard = 0;
  std::string host = "*.github.com";
  int len = dns_rname_from_text(host.data(), static_cast<__u32>(host.size()), rname, &wildcard);
  ASSERT_EQ(len, 11);
  EXPECT_EQ(wildcard, 1);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(rname), 11), std::string("\3com\6github"));
}

TEST(DnsRname, RejectsEmptyLabelsAndLongLabels) {
  uint8_t rname[DNS_RNAME_SIZE];
  int wildcard = 0;
  for (const std::string& bad : {std::string(), std::string("."), std::string("a..b"), std::string("*."), std::string(64, 'a') + ".com"})
    EXPECT_EQ(dns_rname_from_text(bad.data(), static_cast<__u32>(bad.size()), rname, &wildcard), -1) << bad;
}

// The kernel's wildcard check: "*.github.com" matches a deeper name through
// the 2-label suffix hash, and never the apex (label_count must exceed 2).
TEST(DnsRname, WildcardSuffixHashMatchesDeepName) {
  const auto& fixtures = dnsAnswerFixtures();
  dns_parse_result res = parseTwin(hexToBytes(fixtures.at(3).hex));  // www.github.com
  ASSERT_EQ(res.status, DNS_PARSE_OK);
  ASSERT_EQ(res.label_count, 3);
  uint8_t rname[DNS_RNAME_SIZE];
  int wildcard = 0;
  std::string host = "*.github.com";
  int len = dns_rname_from_text(host.data(), static_cast<__u32>(host.size()), rname, &wildcard);
  EXPECT_EQ(res.suffix_hash[1], dns_rname_hash(rname, static_cast<__u32>(len)));
  EXPECT_EQ(res.suffix_end[1], len);
  EXPECT_EQ(0, std::memcmp(res.rname, rname, static_cast<size_t>(len)));
}

// The egress hook parses the query; its name hash must equal the answer's.
TEST(DnsParseQuery, QueryQuestionMatchesTheAnswers) {
  for (const auto& f : dnsAnswerFixtures()) {
    auto answer = hexToBytes(f.hex);
    dns_parse_result a = parseTwin(answer);
    if (a.status != DNS_PARSE_OK || a.label_count == 0) continue;
    std::vector<uint8_t> q(answer.begin(), answer.begin() + a.st.qend + 4);
    q[2] &= 0x7f;  // QR clear: a query
    q[6] = q[7] = q[10] = q[11] = 0;
    auto msg = std::make_unique<dns_msg>();
    std::memset(msg.get(), 0, sizeof(*msg));
    std::memcpy(msg->data, q.data(), q.size());
    dns_parse_result r;
    std::memset(&r, 0, sizeof(r));
    ASSERT_EQ(dns_parse_query(msg.get(), static_cast<__u32>(q.size()), &r), DNS_PARSE_OK) << f.description;
    EXPECT_EQ(r.id, a.id);
    EXPECT_EQ(r.qtype, a.qtype);
    EXPECT_EQ(r.suffix_hash[r.label_count - 1], a.suffix_hash[a.label_count - 1]) << f.description;
  }
  // An answer is not a query.
  auto answer = hexToBytes(dnsAnswerFixtures().front().hex);
  auto msg = std::make_unique<dns_msg>();
  std::memcpy(msg->data, answer.data(), answer.size());
  dns_parse_result r;
  EXPECT_EQ(dns_parse_query(msg.get(), static_cast<__u32>(answer.size()), &r), DNS_PARSE_MALFORMED);
}

TEST(DnsParse, HeaderFieldsAreReported) {
  const auto& fixtures = dnsAnswerFixtures();
  for (const auto& f : fixtures) {
    if (f.description.rfind("NXDOMAIN", 0) != 0) continue;
    dns_parse_result res = parseTwin(hexToBytes(f.hex));
    EXPECT_EQ(res.id, 0xbeef);
    EXPECT_EQ(res.rcode, DNS_RCODE_NXDOMAIN);
    EXPECT_EQ(res.qtype, DNS_TYPE_A);
    EXPECT_EQ(res.qclass, DNS_CLASS_IN);
    return;
  }
  FAIL() << "no NXDOMAIN fixture";
}

}  // namespace
}  // namespace egressd::testing
