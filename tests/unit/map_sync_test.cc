// Map sync: minimal diffs, idempotence, a write order that never mixes in a
// verdict neither policy gives, and partial apply when entries fail.
#include "sync/map_sync.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "compiler/address.h"
#include "fake_map_backend.h"

namespace egressd::testing {
namespace {

using OpKind = FakeMapBackend::OpKind;

egressd_prefix_key prefix(const char* text) { return *compiler::parsePrefix(text); }

egressd_port_value allow(uint32_t scope, uint32_t flags = 0) {
  egressd_port_value v{};
  v.allow_scopes[scope / 64] = 1ull << (scope % 64);
  v.flags = flags;
  return v;
}

egressd_scope_value scope(uint64_t hash, uint8_t mode = EGRESSD_MODE_REGISTRY_ONLY) {
  egressd_scope_value v{};
  v.flags = EGRESSD_SCOPE_F_ACTIVE;
  v.outbound_mode = mode;
  v.name_hash = hash;
  return v;
}

// Two scopes, two workloads, two classes.
DesiredState stateA() {
  DesiredState d;
  d.workloads[{100}] = {0, 0};
  d.workloads[{101}] = {1, 0};
  d.scopes[0] = scope(11);
  d.scopes[1] = scope(22);
  d.prefixes[prefix("192.0.2.0/24")] = {7};
  d.prefixes[prefix("10.0.0.0/8")] = {8};
  d.ports[{7, 443, 6, 0}] = allow(0);
  d.ports[{8, 0, 6, 0}] = allow(0, EGRESSD_PORT_F_ALWAYS);
  return d;
}

// Every kind of change relative to stateA.
DesiredState stateB() {
  DesiredState d;
  d.workloads[{100}] = {0, 0};
  d.workloads[{102}] = {2, 0};                       // added; 101 removed
  d.scopes[0] = scope(11, EGRESSD_MODE_ALLOW_ANY);   // changed
  d.scopes[2] = scope(33);                           // added; 1 removed
  d.prefixes[prefix("192.0.2.0/24")] = {7};
  d.prefixes[prefix("198.51.100.0/24")] = {9};       // added; 10/8 removed
  d.ports[{7, 443, 6, 0}] = allow(2);                // changed
  d.ports[{9, 80, 6, 0}] = allow(0);                 // added; class 8 removed
  return d;
}

size_t total(const DesiredState& d) { return d.workloads.size() + d.scopes.size() + d.prefixes.size() + d.ports.size(); }

bool sameState(const DesiredState& a, const DesiredState& b) {
  auto eq = [](const auto& x, const auto& y) {
    return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), [](const auto& p, const auto& q) {
             return abiEqual(p.first, q.first) && abiEqual(p.second, q.second);
           });
  };
  return eq(a.workloads, b.workloads) && eq(a.prefixes, b.prefixes) && eq(a.ports, b.ports) &&
         a.scopes.size() == b.scopes.size() &&
         std::equal(a.scopes.begin(), a.scopes.end(), b.scopes.begin(),
                    [](const auto& p, const auto& q) { return p.first == q.first && abiEqual(p.second, q.second); });
}

TEST(MapSync, FirstSyncAddsEverythingSecondIsANoOp) {
  FakeMapBackend maps;
  auto first = syncMaps(maps, stateA());
  EXPECT_TRUE(first.errors.empty());
  EXPECT_EQ(first.added, total(stateA()));
  EXPECT_EQ(first.changed + first.removed, 0u);
  EXPECT_TRUE(sameState(maps.asDesired(), stateA()));

  maps.ops.clear();
  auto second = syncMaps(maps, stateA());
  EXPECT_EQ(second.added + second.changed + second.removed, 0u);
  EXPECT_TRUE(maps.ops.empty());
}

struct DiffCase {
  const char* name;
  DesiredState from;
  DesiredState to;
  size_t added, changed, removed;
};

class MapSyncDiff : public ::testing::TestWithParam<DiffCase> {};

