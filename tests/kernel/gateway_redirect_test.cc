// Egress gateway redirect on real sockets: connect() rewritten to the
// gateway, getpeername() still the original, gateway workloads exempt and
// never redirected, hosts without a route go direct, a missing gateway slot
// fails closed, the per-socket state is deleted when the socket closes.
#include <bpf/bpf.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "bpf/unique_fd.h"
#include "kernel/datapath_fixture.h"

namespace egressd::ktest {
namespace {

constexpr uint32_t kScope = 1;
constexpr uint32_t kGw4 = 1;
constexpr uint32_t kGw6 = 2;
constexpr uint32_t kGwMissing = 9;
constexpr uint16_t kGwPort = 15443;
constexpr uint32_t kHostClass = 50;  // a DNS-learned host, as host_classes.cc emits

// REGISTRY_ONLY scope 1 (an app and the gateway itself):
//  class 1  192.0.2.0/24     tcp/443 -> gateway 1 (203.0.113.1:15443), tcp/80 direct
//  class 2  192.0.2.200/32   tcp/443 -> gateway 9 (no such slot)
//  class 3  2001:db8::/64    tcp/443 -> gateway 2 ([2001:db8:1::1]:15443)
//  host class 50: 198.51.100.1 learned for scope 1; tcp/443 -> gateway 1
// The gateway addresses are in no class: reached only as a redirect target.
class GatewayRedirectTest : public DatapathTest {
 protected:
  void SetUp() override {
    DatapathTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    addScope(kScope, EGRESSD_MODE_REGISTRY_ONLY);
    addGateway(kGw4, kNetC, kGwPort);
    addGateway(kGw6, kNet6Other, kGwPort);
    addPrefix("192.0.2.0/24", 1);
    addRedirect(1, 443, {kScope}, kGw4);
    addPort(1, 80, IPPROTO_TCP, {kScope});
    addPrefix("192.0.2.200/32", 2);
    addRedirect(2, 443, {kScope}, kGwMissing);
    addPrefix("2001:db8::/64", 3);
    addRedirect(3, 443, {kScope}, kGw6);
    addRedirect(kHostClass, 443, {kScope}, kGw4);
    learn(kNetB, kHostClass);
    app_ = tree_->make("app");
    gateway_ = tree_->make("gateway");
    addWorkload(app_, kScope);
    addWorkload(gateway_, kScope, EGRESSD_WORKLOAD_F_GATEWAY);
  }

  void learn(const char* v4, uint32_t class_id) {
    egressd_dns_learned_key key{};
    key.scope_id = kScope;
    const auto prefix = prefixKey(v4);
    std::memcpy(key.addr, prefix.addr, sizeof(key.addr));
    egressd_dns_learned_value value{};
    value.class_ids[0] = class_id;
    timespec now{};
    ::clock_gettime(CLOCK_BOOTTIME, &now);
    value.expires_ns = static_cast<uint64_t>(now.tv_sec + 600) * 1000000000ull;
    auto st = datapath_->putDnsLearned(key, value);
    ASSERT_TRUE(st.ok()) << st.error();
  }

  // Redirects that found their slot held.
  uint64_t fallbacks() { return flowCounter(EGRESSD_FLOW_REDIRECT_FALLBACK); }

  // Entries in the `redirected` map (socket cookie -> original destination).
  uint32_t redirectedEntries() {
    bpf::UniqueFd fd(bpf_obj_get((bpffs_dir_ + "/redirected").c_str()));
    EXPECT_TRUE(fd.valid()) << "open pinned map redirected";
    egressd_redirect_key key{}, next{};
    uint32_t count = 0;
    for (const void* prev = nullptr; bpf_map_get_next_key(fd.get(), prev, &next) == 0; prev = &key) {
      key = next;
      ++count;
    }
    return count;
  }

  bpf::UniqueFd slotsFd() {
    bpf::UniqueFd fd(bpf_obj_get((bpffs_dir_ + "/redirected_slots").c_str()));
    EXPECT_TRUE(fd.valid()) << "open pinned map redirected_slots";
    return fd;
  }

