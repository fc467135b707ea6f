// Stable ids: scope ids survive recompiles and restarts, class ids don't move
// when other prefixes come and go, and scope capacity is enforced.
#include <gtest/gtest.h>

#include "compiler/address.h"
#include "compiler/prefix_classes.h"
#include "compiler_test_util.h"

namespace egressd::compiler::testing {
namespace {

policy::PolicySnapshot namespaces(const std::vector<std::string>& names) {
  policy::PolicySnapshot snap;
  for (const auto& ns : names) snap.workloads.push_back(workload(ns, "app"));
  return snap;
}

std::map<std::string, uint32_t> idsByKey(const CompileOutput& out) {
  std::map<std::string, uint32_t> ids;
  for (const auto& s : out.scopes) ids[s.key] = s.id;
  return ids;
}

TEST(CompilerScopeIds, FreshIdsInKeyOrderAndNameHashStored) {
  auto out = compileAll(namespaces({"b", "a"}));
  EXPECT_EQ(idsByKey(out), (std::map<std::string, uint32_t>{{"a|", 0}, {"b|", 1}}));
  EXPECT_EQ(out.desired.scopes.at(0).name_hash, scopeNameHash("a|"));
  EXPECT_EQ(out.desired.scopes.at(0).flags, EGRESSD_SCOPE_F_ACTIVE);
  EXPECT_EQ(scopeIdsFromLive(out.desired), out.scope_ids);
}

struct StabilityCase {
  const char* name;
  std::vector<std::string> before;
  std::vector<std::string> after;
  std::map<std::string, uint32_t> expected;
};

class CompilerScopeIdStability : public ::testing::TestWithParam<StabilityCase> {};

TEST_P(CompilerScopeIdStability, KeepsIds) {
  const auto& c = GetParam();
  const auto first = compileAll(namespaces(c.before));
  const auto second = compileAll(namespaces(c.after), {}, first.scope_ids);
  EXPECT_EQ(idsByKey(second), c.expected);
  // After a restart the ids come back from the live scopes map.
  const auto restarted = compileAll(namespaces(c.after), {}, scopeIdsFromLive(first.desired));
  EXPECT_EQ(idsByKey(restarted), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, CompilerScopeIdStability,
    ::testing::Values(
        StabilityCase{"Same", {"a", "b"}, {"a", "b"}, {{"a|", 0}, {"b|", 1}}},
        StabilityCase{"NewScopeSortingFirst", {"m", "n"}, {"a", "m", "n"}, {{"a|", 2}, {"m|", 0}, {"n|", 1}}},
        StabilityCase{"RemovedScopeKeepsOthers", {"a", "b", "c"}, {"a", "c"}, {{"a|", 0}, {"c|", 2}}},
        // A just-freed id is not reused at once: stale pods would share it.
        StabilityCase{"FreedIdNotReusedAtOnce", {"a", "b"}, {"a", "c"}, {{"a|", 0}, {"c|", 2}}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(CompilerScopeIds, ReusesFreedIdsWhenFull) {
  std::vector<std::string> names;
  for (int i = 0; i < EGRESSD_MAX_SCOPES; ++i) names.push_back("ns" + std::to_string(1000 + i));
  const auto first = compileAll(namespaces(names));
  ASSERT_TRUE(first.errors.empty());
  const uint32_t freed = idsByKey(first).at("ns1000|");
  names[0] = "fresh";
  const auto second = compileAll(namespaces(names), {}, first.scope_ids);
  EXPECT_TRUE(second.errors.empty());
  EXPECT_EQ(idsByKey(second).at("fresh|"), freed);
}

TEST(CompilerScopeIds, TooManyScopesIsAnErrorAndThoseWorkloadsAreNotWritten) {
  std::vector<std::string> names;
  for (int i = 0; i < EGRESSD_MAX_SCOPES + 1; ++i) names.push_back("ns" + std::to_string(1000 + i));
  const auto out = compileAll(namespaces(names));
  EXPECT_EQ(out.scopes.size(), static_cast<size_t>(EGRESSD_MAX_SCOPES));
  EXPECT_EQ(out.desired.workloads.size(), static_cast<size_t>(EGRESSD_MAX_SCOPES));
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_NE(out.errors[0].find("ns1256/app"), std::string::npos) << out.errors[0];
  EXPECT_FALSE(explainConnection(out, "ns1256/app", "192.0.2.1", 443, kTcp).ok());
}

TEST(CompilerScopeIds, PreviousIdsOutOfRangeOrCollidingAreIgnored) {
  ScopeIds previous{{scopeNameHash("a|"), 7}, {scopeNameHash("b|"), 7}, {scopeNameHash("c|"), 9999}};
  const auto out = compileAll(namespaces({"a", "b", "c"}), {}, previous);
  const auto ids = idsByKey(out);
  EXPECT_EQ(ids.at("a|"), 7u);
  EXPECT_NE(ids.at("b|"), 7u);
  EXPECT_LT(ids.at("c|"), static_cast<uint32_t>(EGRESSD_MAX_SCOPES));
}

TEST(CompilerWorkloads, WithoutCgroupIsAnErrorAndUnknownCgroupAWarning) {
  auto snap = namespaces({"a", "b"});
  std::map<std::string, uint64_t> cgroups{{"a/app", 42}, {"zzz/ghost", 7}};
  const auto out = compilePolicy(snap, cgroups, {}, {});
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_NE(out.errors[0].find("b/app"), std::string::npos);
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_NE(out.warnings[0].find("zzz/ghost"), std::string::npos);
  ASSERT_EQ(out.desired.workloads.size(), 1u);
  EXPECT_EQ(out.desired.workloads.begin()->first.cgroup_id, 42u);
  EXPECT_EQ(out.desired.workloads.begin()->second.flags, 0u);
}

TEST(CompilerClassIds, StableWhenOtherPrefixesComeAndGo) {
  policy::PolicySnapshot snap;
  snap.workloads = {workload("production", "app")};
  snap.service_entries = {serviceEntry("ext", "a", {"a"}, {"192.0.2.0/24", "2001:db8::/32"}, {port(443)})};
  const auto first = compileAll(snap);
  snap.service_entries.push_back(
      serviceEntry("ext", "b", {"b"}, {"198.51.100.0/24", "192.0.2.128/25"}, {port(80)}));
  const auto second = compileAll(snap);
  for (const auto& [prefix, value] : first.desired.prefixes) {
    SCOPED_TRACE(formatPrefix(prefix));
    EXPECT_EQ(second.desired.prefixes.at(prefix).class_id, value.class_id);
    EXPECT_EQ(value.class_id, PrefixTable::classIdHash(prefix));
  }
  EXPECT_EQ(second.desired.prefixes.size(), 4u);
  // Recompiling the same input gives byte-identical maps.
  const auto again = compileAll(snap);
  EXPECT_EQ(again.desired.prefixes.size(), second.desired.prefixes.size());
  EXPECT_TRUE(std::equal(again.desired.ports.begin(), again.desired.ports.end(), second.desired.ports.begin(),
                         [](const auto& x, const auto& y) {
                           return abiEqual(x.first, y.first) && abiEqual(x.second, y.second);
                         }));
}

struct PrefixCase {
  const char* text;
  std::optional<std::string> canonical;  // nullopt: rejected
};

class CompilerPrefixParsing : public ::testing::TestWithParam<PrefixCase> {};

TEST_P(CompilerPrefixParsing, Canonicalises) {
  const auto& c = GetParam();
  auto prefix = parsePrefix(c.text);
  ASSERT_EQ(prefix.has_value(), c.canonical.has_value());
  if (prefix) {
    EXPECT_EQ(formatPrefix(*prefix), *c.canonical);
  }
}

INSTANTIATE_TEST_SUITE_P(Table, CompilerPrefixParsing,
                         ::testing::Values(PrefixCase{"192.0.2.7", "192.0.2.7/32"},
                                           PrefixCase{"192.0.2.7/24", "192.0.2.0/24"},
                                           PrefixCase{"0.0.0.0/0", "0.0.0.0/0"},
                                           PrefixCase{"2001:db8::7/32", "2001:db8::/32"},
                                           PrefixCase{"::/0", "::/0"},
                                           PrefixCase{"10.0.0.0/33", std::nullopt},
                                           PrefixCase{"10.0.0.0/", std::nullopt},
                                           PrefixCase{"10.0.0.0/8x", std::nullopt},
                                           PrefixCase{"example.com", std::nullopt},
                                           PrefixCase{"", std::nullopt}));

TEST(CompilerPrefixParsing, V4IsStoredMapped) {
  auto p = parsePrefix("10.0.0.0/8");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->prefixlen, 104u);
  EXPECT_EQ(p->addr[10], 0xff);
  EXPECT_EQ(p->addr[11], 0xff);
  EXPECT_EQ(p->addr[12], 10);
}

}  // namespace
}  // namespace egressd::compiler::testing