TEST_P(MapSyncDiff, WritesOnlyTheDifference) {
  const auto& c = GetParam();
  FakeMapBackend maps;
  ASSERT_TRUE(syncMaps(maps, c.from).errors.empty());
  maps.ops.clear();
  auto report = syncMaps(maps, c.to);
  EXPECT_TRUE(report.errors.empty());
  EXPECT_EQ(report.added, c.added);
  EXPECT_EQ(report.changed, c.changed);
  EXPECT_EQ(report.removed, c.removed);
  // A changed entry may be written twice: first old | new, then new.
  EXPECT_GE(maps.ops.size(), c.added + c.changed + c.removed);
  EXPECT_LE(maps.ops.size(), c.added + 2 * c.changed + c.removed);
  EXPECT_TRUE(sameState(maps.asDesired(), c.to));
}

DesiredState withPort(DesiredState d, egressd_port_key k, egressd_port_value v) {
  d.ports[k] = v;
  return d;
}

DesiredState withoutWorkload(DesiredState d, uint64_t cgroup) {
  d.workloads.erase({cgroup});
  return d;
}

INSTANTIATE_TEST_SUITE_P(
    Table, MapSyncDiff,
    ::testing::Values(DiffCase{"Same", stateA(), stateA(), 0, 0, 0},
                      DiffCase{"OnePortChanged", stateA(), withPort(stateA(), {7, 443, 6, 0}, allow(1)), 0, 1, 0},
                      DiffCase{"OnePortAdded", stateA(), withPort(stateA(), {7, 80, 6, 0}, allow(1)), 1, 0, 0},
                      DiffCase{"OneWorkloadRemoved", stateA(), withoutWorkload(stateA(), 101), 0, 0, 1},
                      DiffCase{"Everything", stateA(), stateB(), 4, 2, 4},
                      DiffCase{"ToEmpty", stateA(), DesiredState{}, 0, 0, 8}),
    [](const auto& info) { return std::string(info.param.name); });

DesiredState withDns(DesiredState d, uint64_t name_hash, uint16_t server_port) {
  egressd_dns_name_value name{};
  name.exact_class = 9;
  d.dns_names[egressd_dns_name_key{name_hash}] = name;
  egressd_dns_server_key server{};
  server.port = server_port;
  d.dns_servers[server] = egressd_dns_server_value{};
  return d;
}

// Positions of the first and last operation of a kind (-1: none).
struct OpOrder {
  const std::vector<FakeMapBackend::Op>& ops;
  long first(OpKind kind) const {
    for (size_t i = 0; i < ops.size(); ++i)
      if (ops[i].kind == kind) return static_cast<long>(i);
    return -1;
  }
  long last(OpKind kind) const {
    for (size_t i = ops.size(); i-- > 0;)
      if (ops[i].kind == kind) return static_cast<long>(i);
    return -1;
  }
};

