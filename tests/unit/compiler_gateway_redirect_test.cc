// Gateway routes compiled into the kernel maps: redirect bits on the
// destination's class, a gateway slot, the gateway address open to the
// redirected scope, gateway workloads flagged; explain tells the same story.
#include <gtest/gtest.h>

#include "compiler/address.h"
#include "compiler_test_util.h"
#include "policy/parser.h"
#include "policy/policy_store.h"

namespace egressd::compiler {
namespace {
using namespace testing;

// The seed's TLS passthrough setup, with static addresses so the redirect
// lands on a prefix class (DNS-learned hosts get it on their host class).
constexpr const char* kSeed = R"(
apiVersion: v1
kind: Service
metadata: {name: istio-egressgateway, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  clusterIP: 10.96.0.50
  ports: [{name: https, port: 443}]
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: external-api, namespace: production}
spec:
  hosts: [api.external-service.com]
  addresses: [192.0.2.10/32]
  ports: [{number: 443, name: https, protocol: HTTPS}, {number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 192.0.2.10}]
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: external-api-gateway, namespace: production}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [api.external-service.com]
    tls: {mode: PASSTHROUGH}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: external-api-vs, namespace: production}
spec:
  hosts: [api.external-service.com]
  gateways: [mesh, external-api-gateway]
  tls:
  - match: [{gateways: [mesh], port: 443, sniHosts: [api.external-service.com]}]
    route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, port: {number: 443}}}]
---
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec: {meshConfig: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: app, namespace: production, labels: {app: web}}
spec: {cgroup: /app}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: egressgateway, namespace: istio-system, labels: {istio: egressgateway}}
spec: {cgroup: /gw}
)";

CompileOutput compileSeed() { return compileYaml(kSeed, "seed.yaml").out; }

TEST(CompilerGatewayRedirect, SeedRoutesTheAppThroughTheGateway) {
  const auto out = compileSeed();
  ASSERT_EQ(out.desired.gateways.size(), 1u);
  const auto& [id, gw] = *out.desired.gateways.begin();
  EXPECT_EQ(id, 1u);
  EXPECT_EQ(gw.port, 443);
  EXPECT_EQ(gw.family, AF_INET);
  EXPECT_EQ(gw.flags, EGRESSD_GATEWAY_F_ACTIVE);

  auto explain = [&](const std::string& w, const std::string& ip, uint16_t port) {
    auto ex = explainConnection(out, w, ip, port, kTcp);
    EXPECT_TRUE(ex.ok());
    return *ex;
  };
  auto app = explain("production/app", "192.0.2.10", 443);
  EXPECT_EQ(app.verdict, EGRESSD_VERDICT_REDIRECTED) << app.detail;
  EXPECT_EQ(app.reason, EGRESSD_REASON_GATEWAY_ROUTE);
  EXPECT_NE(app.detail.find("istio-system/istio-egressgateway 10.96.0.50:443"), std::string::npos) << app.detail;
  // Port 80 has no route: direct, allowed by the registry.
  EXPECT_EQ(explain("production/app", "192.0.2.10", 80).reason, EGRESSD_REASON_REGISTRY_MATCH);
  // REGISTRY_ONLY: the gateway itself is reachable as the redirect target.
  EXPECT_EQ(explain("production/app", "10.96.0.50", 443).verdict, EGRESSD_VERDICT_ALLOWED);
  EXPECT_EQ(explain("production/app", "198.51.100.7", 443).verdict, EGRESSD_VERDICT_DENIED);

  // The gateway: flagged, not redirected, exempt from REGISTRY_ONLY.
  const auto gw_cgroup = out.workload_cgroups.at("istio-system/egressgateway");
  EXPECT_EQ(out.desired.workloads.at(egressd_workload_key{gw_cgroup}).flags & EGRESSD_WORKLOAD_F_GATEWAY,
            EGRESSD_WORKLOAD_F_GATEWAY);
  EXPECT_NE(explain("istio-system/egressgateway", "192.0.2.10", 443).verdict, EGRESSD_VERDICT_REDIRECTED);
  const auto upstream = explain("istio-system/egressgateway", "198.51.100.7", 443);
  EXPECT_EQ(upstream.verdict, EGRESSD_VERDICT_ALLOWED);
  EXPECT_EQ(upstream.reason, EGRESSD_REASON_GATEWAY_WORKLOAD);
}

// Gateway slots are stable: a target keeps the id the live map gives it, and
// a new one never takes an id a live target holds (map sync writes slots
// before the ports naming them: a renumbered slot would misroute).
TEST(CompilerGatewayRedirect, GatewayIdsSurviveRecompiles) {
  policy::PolicyStore store;
  store.apply(policy::parseYaml(kSeed, "seed.yaml"));
  const auto snapshot = store.snapshot();
  auto compile = [&](const DesiredState& live) {
    return compilePolicy(snapshot, cgroupsFor(snapshot), {}, {}, gatewayIdsFromLive(live));
  };
  auto routedId = [](const CompileOutput& out) {
    const auto prefix = parseAddress("192.0.2.10");
    const auto klass = out.desired.prefixes.at(*prefix).class_id;
    return out.desired.ports.at(egressd_port_key{klass, 443, kTcp, 0}).gateway_id;
  };
  const auto first = compile({});
  ASSERT_EQ(first.desired.gateways.size(), 1u);
  EXPECT_EQ(routedId(first), 1u);
  EXPECT_EQ(routedId(compile(first.desired)), 1u);

  DesiredState live;  // the same gateway in slot 5, another target in slot 1
  live.gateways[5] = first.desired.gateways.at(1);
  live.gateways[1] = first.desired.gateways.at(1);
  live.gateways[1].port = 8443;
  const auto kept = compile(live);
  EXPECT_EQ(routedId(kept), 5u);
  EXPECT_EQ(kept.desired.gateways.count(5), 1u);

  live.gateways.erase(5);  // the seed's gateway is new: not slot 1, still held
  const auto fresh = compile(live);
  EXPECT_EQ(routedId(fresh), 2u);
}

TEST(CompilerGatewayRedirect, NoRoutesNoGateways) {
  policy::PolicyStore store;
  store.apply(policy::parseYaml(R"(
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: app, namespace: production}
spec: {cgroup: /app}
)", "w.yaml"));
  const auto out = compileAll(store.snapshot());
  EXPECT_TRUE(out.desired.gateways.empty());
  for (const auto& [key, value] : out.desired.ports) EXPECT_EQ(value.gateway_id, 0u);
}

}  // namespace
}  // namespace egressd::compiler
