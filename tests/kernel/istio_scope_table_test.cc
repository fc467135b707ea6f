// Istio's sidecar-scope semantics through the real programs: a policy
// written as Istio YAML is parsed, compiled and synced into the maps, then
// real sockets in workloads of several namespaces probe each destination.
// Every row is checked twice: against the table (what Istio's sidecar scope
// imports) and against `egressctl explain` (explainConnection on the same
// compile), so the kernel and explain cannot disagree.
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "compiler/compiler.h"
#include "kernel/datapath_fixture.h"
#include "policy/parser.h"
#include "policy/policy_store.h"
#include "sync/map_sync.h"

namespace egressd::ktest {
namespace {

// The mesh is ALLOW_ANY; every namespace's Sidecar says only
// `outboundTrafficPolicy: {}`, which is REGISTRY_ONLY (the enum default).
constexpr const char* kPolicy = R"(
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec: {meshConfig: {outboundTrafficPolicy: {mode: ALLOW_ANY}}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: a, namespace: ext}
spec: {hosts: [a.example.com], addresses: [192.0.2.1], ports: [{number: 443, name: tls, protocol: TLS}], resolution: STATIC}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: b, namespace: ext}
spec: {hosts: [b.example.com], addresses: [198.51.100.1], ports: [{number: 443, name: tls, protocol: TLS}], resolution: STATIC}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: c, namespace: other}
spec: {hosts: [c.example.com], addresses: [203.0.113.1], ports: [{number: 443, name: tls, protocol: TLS}], resolution: STATIC}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dup, namespace: mine}
spec: {hosts: [dup.example.com], addresses: ["2001:db8::1"], ports: [{number: 443, name: tls, protocol: TLS}], resolution: STATIC}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dup, namespace: other}
spec: {hosts: [dup.example.com], addresses: [192.0.2.200], ports: [{number: 443, name: tls, protocol: TLS}], resolution: STATIC}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: all}
spec: {outboundTrafficPolicy: {}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: only-ext}
spec: {outboundTrafficPolicy: {}, egress: [{hosts: [ext/*]}]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: no-ext}
spec: {outboundTrafficPolicy: {}, egress: [{hosts: ["*/*", "~ext/*"]}]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: no-a}
spec: {outboundTrafficPolicy: {}, egress: [{hosts: ["*/*", "~/a.example.com"]}]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: exact}
spec: {outboundTrafficPolicy: {}, egress: [{hosts: ["*/b.example.com", "./*"]}]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: port}
spec: {outboundTrafficPolicy: {}, egress: [{port: {number: 8443, name: alt, protocol: TLS}, hosts: ["*/*"]}]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: mine}
spec: {outboundTrafficPolicy: {}}
)";

struct Row {
  const char* workload;  // namespace (one workload "app" per namespace)
  const char* addr;
  bool allowed;
  const char* why;
};

// (workload namespace, destination :443) -> what Istio's sidecar scope allows.
const Row kRows[] = {
    {"all", kNetA, true, "no egress: */* imports ext/a"},
    {"all", kNetC, true, "*/* imports other/c"},
    {"all", "203.0.113.7", false, "not in the registry: outboundTrafficPolicy: {} is REGISTRY_ONLY"},
    // dup.example.com comes from mine and other, neither the workload's: one
    // copy is kept (Istio: arbitrary; egressd: the lowest namespace, mine).
    {"all", "2001:db8::1", true, "dup.example.com: mine's copy kept"},
    {"all", kNetAHigh, false, "dup.example.com: other's copy dropped"},
    {"only-ext", kNetA, true, "ext/* imports ext/a"},
    {"only-ext", kNetB, true, "ext/* imports ext/b"},
    {"only-ext", kNetC, false, "other/c is not imported"},
    {"no-ext", kNetA, false, "~ext/* excludes ext/a from */*"},
    {"no-ext", kNetB, false, "~ext/* excludes ext/b"},
    {"no-ext", kNetC, true, "other/c still imported by */*"},
    {"no-a", kNetA, false, "~/a.example.com excludes the host in every namespace"},
    {"no-a", kNetB, true, "ext/b still imported"},
    {"exact", kNetB, true, "*/b.example.com"},
    {"exact", kNetA, false, "a.example.com not imported"},
    {"port", kNetA, false, "443 is not the port of the only egress listener (8443)"},
    {"mine", "2001:db8::1", true, "dup.example.com: the copy in the workload's own namespace is kept"},
    {"mine", kNetAHigh, false, "dup.example.com: other's copy is dropped"},
};

class IstioScopeTableTest : public DatapathTest {};

TEST_F(IstioScopeTableTest, KernelAndExplainFollowIstiosSidecarScope) {
  // One Workload per namespace, each in its own cgroup of the test tree.
  std::string yaml = kPolicy;
  std::map<std::string, uint64_t> cgroups;
  std::map<std::string, std::string> dirs;
  for (const char* ns : {"all", "only-ext", "no-ext", "no-a", "exact", "port", "mine"}) {
    const std::string dir = tree_->make(std::string("w-") + ns);
    auto id = bpf::cgroupIdOf(dir);
    ASSERT_TRUE(id.ok()) << id.error();
    cgroups[std::string(ns) + "/app"] = *id;
    dirs[ns] = dir;
    yaml += "---\napiVersion: egressd.io/v1alpha1\nkind: Workload\nmetadata: {name: app, namespace: " +
            std::string(ns) + "}\nspec: {cgroup: " + dir + "}\n";
  }
  const auto parsed = policy::parseYaml(yaml, "scope-table.yaml");
  ASSERT_TRUE(parsed.rejected.empty()) << parsed.rejected.front().reason;
  policy::PolicyStore store;
  store.apply(parsed);
  const compiler::CompileOutput compiled = compiler::compilePolicy(store.snapshot(), cgroups, {}, {});
  ASSERT_TRUE(compiled.errors.empty()) << compiled.errors.front();
  const auto report = syncMaps(datapath_->maps(), compiled.desired);
  ASSERT_TRUE(report.errors.empty()) << report.errors.front();

  for (const Row& row : kRows) {
    SCOPED_TRACE(std::string(row.workload) + " -> " + row.addr + ":443 (" + row.why + ")");
    const int family = std::strchr(row.addr, ':') ? AF_INET6 : AF_INET;
    const auto run = runProbes(dirs.at(row.workload), {Probe{family, SOCK_STREAM, row.addr, 443}});
    ASSERT_TRUE(run.error.empty()) << run.error;
    const int got = run.errnos[0];
    EXPECT_EQ(got, row.allowed ? 0 : EPERM) << "kernel: " << std::strerror(got);
    const auto explained = compiler::explainConnection(compiled, std::string(row.workload) + "/app", row.addr, 443,
                                                       IPPROTO_TCP);
    ASSERT_TRUE(explained.ok()) << explained.error();
    const bool explain_allows = explained->verdict != EGRESSD_VERDICT_DENIED;
    EXPECT_EQ(explain_allows, got == 0) << "explain says " << explained->detail << ", kernel " << std::strerror(got);
  }
}

}  // namespace
}  // namespace egressd::ktest
