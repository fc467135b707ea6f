// The defaults the parsers fill in for fields left out, one test each, against
// Istio's API protos (networking/v1alpha3, mesh/v1alpha1): an enum field
// left out is the enum's 0 value, a message left out is absent.
#include <gtest/gtest.h>

#include "compiler_test_util.h"
#include "policy/parser.h"
#include "policy_test_util.h"

namespace egressd::policy {
namespace {

using testing::objectYaml;
using testing::reasons;
using testing::serviceEntryYaml;
using testing::sidecarYaml;
using testing::warnings;

ParsedDocuments parseOne(const std::string& yaml) {
  ParsedDocuments parsed = parseYaml(yaml, "defaults.yaml");
  EXPECT_TRUE(parsed.rejected.empty()) << reasons(parsed);
  return parsed;
}

std::string meshYaml(const std::string& mesh_config) {
  return "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: mesh, namespace: "
         "istio-system}\nspec: {meshConfig: " +
         mesh_config + "}\n";
}

// OutboundTrafficPolicy.Mode: REGISTRY_ONLY = 0.
TEST(PolicyDefaults, SidecarOutboundTrafficPolicyWithoutModeIsRegistryOnly) {
  const auto parsed = parseOne(sidecarYaml("{outboundTrafficPolicy: {}}"));
  ASSERT_EQ(parsed.sidecars.size(), 1u);
  EXPECT_EQ(parsed.sidecars[0].outbound_mode, OutboundMode::kRegistryOnly);
}

TEST(PolicyDefaults, SidecarOutboundTrafficPolicyWithNullModeIsRegistryOnly) {
  const auto parsed = parseOne(sidecarYaml("{outboundTrafficPolicy: {mode: null}}"));
  ASSERT_EQ(parsed.sidecars.size(), 1u);
  EXPECT_EQ(parsed.sidecars[0].outbound_mode, OutboundMode::kRegistryOnly);
}

TEST(PolicyDefaults, SidecarWithoutOutboundTrafficPolicyKeepsTheMeshMode) {
  const auto parsed = parseOne(sidecarYaml("{egress: [{hosts: ['./*']}]}"));
  ASSERT_EQ(parsed.sidecars.size(), 1u);
  EXPECT_FALSE(parsed.sidecars[0].outbound_mode.has_value());
}

TEST(PolicyDefaults, SidecarRejectsAllowAnyDynamicDns) {
  const auto parsed = parseYaml(sidecarYaml("{outboundTrafficPolicy: {mode: ALLOW_ANY_DYNAMIC_DNS}}"), "s.yaml");
  ASSERT_EQ(parsed.rejected.size(), 1u);
  EXPECT_NE(parsed.rejected[0].reason.find("only supported in the mesh config"), std::string::npos);
}

// MeshConfig: DefaultMeshConfig() sets ALLOW_ANY; a present
// outboundTrafficPolicy replaces it as a whole, so {} is REGISTRY_ONLY.
TEST(PolicyDefaults, MeshWithoutOutboundTrafficPolicyIsAllowAny) {
  const auto parsed = parseOne(meshYaml("{rootNamespace: istio-system}"));
  ASSERT_TRUE(parsed.mesh.has_value());
  EXPECT_EQ(parsed.mesh->outbound_mode, OutboundMode::kAllowAny);
}

TEST(PolicyDefaults, MeshOutboundTrafficPolicyWithoutModeIsRegistryOnly) {
  const auto parsed = parseOne(meshYaml("{outboundTrafficPolicy: {}}"));
  ASSERT_TRUE(parsed.mesh.has_value());
  EXPECT_EQ(parsed.mesh->outbound_mode, OutboundMode::kRegistryOnly);
}

TEST(PolicyDefaults, MeshAllowAnyDynamicDnsIsAllowAnyWithAWarning) {
  const auto parsed = parseOne(meshYaml("{outboundTrafficPolicy: {mode: ALLOW_ANY_DYNAMIC_DNS}}"));
  ASSERT_TRUE(parsed.mesh.has_value());
  EXPECT_EQ(parsed.mesh->outbound_mode, OutboundMode::kAllowAny);
  EXPECT_NE(warnings(parsed).find("enforced as ALLOW_ANY"), std::string::npos) << warnings(parsed);
}

// ServerTLSSettings.TLSmode: PASSTHROUGH = 0.
TEST(PolicyDefaults, GatewayServerTlsWithoutModeIsPassthrough) {
  const auto parsed = parseOne(objectYaml(
      "networking.istio.io/v1", "Gateway",
      "{selector: {istio: egressgateway}, servers: [{port: {number: 443, name: tls, protocol: TLS}, hosts: "
      "[api.example.com], tls: {}}]}"));
  ASSERT_EQ(parsed.gateways.size(), 1u);
  ASSERT_TRUE(parsed.gateways[0].servers[0].tls.has_value());
  EXPECT_EQ(parsed.gateways[0].servers[0].tls->mode, ServerTlsMode::kPassthrough);
}

// ServiceEntry.Location: MESH_EXTERNAL = 0; Resolution: NONE = 0.
TEST(PolicyDefaults, ServiceEntryLocationIsMeshExternal) {
  const auto parsed =
      parseOne(serviceEntryYaml("{hosts: [api.example.com], ports: [{number: 443, name: https, protocol: TLS}]}"));
  ASSERT_EQ(parsed.service_entries.size(), 1u);
  EXPECT_EQ(parsed.service_entries[0].location, Location::kMeshExternal);
}

TEST(PolicyDefaults, ServiceEntryResolutionIsNone) {
  const auto parsed =
      parseOne(serviceEntryYaml("{hosts: [api.example.com], ports: [{number: 443, name: https, protocol: TLS}]}"));
  ASSERT_EQ(parsed.service_entries.size(), 1u);
  EXPECT_EQ(parsed.service_entries[0].resolution, Resolution::kNone);
}

// Port.protocol: empty means sniffed; carries no host name at connect().
TEST(PolicyDefaults, ServiceEntryPortProtocolIsUnspecified) {
  const auto parsed = parseOne(
      serviceEntryYaml("{hosts: [api.example.com], addresses: [192.0.2.1], ports: [{number: 8080, name: app}]}"));
  ASSERT_EQ(parsed.service_entries.size(), 1u);
  EXPECT_EQ(parsed.service_entries[0].ports[0].protocol, PortProtocol::kUnspecified);
}

// ClientTLSSettings.TLSmode: DISABLE = 0.
TEST(PolicyDefaults, DestinationRuleTlsWithoutModeIsDisable) {
  const auto parsed =
      parseOne(objectYaml("networking.istio.io/v1", "DestinationRule",
                          "{host: api.example.com, trafficPolicy: {tls: {sni: api.example.com}}}"));
  ASSERT_EQ(parsed.destination_rules.size(), 1u);
  ASSERT_TRUE(parsed.destination_rules[0].traffic_policy->tls.has_value());
  EXPECT_EQ(parsed.destination_rules[0].traffic_policy->tls->mode, ClientTlsMode::kDisable);
}

// The attack: in an ALLOW_ANY mesh, a namespace that asked for lockdown with
// `outboundTrafficPolicy: {}` must not reach an unregistered address.
TEST(PolicyDefaults, SidecarWithEmptyOutboundTrafficPolicyDeniesUnregisteredDestinations) {
  using namespace compiler::testing;
  const CompiledYaml c = compileYaml(R"(
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: locked}
spec: {outboundTrafficPolicy: {}}
---
apiVersion: egressd.io/v1alpha1
kind: Workload
metadata: {name: app, namespace: locked}
spec: {cgroup: /app}
)");
  expectProbes(c.out, {{"locked/app", "198.51.100.7", 443, kTcp, kDenied, kNotInRegistry}});
}

}  // namespace
}  // namespace egressd::policy
