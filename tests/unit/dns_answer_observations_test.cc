// The names audit-mode workloads looked up (answers the kernel hands over,
// never learned), by (scope, IP), for egressctl suggest.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>

#include "dns/answer_observations.h"
#include "fixtures/dns_answers.h"
#include "fixtures/dns_fixture_util.h"

namespace egressd::testing {
namespace {

using dns::AnswerObservations;

AnswerObservations::Address v4(const char* ip) {
  AnswerObservations::Address a{};
  a[10] = a[11] = 0xff;
  inet_pton(AF_INET, ip, a.data() + 12);
  return a;
}

egressd_dns_punt observedPunt(const std::string& description, uint32_t scope) {
  for (const auto& f : dnsAnswerFixtures()) {
    if (f.description != description) continue;
    const auto bytes = hexToBytes(f.hex);
    egressd_dns_punt punt{};
    punt.scope_id = scope;
    punt.flags = EGRESSD_DNS_PUNT_F_OBSERVED;
    punt.payload_len = static_cast<uint16_t>(bytes.size());
    punt.wire_len = static_cast<uint32_t>(bytes.size());
    std::memcpy(punt.payload, bytes.data(), bytes.size());
    return punt;
  }
  ADD_FAILURE() << "no fixture " << description;
  return {};
}

TEST(DnsAnswerObservations, DottedNameReversesTheWireName) {
  const uint8_t rname[] = {3, 'c', 'o', 'm', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'a', 'p', 'i'};
  EXPECT_EQ(dns::dottedName(rname, sizeof(rname)), "api.example.com");
  EXPECT_EQ(dns::dottedName(rname, 0), "");
}

TEST(DnsAnswerObservations, EveryAddressOfTheChainIsNamedForItsScope) {
  AnswerObservations observations;
  ASSERT_TRUE(observations.recordAnswer(observedPunt("four A records (the benchmark packet)", 3)));
  for (const char* ip : {"198.51.100.1", "198.51.100.4"}) EXPECT_EQ(observations.nameOf(3, v4(ip)), "www.example.org");
  EXPECT_EQ(observations.nameOf(4, v4("198.51.100.1")), std::nullopt);  // another scope asked nothing
  // Only the question's chain: the foreign owner's address is not named.
  ASSERT_TRUE(observations.recordAnswer(observedPunt("CNAME chain kept, an A for a name off the chain dropped", 3)));
  EXPECT_EQ(observations.nameOf(3, v4("140.82.121.3")), "www.github.com");
  EXPECT_EQ(observations.nameOf(3, v4("203.0.113.66")), std::nullopt);
}

TEST(DnsAnswerObservations, UnparsableAndTcpRecordsAreRefused) {
  AnswerObservations observations;
  auto punt = observedPunt("header cut short", 1);
  EXPECT_FALSE(observations.recordAnswer(punt));
  punt = observedPunt("A record, answer owner compressed", 1);
  punt.flags |= EGRESSD_DNS_PUNT_F_TCP;
  EXPECT_FALSE(observations.recordAnswer(punt));
  EXPECT_EQ(observations.size(), 0u);
}

TEST(DnsAnswerObservations, TheLatestNameWinsAndTheLeastRecentIsForgotten) {
  AnswerObservations observations(2);
  observations.record(1, v4("192.0.2.1"), "a.example.com");
  observations.record(1, v4("192.0.2.2"), "b.example.com");
  observations.record(1, v4("192.0.2.1"), "c.example.com");  // seen again: most recent
  EXPECT_EQ(observations.nameOf(1, v4("192.0.2.1")), "c.example.com");
  observations.record(1, v4("192.0.2.3"), "d.example.com");  // over capacity: 192.0.2.2 goes
  EXPECT_EQ(observations.size(), 2u);
  EXPECT_EQ(observations.nameOf(1, v4("192.0.2.2")), std::nullopt);
  EXPECT_EQ(observations.nameOf(1, v4("192.0.2.1")), "c.example.com");
  EXPECT_EQ(observations.nameOf(1, v4("192.0.2.3")), "d.example.com");
}

}  // namespace
}  // namespace egressd::testing
