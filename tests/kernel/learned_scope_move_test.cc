// What a workload learned from DNS, across a change of its scope, through
// the real compile, map sync (the pinned maps) and programs, with real
// sockets: a Sidecar that selects web and still imports the name keeps the
// IP allowed without a new answer; a Sidecar that does not import it drops
// it; back in its namespace's scope web has it again (its neighbours' scope
// kept it all along).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>

#include <cerrno>
#include <map>

#include "compiler/compiler.h"
#include "kernel/datapath_fixture.h"
#include "policy/parser.h"
#include "policy/policy_store.h"
#include "sync/map_sync.h"

namespace egressd::ktest {
namespace {

constexpr const char* kPolicy = R"(apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: prod}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: other, namespace: prod}
spec:
  hosts: [other.example.com]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: DNS
)";

// A Sidecar selecting web, named `name`, importing `hosts`.
std::string sidecar(const std::string& name, const std::string& hosts) {
  return "---\napiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: " + name +
         ", namespace: prod}\nspec:\n  workloadSelector: {labels: {app: web}}\n  egress: [{hosts: " + hosts + "}]\n";
}

egressd_dns_learned_key learnedKey(uint32_t scope, const char* ipv4) {
  egressd_dns_learned_key key{};
  key.scope_id = scope;
  key.addr[10] = key.addr[11] = 0xff;
  inet_pton(AF_INET, ipv4, key.addr + 12);
  return key;
}

class LearnedScopeMoveTest : public DatapathTest {
 protected:
  void SetUp() override {
    DatapathTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    web_ = tree_->make("web");
    peer_ = tree_->make("peer");
    for (const auto& [name, dir] : {std::pair{"web", web_}, std::pair{"peer", peer_}}) {
      auto id = bpf::cgroupIdOf(dir);
      ASSERT_TRUE(id.ok()) << id.error();
      cgroups_[std::string("prod/") + name] = *id;
      workloads_ += "---\napiVersion: egressd.io/v1alpha1\nkind: Workload\nmetadata: {name: " + std::string(name) +
                    ", namespace: prod, labels: {app: " + name + "}}\nspec: {cgroup: " + dir + "}\n";
    }
  }

  // Compiles the policy (plus `extra`) against the live ids, as the agent
  // does, and syncs it into the real maps.
  SyncReport apply(const std::string& extra) {
    const auto parsed = policy::parseYaml(std::string(kPolicy) + workloads_ + extra, "policy.yaml");
    EXPECT_TRUE(parsed.rejected.empty()) << parsed.rejected.front().reason;
    policy::PolicyStore store;
    store.apply(parsed);
    auto live = datapath_->maps().readLive();
    EXPECT_TRUE(live.ok());
    compiled_ = compiler::compilePolicy(store.snapshot(), cgroups_, {}, compiler::scopeIdsFromLive(*live),
                                        compiler::gatewayIdsFromLive(*live), compiler::classIdsFromLive(*live));
    EXPECT_TRUE(compiled_.errors.empty()) << compiled_.errors.front();
    SyncReport report = syncMaps(datapath_->maps(), compiled_.desired);
    EXPECT_TRUE(report.errors.empty()) << report.errors.front();
    return report;
  }

  uint32_t scopeOf(const std::string& workload) { return *compiler::workloadScopeId(compiled_, workload); }

  uint32_t hostClass(const std::string& host) {
    for (const auto& [id, text] : compiled_.host_classes) {
      if (text == host) return id;
    }
    ADD_FAILURE() << "no class for " << host;
    return 0;
  }

  std::string web_, peer_, workloads_;
  std::map<std::string, uint64_t> cgroups_;
  compiler::CompileOutput compiled_;
};

TEST_F(LearnedScopeMoveTest, LearnedNameFollowsWebToAScopeThatStillAllowsIt) {
  apply("");
  const uint32_t namespace_scope = scopeOf("prod/web");
  ASSERT_EQ(scopeOf("prod/peer"), namespace_scope);
  expectProbes(web_, {{"not learned yet", {AF_INET, SOCK_STREAM, kNetA, 443}, EPERM}});
  // The answer for api.example.com, as the kernel records it for the scope.
  egressd_dns_learned_value learned{};
  learned.class_ids[0] = hostClass("api.example.com");
  learned.expires_ns = bootNs() + 60'000'000'000ull;
  ASSERT_TRUE(datapath_->putDnsLearned(learnedKey(namespace_scope, kNetA), learned).ok());
  expectProbes(web_, {{"learned in its namespace's scope", {AF_INET, SOCK_STREAM, kNetA, 443}, 0}});

  // A Sidecar that still imports the name: web's new scope has the IP.
  const SyncReport keep = apply(sidecar("web", "[\"./api.example.com\"]"));
  const uint32_t sidecar_scope = scopeOf("prod/web");
  ASSERT_NE(sidecar_scope, namespace_scope);
  EXPECT_EQ(keep.moved_workloads, 1u);
  EXPECT_EQ(keep.learned_copied, 1u);
  auto carried = datapath_->lookupDnsLearned(learnedKey(sidecar_scope, kNetA));
  ASSERT_TRUE(carried.ok() && carried->has_value());
  EXPECT_EQ((*carried)->class_ids[0], hostClass("api.example.com"));
  EXPECT_EQ((*carried)->expires_ns, learned.expires_ns);  // the answer's TTL, not a new one
  expectProbes(web_, {{"kept in the Sidecar's scope", {AF_INET, SOCK_STREAM, kNetA, 443}, 0},
                      {"not another port", {AF_INET, SOCK_STREAM, kNetA, 80}, EPERM}});
  expectProbes(peer_, {{"the namespace scope keeps it", {AF_INET, SOCK_STREAM, kNetA, 443}, 0}});

  // Another Sidecar that imports only other.example.com: web moves again and
  // the name does not come along; the scope it left is gone, with its entry.
  const SyncReport drop = apply(sidecar("web-narrow", "[\"./other.example.com\"]"));
  const uint32_t narrow_scope = scopeOf("prod/web");
  ASSERT_NE(narrow_scope, sidecar_scope);
  EXPECT_EQ(drop.learned_copied, 0u);
  EXPECT_GE(drop.learned_removed, 1u);
  auto none = datapath_->lookupDnsLearned(learnedKey(narrow_scope, kNetA));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto stale = datapath_->lookupDnsLearned(learnedKey(sidecar_scope, kNetA));
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->has_value());
  expectProbes(web_, {{"a scope without the name", {AF_INET, SOCK_STREAM, kNetA, 443}, EPERM}});

  // No Sidecar: web is back with peer, whose scope kept what it learned.
  apply("");
  EXPECT_EQ(scopeOf("prod/web"), namespace_scope);
  expectProbes(web_, {{"back in the namespace scope", {AF_INET, SOCK_STREAM, kNetA, 443}, 0}});
}

}  // namespace
}  // namespace egressd::ktest