  // Writes every slot from `make(index)`, as a socket holding it would.
  void writeSlots(const std::function<egressd_redirect_slot(uint32_t)>& make) {
    auto fd = slotsFd();
    for (uint32_t i = 0; i < EGRESSD_REDIRECT_SLOTS; ++i) {
      const egressd_redirect_slot slot = make(i);
      ASSERT_EQ(bpf_map_update_elem(fd.get(), &i, &slot, BPF_ANY), 0) << "slot " << i;
    }
  }

  // Slots for which `match(index, slot)` holds.
  uint32_t countSlots(const std::function<bool(uint32_t, const egressd_redirect_slot&)>& match) {
    auto fd = slotsFd();
    uint32_t count = 0;
    for (uint32_t i = 0; i < EGRESSD_REDIRECT_SLOTS; ++i) {
      egressd_redirect_slot slot{};
      EXPECT_EQ(bpf_map_lookup_elem(fd.get(), &i, &slot), 0) << "slot " << i;
      count += match(i, slot) ? 1 : 0;
    }
    return count;
  }

  // Slots a socket holds (nonzero cookie), and any with state left behind.
  uint32_t heldSlots() {
    return countSlots([](uint32_t, const egressd_redirect_slot& s) { return s.cookie != 0; });
  }
  uint32_t dirtySlots() {
    static const egressd_redirect_slot kFree{};
    return countSlots([](uint32_t, const egressd_redirect_slot& s) { return !abiEqual(s, kFree); });
  }

  std::string app_;
  std::string gateway_;
};

// abi_info's sticky flags (abi.h), as the pinned map holds them.
uint32_t abiFlags(const std::string& bpffs_dir) {
  bpf::UniqueFd fd(bpf_obj_get((bpffs_dir + "/abi_info").c_str()));
  EXPECT_TRUE(fd.valid()) << "open pinned map abi_info";
  const uint32_t zero = 0;
  egressd_abi_info info{};
  EXPECT_EQ(bpf_map_lookup_elem(fd.get(), &zero, &info), 0);
  return info.flags;
}

bool lruFlag(const std::string& bpffs_dir) { return abiFlags(bpffs_dir) & EGRESSD_ABI_F_REDIRECT_LRU_USED; }

// sock_release looks in the `redirected` LRU only once it may hold entries:
// a datapath that never had a gateway has the flag clear; the first gateway
// written sets it first (sticky: a reopened datapath keeps it), and then a
// redirect that found its slot held still has its LRU entry deleted at close
// (TakenSlotFallsBackToLru).
TEST_F(DatapathTest, RedirectLruFlagIsSetBeforeTheFirstGateway) {
  EXPECT_FALSE(lruFlag(bpffs_dir_)) << "no gateway yet";
  addScope(1, EGRESSD_MODE_REGISTRY_ONLY);
  addPrefix("192.0.2.0/24", 1);
  addPort(1, 443, IPPROTO_TCP, {1});
  EXPECT_FALSE(lruFlag(bpffs_dir_)) << "policy without a gateway";
  addGateway(1, kNetC, kGwPort);
  EXPECT_TRUE(lruFlag(bpffs_dir_));
  openDatapath();
  EXPECT_TRUE(lruFlag(bpffs_dir_)) << "sticky across a restart";
}

// Programs loaded over an LRU that already holds entries (an older build's,
// which set no flag) set it, so those entries are still deleted at close.
TEST_F(DatapathTest, LoadOverAFilledRedirectLruSetsTheFlag) {
  openDatapath();
  EXPECT_FALSE(lruFlag(bpffs_dir_)) << "empty LRU";
  {
    bpf::UniqueFd fd(bpf_obj_get((bpffs_dir_ + "/redirected").c_str()));
    ASSERT_TRUE(fd.valid());
    const egressd_redirect_key key{1ull << 62};
    const egressd_redirect_state state{};
    ASSERT_EQ(bpf_map_update_elem(fd.get(), &key, &state, BPF_ANY), 0);
  }
  EXPECT_FALSE(lruFlag(bpffs_dir_));
  openDatapath();
  EXPECT_TRUE(lruFlag(bpffs_dir_));
}

// Connects to (addr, port); expects getpeername == (addr, port) and the
// connection on the gateway's listener iff `via`.
Probe peer(int family, const std::string& addr, uint16_t port, bool via) {
  Probe p{family, SOCK_STREAM, addr, port, Op::kPeername};
  p.via_port = kGwPort;
  p.expect_via = via;
  return p;
}
std::string mapped(const char* v4) { return std::string("::ffff:") + v4; }

TEST_F(GatewayRedirectTest, AppIsRedirectedAndCannotTell) {
  expectProbes(app_, {
      {"v4 routed host -> gateway", peer(AF_INET, kNetA, 443, true), 0},
      {"v6 routed host -> v6 gateway", peer(AF_INET6, kNet6, 443, true), 0},
      {"v4-mapped on AF_INET6 -> gateway (v4-mapped)", peer(AF_INET6, mapped(kNetA), 443, true), 0},
      {"DNS-learned routed host -> gateway", peer(AF_INET, kNetB, 443, true), 0},
      {"same class, port without route: direct", peer(AF_INET, kNetA, 80, false), 0},
      {"gateway slot missing: denied, never around it", peer(AF_INET, kNetAHigh, 443, false), EPERM},
      {"not in registry: denied", peer(AF_INET, kNetC, 8443, false), EPERM},
      {"udp to a routed port is not redirected (no UDP entry)", {AF_INET, SOCK_DGRAM, kNetA, 443}, EPERM},
  });
  const auto redirected = counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_GATEWAY_ROUTE);
  EXPECT_EQ(redirected.allowed, 2u);  // v4 static + v4 learned
  EXPECT_EQ(redirected.denied, 1u);   // missing slot
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT6, EGRESSD_REASON_GATEWAY_ROUTE).allowed, 2u);
}