// The make-before-break plan (map_sync.cc): what a state needs is written
// before anything points at it; removals come after everything moved.
// (tests/unit/map_sync_invariant_test.cc checks the verdicts themselves.)
TEST(MapSync, OrderMakesEverythingBeforeItBreaksAnything) {
  FakeMapBackend maps;
  ASSERT_TRUE(syncMaps(maps, withDns(stateA(), 1, 53)).errors.empty());
  maps.ops.clear();
  ASSERT_TRUE(syncMaps(maps, withDns(stateB(), 2, 5353)).errors.empty());
  const OpOrder order{maps.ops};
  for (OpKind kind : {OpKind::kPutPort, OpKind::kPutPrefix, OpKind::kPutScope, OpKind::kPutWorkload,
                      OpKind::kDeleteWorkload, OpKind::kClearScope, OpKind::kDeletePrefix, OpKind::kDeletePort,
                      OpKind::kPutDnsName, OpKind::kDeleteDnsName, OpKind::kPutDnsServer, OpKind::kDeleteDnsServer})
    EXPECT_NE(order.first(kind), -1) << static_cast<int>(kind);
  // Classes before the prefixes that point at them; names and servers too.
  EXPECT_LT(order.first(OpKind::kPutPort), order.first(OpKind::kPutPrefix));
  EXPECT_LT(order.first(OpKind::kPutDnsName), order.first(OpKind::kPutPrefix));
  EXPECT_LT(order.first(OpKind::kPutDnsServer), order.first(OpKind::kPutWorkload));
  // A new scope slot before workloads; prefixes before workloads.
  EXPECT_LT(order.first(OpKind::kPutScope), order.first(OpKind::kPutWorkload));
  EXPECT_LT(order.last(OpKind::kPutPrefix), order.first(OpKind::kPutWorkload));
  // Nothing is removed before every workload is where it goes.
  for (OpKind kind : {OpKind::kDeleteWorkload, OpKind::kClearScope, OpKind::kDeletePrefix, OpKind::kDeletePort,
                      OpKind::kDeleteDnsName, OpKind::kDeleteDnsServer})
    EXPECT_GT(order.first(kind), order.last(OpKind::kPutWorkload)) << static_cast<int>(kind);
  // Stale workloads, then their scopes; prefixes, then the ports they used.
  EXPECT_LT(order.last(OpKind::kDeleteWorkload), order.first(OpKind::kClearScope));
  EXPECT_LT(order.last(OpKind::kDeleteWorkload), order.first(OpKind::kDeletePrefix));
  EXPECT_LT(order.last(OpKind::kDeletePrefix), order.first(OpKind::kDeletePort));
  EXPECT_LT(order.last(OpKind::kPutPort), order.first(OpKind::kDeletePrefix));
  EXPECT_EQ(maps.state.dns_names.count(egressd_dns_name_key{2}), 1u);
  EXPECT_EQ(maps.state.dns_names.count(egressd_dns_name_key{1}), 0u);
}

TEST(MapSync, ZeroScopeSlotsAreNotStale) {
  FakeMapBackend maps;  // 256 zero slots
  auto report = syncMaps(maps, DesiredState{});
  EXPECT_EQ(report.removed, 0u);
  EXPECT_TRUE(maps.ops.empty());
}

TEST(MapSync, MapFullFailsOnlyThoseEntries) {
  FakeMapBackend maps;
  maps.port_capacity = 1;
  auto report = syncMaps(maps, stateA());
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_NE(report.errors[0].find("E2BIG"), std::string::npos) << report.errors[0];
  EXPECT_EQ(report.added, total(stateA()) - 1);
  EXPECT_EQ(maps.state.ports.size(), 1u);
  EXPECT_EQ(maps.state.workloads.size(), 2u);
  EXPECT_EQ(maps.state.prefixes.size(), 2u);

  // Room again: the next sync completes the job, touching only what's missing.
  maps.port_capacity = EGRESSD_MAX_DEST_PORTS;
  maps.ops.clear();
  auto retry = syncMaps(maps, stateA());
  EXPECT_TRUE(retry.errors.empty());
  EXPECT_EQ(retry.added, 1u);
  EXPECT_EQ(maps.ops.size(), 1u);
  EXPECT_TRUE(sameState(maps.asDesired(), stateA()));
}

TEST(MapSync, InjectedFailuresAreCollectedOthersApplied) {
  FakeMapBackend maps;
  ASSERT_TRUE(syncMaps(maps, stateA()).errors.empty());
  maps.fail_if = [](const FakeMapBackend::Op& op) {
    return (op.kind == OpKind::kPutWorkload && op.id == 102) || op.kind == OpKind::kDeletePrefix;
  };
  auto report = syncMaps(maps, stateB());
  EXPECT_EQ(report.errors.size(), 2u) << ::testing::PrintToString(report.errors);
  EXPECT_EQ(report.added + report.changed + report.removed, 10u - 2u);
  EXPECT_FALSE(maps.state.workloads.count({102}));
  EXPECT_TRUE(maps.state.prefixes.count(prefix("10.0.0.0/8")));  // stale, its delete failed
  EXPECT_TRUE(maps.state.ports.count({9, 80, 6, 0}));
  EXPECT_FALSE(maps.state.workloads.count({101}));
}

TEST(MapSync, ReadFailureWritesNothing) {
  FakeMapBackend maps;
  maps.fail_read = true;
  auto report = syncMaps(maps, stateA());
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_TRUE(maps.ops.empty());
}

}  // namespace
}  // namespace egressd::testing
