// Which objects keep their place when the maps are full (compiler/admission.h):
// older first (files before API objects, path and line, creationTimestamp),
// whole objects in or out, each left out named with its map and capacity.
#include <gtest/gtest.h>

#include "compiler/admission.h"
#include "compiler_test_util.h"

namespace egressd::compiler {
namespace {

using testing::meta;
using testing::port;
using testing::serviceEntry;

policy::ServiceEntry entryWithAddresses(const std::string& name, int count, int first_octet, int line,
                                        const std::string& created = "") {
  std::vector<std::string> addresses;
  for (int i = 0; i < count; ++i)
    addresses.push_back("10." + std::to_string(first_octet) + "." + std::to_string(i / 256) + "." +
                        std::to_string(i % 256) + "/32");
  auto se = serviceEntry("ns", name, {name + ".example.com"}, addresses, {port(443)});
  se.source = {"policy.yaml", line};
  se.meta.creation_timestamp = created;
  return se;
}

policy::Workload workload(const std::string& ns, const std::string& name, int line) {
  policy::Workload w;
  w.meta = meta(ns, name);
  w.source = {"workloads.yaml", line};
  w.cgroup = ns + "/" + name;
  return w;
}

std::vector<std::string> names(const std::vector<NotEnforced>& left_out) {
  std::vector<std::string> out;
  for (const auto& n : left_out) out.push_back(n.kind + " " + n.name + " " + n.map + " " + std::to_string(n.capacity));
  return out;
}

TEST(Admission, AllFitIsOneCompileAndNothingLeftOut) {
  policy::PolicySnapshot policy;
  policy.service_entries = {entryWithAddresses("a", 10, 1, 1)};
  policy.workloads = {workload("ns", "web", 1)};
  const auto admitted = compileWithinCapacity(policy, {{"ns/web", 7}}, {}, {});
  EXPECT_TRUE(admitted.not_enforced.empty());
  EXPECT_EQ(admitted.compiled.workload_cgroups.size(), 1u);
  EXPECT_EQ(admitted.compiled.desired.prefixes.size(), 10u);
}

// An entry too big for dest_prefixes is left out whole, and an entry after it
// that fits keeps its place: no address of either is chosen by chance.
TEST(Admission, ServiceEntryThatDoesNotFitIsLeftOutWhole) {
  MapCapacities capacities;
  capacities.prefixes = 136;
  policy::PolicySnapshot policy;
  policy.service_entries = {entryWithAddresses("young", 10, 3, 30), entryWithAddresses("big", 150, 2, 20),
                            entryWithAddresses("old", 10, 1, 10)};
  policy.workloads = {workload("ns", "web", 1)};  // a scope that imports them
  const auto admitted = compileWithinCapacity(policy, {{"ns/web", 7}}, {}, {}, {}, {}, capacities);
  EXPECT_EQ(names(admitted.not_enforced), std::vector<std::string>{"ServiceEntry ns/big dest_prefixes 136"});
  EXPECT_EQ(admitted.compiled.desired.prefixes.size(), 20u);
  EXPECT_EQ(admitted.compiled.services[0], "ns/old");
  EXPECT_EQ(admitted.compiled.services[1], "ns/young");
}

// API objects: the older creationTimestamp keeps its place, whatever the
// order they were listed in; objects from files come before them.
TEST(Admission, OlderObjectsKeepTheirPlace) {
  MapCapacities capacities;
  capacities.prefixes = 15;
  policy::PolicySnapshot policy;
  policy.service_entries = {entryWithAddresses("newer", 10, 1, 0, "2026-12-07T10:00:00Z"),
                            entryWithAddresses("older", 10, 2, 0, "2026-01-01T00:00:00Z")};
  policy.workloads = {workload("ns", "web", 1)};
  auto admitted = compileWithinCapacity(policy, {{"ns/web", 7}}, {}, {}, {}, {}, capacities);
  EXPECT_EQ(names(admitted.not_enforced), std::vector<std::string>{"ServiceEntry ns/newer dest_prefixes 15"});
  policy.service_entries.push_back(entryWithAddresses("from-a-file", 10, 3, 5));
  admitted = compileWithinCapacity(policy, {{"ns/web", 7}}, {}, {}, {}, {}, capacities);
  EXPECT_EQ(names(admitted.not_enforced), (std::vector<std::string>{"ServiceEntry ns/older dest_prefixes 15",
                                                                    "ServiceEntry ns/newer dest_prefixes 15"}));
}

// More workloads than `workloads` holds, more scopes than `scopes` holds:
// the first in file order keep theirs; the rest are named, and not compiled
// (their pods_parents entry denies them).
TEST(Admission, WorkloadsAndScopesBeyondCapacityAreNamed) {
  MapCapacities capacities;
  capacities.workloads = 2;
  capacities.scopes = 2;
  policy::PolicySnapshot policy;
  policy.workloads = {workload("a", "w3", 3), workload("a", "w1", 1), workload("b", "w2", 2), workload("c", "w4", 4)};
  const auto admitted = compileWithinCapacity(
      policy, {{"a/w1", 1}, {"b/w2", 2}, {"a/w3", 3}, {"c/w4", 4}}, {}, {}, {}, {}, capacities);
  EXPECT_EQ(names(admitted.not_enforced),
            (std::vector<std::string>{"Workload a/w3 workloads 2", "Workload c/w4 scopes 2"}));
  EXPECT_EQ(admitted.compiled.workload_cgroups, (std::map<std::string, uint64_t>{{"a/w1", 1}, {"b/w2", 2}}));
  EXPECT_TRUE(admitted.compiled.errors.empty()) << admitted.compiled.errors[0];
}

}  // namespace
}  // namespace egressd::compiler