// The flow of a redirected connect is the destination the app asked for,
// port included, not the gateway's port (its packets count on the gateway's
// own flow, at TC).
TEST_F(GatewayRedirectTest, RedirectIsRecordedOnTheOriginalDestination) {
  expectProbes(app_, {
      {"v4", peer(AF_INET, kNetA, 443, true), 0},
      {"v6", peer(AF_INET6, kNet6, 443, true), 0},
  });
  auto id = bpf::cgroupIdOf(app_);
  ASSERT_TRUE(id.ok()) << id.error();
  for (const char* addr : {kNetA, kNet6}) {
    egressd_flow_value v{};
    EXPECT_TRUE(lookupFlow(flowKey(*id, addr, 443, IPPROTO_TCP), &v)) << addr;
    EXPECT_EQ(v.connects_redirected, 1u) << addr;
    EXPECT_FALSE(lookupFlow(flowKey(*id, addr, kGwPort, IPPROTO_TCP), &v)) << addr << ": the gateway's port";
  }
}

// n each of v4, v6 and v4-mapped redirects, getpeername checked on each.
std::vector<ProbeCase> redirectCycles(int n) {
  std::vector<ProbeCase> cases;
  for (int i = 0; i < n; ++i) {
    cases.push_back({"v4", peer(AF_INET, kNetA, 443, true), 0});
    cases.push_back({"v6", peer(AF_INET6, kNet6, 443, true), 0});
    cases.push_back({"v4-mapped", peer(AF_INET6, mapped(kNetA), 443, true), 0});
  }
  return cases;
}

// sock_release deletes each socket's state: many connect/close cycles (v4,
// v6, v4-mapped, each with getpeername checked) leave no slot held or dirty
// and the LRU empty.
TEST_F(GatewayRedirectTest, StateIsGoneAfterClose) {
  const auto cases = redirectCycles(100);
  expectProbes(app_, cases);
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_GATEWAY_ROUTE).allowed, 100u);
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT6, EGRESSD_REASON_GATEWAY_ROUTE).allowed, 200u);
  EXPECT_EQ(redirectedEntries(), 0u);
  EXPECT_EQ(heldSlots(), 0u);
  EXPECT_EQ(dirtySlots(), 0u);
  expectProbes(app_, cases);
  EXPECT_EQ(redirectedEntries(), 0u);
  EXPECT_EQ(heldSlots(), 0u);
  EXPECT_EQ(dirtySlots(), 0u);
  EXPECT_EQ(mapFillEntries("redirected_slots"), 0u);
}

