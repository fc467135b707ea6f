// The entry cache only saves work: a chain of random policy changes compiled
// with one cache kept throughout gives, at every step, exactly what a compile
// without it gives: maps, ids, grants, visibility, warnings and errors. The
// changes cover what the cache depends on: entries edited, added, removed and
// renamed, hosts shared across namespaces (the collision rule), exportTo,
// Sidecars, the mesh's exportTo default.
#include <gtest/gtest.h>

#include <random>

#include "compiler/compiler.h"
#include "compiler/entry_cache.h"
#include "compiler_test_util.h"

namespace egressd::compiler::testing {
namespace {

const char* kNamespaces[] = {"prod", "dev", "shared"};
const char* kHosts[] = {"api.example.com", "db.example.com", "*.cdn.example.com", "img.cdn.example.com",
                        "mail.example.org"};

policy::ServiceEntry randomEntry(std::mt19937& rng, int index) {
  const std::string ns = kNamespaces[rng() % 3];
  std::vector<std::string> hosts = {kHosts[rng() % 5]};
  if (rng() % 3 == 0) hosts.push_back("only-" + std::to_string(index) + ".example.net");
  std::vector<std::string> addresses;
  if (rng() % 2) addresses.push_back("198.51." + std::to_string(rng() % 4) + ".0/24");
  if (rng() % 3 == 0) addresses.push_back("198.51." + std::to_string(rng() % 4) + "." + std::to_string(rng() % 8) + "/32");
  std::vector<policy::ServicePort> ports = {port(rng() % 2 ? 443 : 80)};
  if (rng() % 3 == 0) ports.push_back(port(53, policy::PortProtocol::kUdp));
  std::vector<std::string> export_to;
  if (rng() % 4 == 0) export_to = {"."};
  if (rng() % 6 == 0) export_to = {kNamespaces[rng() % 3]};
  const auto resolution = addresses.empty() || rng() % 2 ? policy::Resolution::kDns : policy::Resolution::kNone;
  return serviceEntry(ns, "se-" + std::to_string(index), hosts, addresses, ports, export_to, resolution);
}

policy::PolicySnapshot randomPolicy(std::mt19937& rng) {
  policy::PolicySnapshot p;
  p.mesh.outbound_mode = policy::OutboundMode::kRegistryOnly;
  for (const char* ns : kNamespaces) {
    p.workloads.push_back(workload(ns, "app", {{"app", "app"}}));
    p.workloads.push_back(workload(ns, "job", {{"app", "job"}}));
  }
  for (int i = 0; i < 12; ++i) p.service_entries.push_back(randomEntry(rng, i));
  return p;
}

// One change of the kinds the cache must notice.
void mutate(policy::PolicySnapshot& p, std::mt19937& rng, int& next_index) {
  auto& entries = p.service_entries;
  switch (rng() % 8) {
    case 0:  // an entry edited in place
      if (!entries.empty()) {
        auto& se = entries[rng() % entries.size()];
        const auto edited = randomEntry(rng, 0);
        se.hosts = edited.hosts, se.addresses = edited.addresses, se.ports = edited.ports;
      }
      break;
    case 1:
      entries.push_back(randomEntry(rng, next_index++));
      break;
    case 2:
      if (!entries.empty()) entries.erase(entries.begin() + static_cast<long>(rng() % entries.size()));
      break;
    case 3:  // moved to another namespace: its hosts may now collide, or no longer
      if (!entries.empty()) entries[rng() % entries.size()].meta.namespace_ = kNamespaces[rng() % 3];
      break;
    case 4:
      if (!entries.empty()) entries[rng() % entries.size()].export_to = {rng() % 2 ? "." : "*"};
      break;
    case 5:  // a Sidecar appears, changes or goes
      if (!p.sidecars.empty() && rng() % 2) {
        p.sidecars.clear();
      } else {
        p.sidecars = {sidecar(kNamespaces[rng() % 3], "default", std::nullopt,
                              {rng() % 2 ? "./*" : "*/api.example.com", "~*/db.example.com"})};
        if (rng() % 2) p.sidecars.push_back(sidecar("prod", "jobs", Labels{{"app", "job"}}, {"shared/*"}));
      }
      break;
    case 6:
      p.mesh.default_service_export_to = p.mesh.default_service_export_to.empty()
                                             ? std::vector<std::string>{"."}
                                             : std::vector<std::string>{};
      break;
    default:  // nothing changed: everything comes from the cache
      break;
  }
}

void expectSameOutput(const CompileOutput& a, const CompileOutput& b, const std::string& label) {
  auto same = [](const auto& x, const auto& y) {
    return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), [](const auto& p, const auto& q) {
             return abiEqual(p.first, q.first) && abiEqual(p.second, q.second);
           });
  };
  EXPECT_TRUE(same(a.desired.workloads, b.desired.workloads)) << label;
  EXPECT_TRUE(same(a.desired.scopes, b.desired.scopes)) << label;
  EXPECT_TRUE(same(a.desired.prefixes, b.desired.prefixes)) << label;
  EXPECT_TRUE(same(a.desired.ports, b.desired.ports)) << label;
  EXPECT_TRUE(same(a.desired.dns_names, b.desired.dns_names)) << label;
  EXPECT_EQ(a.services, b.services) << label;
  EXPECT_EQ(a.warnings, b.warnings) << label;
  EXPECT_EQ(a.errors, b.errors) << label;
  EXPECT_EQ(a.host_classes, b.host_classes) << label;
  ASSERT_EQ(a.scopes.size(), b.scopes.size()) << label;
  for (size_t i = 0; i < a.scopes.size(); ++i)
    EXPECT_EQ(a.scopes[i].visible_services, b.scopes[i].visible_services) << label;
  ASSERT_EQ(a.grants.size(), b.grants.size()) << label;
  for (size_t i = 0; i < a.grants.size(); ++i) {
    EXPECT_TRUE(abiEqual(a.grants[i].prefix, b.grants[i].prefix) && a.grants[i].port == b.grants[i].port &&
                a.grants[i].service_id == b.grants[i].service_id && a.grants[i].scope_ids == b.grants[i].scope_ids)
        << label << " grant " << i;
  }
  ASSERT_EQ(a.host_grants.size(), b.host_grants.size()) << label;
  for (size_t i = 0; i < a.host_grants.size(); ++i)
    EXPECT_TRUE(a.host_grants[i].host == b.host_grants[i].host && a.host_grants[i].scope_ids == b.host_grants[i].scope_ids)
        << label << " host grant " << i;
}

