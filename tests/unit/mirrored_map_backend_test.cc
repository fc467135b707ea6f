// The mirror must always equal what the kernel holds, or be forgotten.
#include <gtest/gtest.h>

#include "sync/map_sync.h"
#include "sync/mirrored_map_backend.h"
#include "unit/fake_map_backend.h"

namespace egressd {
namespace {

using testing::FakeMapBackend;

DesiredState someState(uint32_t scope_mode, uint64_t cgroup) {
  DesiredState d;
  egressd_scope_value scope{};
  scope.flags = EGRESSD_SCOPE_F_ACTIVE;
  scope.outbound_mode = static_cast<uint8_t>(scope_mode);
  d.scopes[3] = scope;
  d.workloads[egressd_workload_key{cgroup}] = egressd_workload_value{3, 0};
  egressd_prefix_key prefix{};
  prefix.prefixlen = 120;
  prefix.addr[10] = prefix.addr[11] = 0xff;
  prefix.addr[12] = 192;
  d.prefixes[prefix] = egressd_prefix_value{7};
  egressd_port_key port{};
  port.class_id = 7;
  port.port = 443;
  port.protocol = 6;
  d.ports[port] = egressd_port_value{};
  return d;
}

// Inactive scope slots are "no scope" (the kernel backend does not list them).
std::map<uint32_t, egressd_scope_value> activeScopes(const DesiredState& d) {
  std::map<uint32_t, egressd_scope_value> active;
  for (const auto& [id, value] : d.scopes) {
    if (value.flags & EGRESSD_SCOPE_F_ACTIVE) active[id] = value;
  }
  return active;
}

bool sameState(const DesiredState& a, const DesiredState& b) {
  auto eq = [](const auto& x, const auto& y) {
    if (x.size() != y.size()) return false;
    for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j) {
      if (!abiEqual(i->first, j->first) || !abiEqual(i->second, j->second)) return false;
    }
    return true;
  };
  return eq(a.workloads, b.workloads) && eq(activeScopes(a), activeScopes(b)) && eq(a.prefixes, b.prefixes) &&
         eq(a.ports, b.ports) && eq(a.dns_names, b.dns_names) && eq(a.dns_servers, b.dns_servers);
}

TEST(MirroredMapBackend, ReadsTheKernelOnceThenTracksItsOwnWrites) {
  FakeMapBackend kernel;
  MirroredMapBackend mirror(kernel);
  syncMaps(mirror, someState(EGRESSD_MODE_REGISTRY_ONLY, 100));
  syncMaps(mirror, someState(EGRESSD_MODE_ALLOW_ANY, 200));
  syncMaps(mirror, DesiredState{});  // everything removed, the scope slot cleared
  syncMaps(mirror, someState(EGRESSD_MODE_REGISTRY_ONLY, 300));

  auto live = kernel.readLive();
  auto mirrored = mirror.readLive();
  ASSERT_TRUE(live && mirrored);
  EXPECT_TRUE(sameState(*live, *mirrored));
  EXPECT_TRUE(sameState(*live, someState(EGRESSD_MODE_REGISTRY_ONLY, 300)));
  auto view = mirror.live();  // the same state, without a copy
  ASSERT_TRUE(view);
  EXPECT_TRUE(sameState(*live, **view));
}

TEST(MirroredMapBackend, AFailedWriteForgetsTheMirrorSoTheNextSyncRepairs) {
  FakeMapBackend kernel;
  MirroredMapBackend mirror(kernel);
  kernel.fail_if = [](const FakeMapBackend::Op& op) { return op.kind == FakeMapBackend::OpKind::kPutWorkload; };
  SyncReport failed = syncMaps(mirror, someState(EGRESSD_MODE_REGISTRY_ONLY, 100));
  EXPECT_FALSE(failed.errors.empty());

  kernel.fail_if = nullptr;
  SyncReport repaired = syncMaps(mirror, someState(EGRESSD_MODE_REGISTRY_ONLY, 100));
  EXPECT_TRUE(repaired.errors.empty());
  EXPECT_EQ(repaired.added, 1u);  // only the workload was missing
  auto live = kernel.readLive();
  ASSERT_TRUE(live);
  EXPECT_TRUE(sameState(*live, someState(EGRESSD_MODE_REGISTRY_ONLY, 100)));
}

TEST(MirroredMapBackend, DoesNotReadTheKernelAgainWhileItsWritesSucceed) {
  FakeMapBackend kernel;
  MirroredMapBackend mirror(kernel);
  syncMaps(mirror, someState(EGRESSD_MODE_REGISTRY_ONLY, 100));
  kernel.fail_read = true;  // a second kernel read would now fail the sync
  SyncReport second = syncMaps(mirror, someState(EGRESSD_MODE_ALLOW_ANY, 100));
  EXPECT_TRUE(second.errors.empty());
  EXPECT_EQ(second.changed, 1u);
}

}  // namespace
}  // namespace egressd
