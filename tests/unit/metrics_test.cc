#include <gtest/gtest.h>

#include "admin/metrics.h"

namespace egressd::admin {
namespace {

TEST(Metrics, RendersCountersGaugesAndHistogramsInPrometheusTextFormat) {
  MetricsRegistry registry;
  registry.describe("egressd_policy_generation", MetricsRegistry::Type::kGauge, "Policy generation.");
  registry.describe("egressd_rejected_objects", MetricsRegistry::Type::kGauge, "Rejected objects.");
  registry.describe("egressd_policy_sync_seconds", MetricsRegistry::Type::kHistogram, "Sync.", {0.01, 0.1});
  registry.setGauge("egressd_policy_generation", {}, 3);
  registry.setGauge("egressd_rejected_objects", {{"kind", "Service\"Entry"}}, 2);
  registry.observe("egressd_policy_sync_seconds", {}, 0.005);
  registry.observe("egressd_policy_sync_seconds", {}, 0.05);
  const std::string text = registry.render();
  EXPECT_NE(text.find("# TYPE egressd_policy_generation gauge\negressd_policy_generation 3\n"), std::string::npos);
  EXPECT_NE(text.find("egressd_rejected_objects{kind=\"Service\\\"Entry\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("egressd_policy_sync_seconds_bucket{le=\"0.01\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("egressd_policy_sync_seconds_bucket{le=\"0.1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("egressd_policy_sync_seconds_bucket{le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("egressd_policy_sync_seconds_count 2\n"), std::string::npos);
}

TEST(Metrics, ReplaceGaugesSwapsTheSeriesOfOneFamilyOnly) {
  MetricsRegistry registry;
  registry.describe("a", MetricsRegistry::Type::kGauge, "A.");
  registry.describe("b", MetricsRegistry::Type::kCounter, "B.");
  registry.setGauge("a", {{"map", "x"}}, 1);
  registry.addCounter("b", {}, 2);
  registry.addCounter("b", {}, 3);
  registry.replaceGauges("a", {{{{"map", "y"}}, 4}});
  const std::string text = registry.render();
  EXPECT_EQ(text.find("a{map=\"x\"}"), std::string::npos);
  EXPECT_NE(text.find("a{map=\"y\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("b 5\n"), std::string::npos);
}

}  // namespace
}  // namespace egressd::admin