// A slot held by another socket is never taken over: the redirect goes
// through the LRU instead, getpeername still answers, and the holder's slot
// is untouched. First every slot taken, then every other one (sockets on
// both paths in one run), then none.
TEST_F(GatewayRedirectTest, TakenSlotFallsBackToLru) {
  constexpr uint64_t kForeign = 1ull << 63;  // far above any real cookie
  auto foreign = [](uint32_t i) {
    egressd_redirect_slot slot{};
    slot.cookie = kForeign | i;
    slot.state.gateway_id = 77;
    slot.state.via_port = 0xbeef;
    return slot;
  };
  auto untouched = [&](uint32_t i, const egressd_redirect_slot& s) { return abiEqual(s, foreign(i)); };
  const auto cases = redirectCycles(40);

  writeSlots(foreign);
  EXPECT_EQ(mapFillEntries("redirected_slots"), uint32_t{EGRESSD_REDIRECT_SLOTS});
  expectProbes(app_, cases);
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_GATEWAY_ROUTE).allowed, 40u);
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT6, EGRESSD_REASON_GATEWAY_ROUTE).allowed, 80u);
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_GATEWAY_ROUTE).denied, 0u);
  EXPECT_EQ(countSlots(untouched), uint32_t{EGRESSD_REDIRECT_SLOTS});
  EXPECT_EQ(redirectedEntries(), 0u);
  EXPECT_EQ(fallbacks(), 120u) << "every redirect took the LRU";

  writeSlots([&](uint32_t i) { return i % 2 ? egressd_redirect_slot{} : foreign(i); });
  EXPECT_EQ(mapFillEntries("redirected_slots"), uint32_t{EGRESSD_REDIRECT_SLOTS} / 2);
  expectProbes(app_, cases);
  EXPECT_EQ(countSlots([&](uint32_t i, const egressd_redirect_slot& s) {
              return i % 2 ? abiEqual(s, egressd_redirect_slot{}) : untouched(i, s);
            }),
            uint32_t{EGRESSD_REDIRECT_SLOTS});
  EXPECT_EQ(redirectedEntries(), 0u);
  const uint64_t half = fallbacks() - 120;
  EXPECT_GT(half, 0u) << "some cookies map to held slots";
  EXPECT_LT(half, 120u) << "some to free ones";

  writeSlots([](uint32_t) { return egressd_redirect_slot{}; });
  expectProbes(app_, cases);
  EXPECT_EQ(fallbacks(), 120u + half) << "free slots: no fallback";
  EXPECT_EQ(heldSlots(), 0u);
  EXPECT_EQ(dirtySlots(), 0u);
  EXPECT_EQ(redirectedEntries(), 0u);
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_GATEWAY_ROUTE).allowed, 120u);
}

TEST_F(GatewayRedirectTest, GatewayWorkloadGoesDirectAndIsExempt) {
  expectProbes(gateway_, {
      {"routed host: direct, no loop", peer(AF_INET, kNetA, 443, false), 0},
      {"v6 routed host: direct", peer(AF_INET6, kNet6, 443, false), 0},
      {"learned routed host: direct", peer(AF_INET, kNetB, 443, false), 0},
      {"not in registry: exempt from REGISTRY_ONLY", peer(AF_INET, kNetC, 8443, false), 0},
  });
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_GATEWAY_ROUTE).allowed, 0u);
  EXPECT_EQ(counter(EGRESSD_HOOK_CONNECT4, EGRESSD_REASON_GATEWAY_WORKLOAD).allowed, 1u);
}

TEST_F(GatewayRedirectTest, RemovedRouteGoesDirect) {
  addPort(1, 443, IPPROTO_TCP, {kScope});  // same entry, redirect bits cleared
  expectProbes(app_, {{"allowed, direct", peer(AF_INET, kNetA, 443, false), 0}});
}

}  // namespace
}  // namespace egressd::ktest