TEST(CompilerEntryCache, ChangesCompiledWithTheCacheGiveWhatAFreshCompileGives) {
  std::mt19937 rng(20261207);
  const auto options = compiler::testing::options({}, {{"192.0.2.53", 53}});
  size_t reused = 0, compiles = 0, collisions = 0;
  for (int chain = 0; chain < 30; ++chain) {
    policy::PolicySnapshot p = randomPolicy(rng);
    int next_index = 100;
    EntryCache cache;
    CompileOutput previous;
    for (int step = 0; step < 20; ++step) {
      const auto cgroups = cgroupsFor(p);
      const ScopeIds ids = scopeIdsFromLive(previous.desired);
      const ClassIds classes = classIdsFromLive(previous.desired);
      const CompileOutput fresh = compilePolicy(p, cgroups, options, ids, {}, classes);
      const CompileOutput cached = compilePolicy(p, cgroups, options, ids, {}, classes, &cache);
      expectSameOutput(fresh, cached, "chain " + std::to_string(chain) + " step " + std::to_string(step));
      if (HasFailure()) return;
      reused += cache.hits();
      ++compiles;
      collisions += std::any_of(fresh.warnings.begin(), fresh.warnings.end(),
                                [](const std::string& w) { return w.find("also imported") != std::string::npos; });
      previous = fresh;
      mutate(p, rng, next_index);
    }
  }
  std::printf("  %zu compiles, %zu entries reused from the cache, %zu with a host collision\n", compiles, reused,
              collisions);
  EXPECT_GT(reused, compiles * 3);  // a third of the entries at least come from the cache
  EXPECT_GT(collisions, compiles / 10);
}

}  // namespace
}  // namespace egressd::compiler::testing
