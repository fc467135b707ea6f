// egressctl observe's agent side: the numbered, bounded buffer of recent
// flow events, the /api/v1/events query and filter, and --since durations.
#include <gtest/gtest.h>

#include <thread>

#include "agent/event_query.h"
#include "agent/recent_events.h"
#include "ctl/observe.h"

namespace egressd::testing {
namespace {

using agent::EventQuery;
using agent::RecentEvents;
using Clock = std::chrono::system_clock;
using std::chrono::milliseconds;

nlohmann::json event(const std::string& ip, const std::string& verdict, nlohmann::json host = nullptr) {
  return {{"workload", "production/web"}, {"destination_ip", ip}, {"verdict", verdict}, {"host", host}};
}

TEST(RecentEvents, FromNowOnWaitsForTheNextEvent) {
  RecentEvents events;
  events.add(event("192.0.2.1", "denied"), Clock::now());
  std::thread later([&] {
    std::this_thread::sleep_for(milliseconds(50));
    events.add(event("192.0.2.2", "allowed"), Clock::now());
  });
  const auto batch = events.after(UINT64_MAX, Clock::time_point::min(), milliseconds(5000));
  later.join();
  ASSERT_EQ(batch.events.size(), 1u);  // not the one before
  EXPECT_EQ(batch.events[0]["destination_ip"], "192.0.2.2");
  EXPECT_EQ(batch.events[0]["seq"], 2);
  EXPECT_EQ(batch.next, 2u);
  // Nothing new: returns after the wait with the same `next`.
  const auto empty = events.after(batch.next, Clock::time_point::min(), milliseconds(10));
  EXPECT_TRUE(empty.events.empty());
  EXPECT_EQ(empty.next, 2u);
}

TEST(RecentEvents, ReplaysWhatItHoldsNoOlderThanAsked) {
  RecentEvents events;
  const auto now = Clock::now();
  events.add(event("192.0.2.1", "denied"), now - std::chrono::minutes(10));
  events.add(event("192.0.2.2", "denied"), now - std::chrono::seconds(30));
  const auto batch = events.after(0, now - std::chrono::minutes(5), milliseconds(0));
  ASSERT_EQ(batch.events.size(), 1u);
  EXPECT_EQ(batch.events[0]["destination_ip"], "192.0.2.2");
  EXPECT_EQ(batch.next, 2u);
}

TEST(RecentEvents, BoundedAndSaysWhatWasMissed) {
  RecentEvents events(3);
  for (int i = 1; i <= 5; ++i) events.add(event("192.0.2." + std::to_string(i), "denied"), Clock::now());
  const auto batch = events.after(1, Clock::time_point::min(), milliseconds(0));
  ASSERT_EQ(batch.events.size(), 3u);  // 3, 4, 5 held
  EXPECT_EQ(batch.events.front()["seq"], 3);
  EXPECT_EQ(batch.dropped, 1u);  // 2 went by
  EXPECT_EQ(batch.next, 5u);
}

TEST(RecentEvents, CloseWakesWaitingReaders) {
  RecentEvents events;
  std::thread closer([&] {
    std::this_thread::sleep_for(milliseconds(20));
    events.close();
  });
  const auto started = std::chrono::steady_clock::now();
  events.after(UINT64_MAX, Clock::time_point::min(), milliseconds(10000));
  closer.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(EventQuery, ParsesAndRefusesWithTheParameterNamed) {
  auto q = agent::parseEventQuery({{"after", "7"}, {"since", "300"}, {"wait_ms", "250"}, {"verdict", "denied"}});
  ASSERT_TRUE(q) << q.error();
  EXPECT_EQ(q->after, 7u);
  EXPECT_EQ(q->since.count(), 300);
  EXPECT_EQ(q->wait.count(), 250);
  EXPECT_EQ(agent::parseEventQuery({{"after", "latest"}})->after, UINT64_MAX);
  EXPECT_EQ(agent::parseEventQuery({})->after, UINT64_MAX);
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"after", "-1"}, {"since", "5m"}, {"wait_ms", "60000"}, {"verdict", "maybe"}}) {
    auto bad = agent::parseEventQuery({{key, value}});
    ASSERT_FALSE(bad) << key << "=" << value;
    EXPECT_NE(bad.error().find(key + "=" + value), std::string::npos) << bad.error();
  }
}

TEST(EventQuery, FiltersByWorkloadVerdictAndHostGlob) {
  EventQuery q;
  q.verdict = "denied";
  EXPECT_TRUE(q.matches(event("192.0.2.1", "denied")));
  EXPECT_FALSE(q.matches(event("192.0.2.1", "allowed")));
  q = EventQuery{};
  q.workload = "production/api";
  EXPECT_FALSE(q.matches(event("192.0.2.1", "denied")));
  q = EventQuery{};
  q.namespace_ = "production";
  auto in_production = event("192.0.2.1", "denied");
  in_production["namespace"] = "production";
  EXPECT_TRUE(q.matches(in_production));
  q.namespace_ = "staging";
  EXPECT_FALSE(q.matches(in_production));
  q = EventQuery{};
  q.host_glob = "*.example.com";
  EXPECT_TRUE(q.matches(event("192.0.2.1", "allowed", "api.example.com")));
  EXPECT_FALSE(q.matches(event("192.0.2.1", "allowed", "api.example.org")));
  q.host_glob = "192.0.2.*";  // no host: the IP is matched
  EXPECT_TRUE(q.matches(event("192.0.2.1", "denied")));
}

TEST(ObserveDuration, SecondsMinutesHours) {
  EXPECT_EQ(*ctl::parseDuration("90"), 90);
  EXPECT_EQ(*ctl::parseDuration("30s"), 30);
  EXPECT_EQ(*ctl::parseDuration("5m"), 300);
  EXPECT_EQ(*ctl::parseDuration("2h"), 7200);
  for (const char* bad : {"", "m", "5min", "-5m", "1d", "5 m"}) EXPECT_FALSE(ctl::parseDuration(bad)) << bad;
}

}  // namespace
}  // namespace egressd::testing
