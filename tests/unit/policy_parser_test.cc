// Documents and files: routing by apiVersion/kind, multi-document files, mesh
// config, Workloads, and the message format.
#include <gtest/gtest.h>

#include "policy/describe.h"
#include "policy/parser.h"
#include "policy_test_util.h"

namespace egressd::policy {
namespace {

using testing::objectYaml;
using testing::reasons;

constexpr const char* kSeSpec = "{hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}";

struct VersionCase {
  const char* api_version;
  const char* kind;
  bool accepted;
};

const VersionCase kVersions[] = {
    {"networking.istio.io/v1alpha3", "ServiceEntry", true},
    {"networking.istio.io/v1beta1", "ServiceEntry", true},
    {"networking.istio.io/v1", "ServiceEntry", true},
    {"networking.istio.io/v2", "ServiceEntry", false},
    {"networking.istio.io/v1alpha3", "Sidecar", true},
    {"networking.istio.io/v1beta1", "Sidecar", true},
    {"networking.istio.io/v1", "Sidecar", true},
    {"networking.istio.io/v1alpha1", "Sidecar", false},
};

class PolicyParserApiVersion : public ::testing::TestWithParam<VersionCase> {};

TEST_P(PolicyParserApiVersion, AcceptsIstioVersions) {
  const VersionCase& c = GetParam();
  const std::string spec = std::string(c.kind) == "Sidecar" ? "{egress: [{hosts: ['./*']}]}" : kSeSpec;
  const ParsedDocuments parsed = parseYaml(objectYaml(c.api_version, c.kind, spec), "v.yaml");
  const size_t accepted = parsed.service_entries.size() + parsed.sidecars.size();
  EXPECT_EQ(accepted, c.accepted ? 1u : 0u) << reasons(parsed);
  if (!c.accepted) {
    ASSERT_EQ(parsed.rejected.size(), 1u);
    EXPECT_NE(parsed.rejected[0].reason.find("apiVersion"), std::string::npos) << parsed.rejected[0].reason;
  }
}

INSTANTIATE_TEST_SUITE_P(Policy, PolicyParserApiVersion, ::testing::ValuesIn(kVersions));

TEST(PolicyParser, MultiDocumentKeepsGoodDocumentsNextToBadOnes) {
  const std::string yaml = R"(# policies for the shop
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: good-1, namespace: shop}
spec: {hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: bad, namespace: shop}
spec:
  hosts: [db.example.com]
  addresses:
  - 10.0.0.0/33
  ports: [{number: 5432, name: pg, protocol: TCP}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: egress-gw, namespace: istio-system}
spec: {selector: {istio: egressgateway}, servers: [{port: {number: 443, name: tls, protocol: TLS}, hosts: [api.example.com], tls: {mode: PASSTHROUGH}}]}
---
just: a map without kind
---
- a list
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: shop}
spec: {egress: [{hosts: ["./*"]}]}
---
)";
  const ParsedDocuments parsed = parseYaml(yaml, "policies/se.yaml");
  ASSERT_EQ(parsed.service_entries.size(), 1u);
  EXPECT_EQ(parsed.service_entries[0].meta.name, "good-1");
  EXPECT_EQ(parsed.service_entries[0].source.line, 2);
  ASSERT_EQ(parsed.sidecars.size(), 1u);
  EXPECT_EQ(parsed.sidecars[0].source.line, 25);
  ASSERT_EQ(parsed.gateways.size(), 1u);
  EXPECT_EQ(parsed.gateways[0].source.line, 16);
  ASSERT_EQ(parsed.rejected.size(), 3u) << reasons(parsed);
  EXPECT_EQ(describe(parsed.rejected[0]),
            "ServiceEntry shop/bad (policies/se.yaml:13): addresses[0] \"10.0.0.0/33\" is not a valid IP or CIDR");
  EXPECT_EQ(parsed.rejected[1].kind, "Unknown");
  EXPECT_NE(parsed.rejected[1].reason.find("no kind"), std::string::npos);
  EXPECT_EQ(parsed.rejected[1].source.line, 21);
  EXPECT_NE(parsed.rejected[2].reason.find("document is a list"), std::string::npos);
  EXPECT_TRUE(parsed.unreadable_files.empty());
}

TEST(PolicyParser, SyntaxErrorMakesTheFileUnreadable) {
  const ParsedDocuments parsed = parseYaml(R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ok}
spec: {hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}]}
---
kind: ServiceEntry
spec: {hosts: [unterminated
)", "broken.yaml");
  EXPECT_EQ(parsed.unreadable_files, std::vector<std::string>{"broken.yaml"});
  EXPECT_TRUE(parsed.service_entries.empty());
  EXPECT_TRUE(parsed.rejected.empty());
  ASSERT_EQ(parsed.warnings.size(), 1u);
  EXPECT_EQ(parsed.warnings[0].kind, "File");
  EXPECT_NE(parsed.warnings[0].message.find("YAML syntax error"), std::string::npos);
}

TEST(PolicyParser, TabIndentationIsASyntaxError) {
  const ParsedDocuments parsed = parseYaml("kind: ServiceEntry\nspec:\n\thosts: [a]\n", "tabs.yaml");
  EXPECT_EQ(parsed.unreadable_files.size(), 1u);
}

TEST(PolicyParser, EmptyTextHasNothing) {
  const ParsedDocuments parsed = parseYaml("", "empty.yaml");
  EXPECT_TRUE(parsed.rejected.empty());
  EXPECT_TRUE(parsed.unreadable_files.empty());
  EXPECT_TRUE(parsed.service_entries.empty());
}

TEST(PolicyParser, IgnoresKindsItDoesNotUse) {
  const ParsedDocuments parsed = parseYaml(R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {replicas: 1}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap}
spec: {action: DENY}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other, namespace: istio-system}
data: {mesh: "not: [valid"}
)", "other.yaml");
  EXPECT_TRUE(parsed.rejected.empty()) << reasons(parsed);
  EXPECT_FALSE(parsed.mesh.has_value());
}

TEST(PolicyParser, ListKindIsUnwrapped) {
  const ParsedDocuments parsed = parseYaml(R"(apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: ServiceEntry
  metadata: {name: a}
  spec: {hosts: [a.example.com], ports: [{number: 443, name: tls, protocol: TLS}]}
- apiVersion: networking.istio.io/v1
  kind: ServiceEntry
  metadata: {name: b}
  spec: {hosts: ['*']}
)", "list.yaml");
  EXPECT_EQ(parsed.service_entries.size(), 1u);
  ASSERT_EQ(parsed.rejected.size(), 1u);
  EXPECT_EQ(parsed.rejected[0].name, "b");
  EXPECT_EQ(parsed.rejected[0].source.line, 11);
}

TEST(PolicyParser, IstioOperatorMeshConfig) {
  const ParsedDocuments parsed = parseYaml(R"(apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: control-plane, namespace: istio-system}
spec:
  profile: minimal
  meshConfig:
    outboundTrafficPolicy: {mode: REGISTRY_ONLY}
    defaultServiceExportTo: ["."]
    rootNamespace: istio-config
)", "mesh.yaml");
  ASSERT_TRUE(parsed.mesh.has_value()) << reasons(parsed);
  EXPECT_EQ(parsed.mesh->outbound_mode, OutboundMode::kRegistryOnly);
  EXPECT_EQ(parsed.mesh->default_service_export_to, std::vector<std::string>{"."});
  EXPECT_EQ(parsed.mesh->root_namespace, "istio-config");
  EXPECT_EQ(parsed.mesh_source.file, "mesh.yaml");
  EXPECT_EQ(parsed.mesh_source.line, 1);
}

TEST(PolicyParser, IstioOperatorWithoutMeshConfigUsesDefaults) {
  const ParsedDocuments parsed = parseYaml(R"(apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: cp}
spec: {profile: default}
)", "mesh.yaml");
  ASSERT_TRUE(parsed.mesh.has_value());
  EXPECT_EQ(parsed.mesh->outbound_mode, OutboundMode::kAllowAny);
  EXPECT_EQ(parsed.mesh->root_namespace, "istio-system");
}

TEST(PolicyParser, IstioConfigMapMeshConfig) {
  const ParsedDocuments parsed = parseYaml(R"(apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |-
    defaultServiceExportTo:
    - "*"
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
  meshNetworks: 'networks: {}'
)", "cm.yaml");
  ASSERT_TRUE(parsed.mesh.has_value()) << reasons(parsed);
  EXPECT_EQ(parsed.mesh->outbound_mode, OutboundMode::kRegistryOnly);
  EXPECT_EQ(parsed.mesh->default_service_export_to, std::vector<std::string>{"*"});
  EXPECT_EQ(parsed.mesh->root_namespace, "istio-system");
}

struct MeshCase {
  const char* description;
  const char* yaml;
  const char* kind;
  const char* expect;
};

const MeshCase kBadMesh[] = {
    {"operator with bad mode",
     "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: cp}\nspec: {meshConfig: {outboundTrafficPolicy: {mode: BLOCK}}}\n",
     "IstioOperator", "spec.meshConfig.outboundTrafficPolicy.mode \"BLOCK\" is not a valid mode"},
    {"configmap with bad mode",
     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio}\ndata: {mesh: 'outboundTrafficPolicy: {mode: BLOCK}'}\n",
     "ConfigMap", "data.mesh.outboundTrafficPolicy.mode \"BLOCK\" is not a valid mode"},
    {"configmap with broken mesh YAML",
     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio}\ndata: {mesh: 'outboundTrafficPolicy: {mode: [BLOCK'}\n",
     "ConfigMap", "data.mesh is not valid YAML"},
    {"configmap with bad exportTo",
     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio}\ndata: {mesh: 'defaultServiceExportTo: [Bad_NS]'}\n",
     "ConfigMap", "data.mesh.defaultServiceExportTo[0] \"Bad_NS\" must be"},
    {"operator with exportTo not a list",
     "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: cp}\nspec: {meshConfig: {defaultServiceExportTo: '*'}}\n",
     "IstioOperator", "defaultServiceExportTo must be a list"},
};

class PolicyParserBadMesh : public ::testing::TestWithParam<MeshCase> {};

TEST_P(PolicyParserBadMesh, Rejects) {
  const MeshCase& c = GetParam();
  const ParsedDocuments parsed = parseYaml(c.yaml, "mesh.yaml");
  EXPECT_FALSE(parsed.mesh.has_value());
  ASSERT_EQ(parsed.rejected.size(), 1u) << c.description;
  EXPECT_EQ(parsed.rejected[0].kind, c.kind);
  EXPECT_NE(parsed.rejected[0].reason.find(c.expect), std::string::npos)
      << c.description << "\n  reason: " << parsed.rejected[0].reason;
}

INSTANTIATE_TEST_SUITE_P(Policy, PolicyParserBadMesh, ::testing::ValuesIn(kBadMesh));

TEST(PolicyParser, SecondMeshConfigIsRejected) {
  const ParsedDocuments parsed = parseYaml(R"(apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: cp}
spec: {meshConfig: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio}
data: {mesh: 'outboundTrafficPolicy: {mode: ALLOW_ANY}'}
)", "mesh.yaml");
  ASSERT_TRUE(parsed.mesh.has_value());
  EXPECT_EQ(parsed.mesh->outbound_mode, OutboundMode::kRegistryOnly);
  ASSERT_EQ(parsed.rejected.size(), 1u);
  EXPECT_NE(parsed.rejected[0].reason.find("already defined at mesh.yaml:1"), std::string::npos);
}

struct WorkloadCase {
  const char* description;
  const char* yaml;
  bool accepted;
  const char* expect;
};

const WorkloadCase kWorkloads[] = {
    {"valid", "apiVersion: egressd.io/v1alpha1\nkind: Workload\nmetadata: {name: web, namespace: production, labels: {app: web}}\nspec: {cgroup: /sys/fs/cgroup/demo/web}\n", true, ""},
    {"relative cgroup", "apiVersion: egressd.io/v1alpha1\nkind: Workload\nmetadata: {name: web}\nspec: {cgroup: demo/web}\n", true, ""},
    {"missing cgroup", "apiVersion: egressd.io/v1alpha1\nkind: Workload\nmetadata: {name: web}\nspec: {}\n", false, "spec.cgroup is required"},
    {"empty cgroup", "apiVersion: egressd.io/v1alpha1\nkind: Workload\nmetadata: {name: web}\nspec: {cgroup: ''}\n", false, "spec.cgroup is required"},
    {"no spec", "apiVersion: egressd.io/v1alpha1\nkind: Workload\nmetadata: {name: web}\n", false, "spec.cgroup is required"},
    {"no name", "apiVersion: egressd.io/v1alpha1\nkind: Workload\nmetadata: {namespace: a}\nspec: {cgroup: /x}\n", false, "metadata.name is required"},
    {"bad namespace", "apiVersion: egressd.io/v1alpha1\nkind: Workload\nmetadata: {name: web, namespace: Prod}\nspec: {cgroup: /x}\n", false, "metadata.namespace \"Prod\" is not a valid namespace name"},
    {"labels not a map", "apiVersion: egressd.io/v1alpha1\nkind: Workload\nmetadata: {name: web, labels: [a]}\nspec: {cgroup: /x}\n", false, "metadata.labels must be a map"},
    {"unsupported version", "apiVersion: egressd.io/v1\nkind: Workload\nmetadata: {name: web}\nspec: {cgroup: /x}\n", false, "use egressd.io/v1alpha1"},
};

class PolicyParserWorkload : public ::testing::TestWithParam<WorkloadCase> {};

TEST_P(PolicyParserWorkload, AcceptsOrRejects) {
  const WorkloadCase& c = GetParam();
  const ParsedDocuments parsed = parseYaml(c.yaml, "w.yaml");
  if (c.accepted) {
    ASSERT_EQ(parsed.workloads.size(), 1u) << c.description << "\n" << reasons(parsed);
  } else {
    ASSERT_EQ(parsed.rejected.size(), 1u) << c.description;
    EXPECT_EQ(parsed.rejected[0].kind, "Workload");
    EXPECT_NE(parsed.rejected[0].reason.find(c.expect), std::string::npos)
        << c.description << "\n  reason: " << parsed.rejected[0].reason;
  }
}

INSTANTIATE_TEST_SUITE_P(Policy, PolicyParserWorkload, ::testing::ValuesIn(kWorkloads));

TEST(PolicyParser, WorkloadFields) {
  const ParsedDocuments parsed = parseYaml(kWorkloads[0].yaml, "w.yaml");
  ASSERT_EQ(parsed.workloads.size(), 1u);
  const Workload& w = parsed.workloads[0];
  EXPECT_EQ(w.meta.name, "web");
  EXPECT_EQ(w.meta.namespace_, "production");
  EXPECT_EQ(w.meta.labels.at("app"), "web");
  EXPECT_EQ(w.cgroup, "/sys/fs/cgroup/demo/web");
  EXPECT_EQ(w.source.file, "w.yaml");
}

TEST(PolicyParser, SeveralProblemsAreAllReported) {
  const ParsedDocuments parsed = parseYaml(objectYaml("networking.istio.io/v1", "ServiceEntry",
                                                      "{hosts: ['*'], addresses: [nope], ports: [{number: 443, name: tls, protocol: TLS}]}",
                                                      "multi"),
                                           "m.yaml");
  ASSERT_EQ(parsed.rejected.size(), 1u);
  EXPECT_NE(parsed.rejected[0].reason.find("hosts[0]"), std::string::npos);
  EXPECT_NE(parsed.rejected[0].reason.find("; addresses[0] \"nope\""), std::string::npos);
}

TEST(PolicyParser, TypeErrorsDoNotHideOtherProblemsNorRepeat) {
  const ParsedDocuments parsed = parseYaml(
      objectYaml("networking.istio.io/v1", "ServiceEntry",
                 "{hosts: ['*'], ports: [{number: eighty, name: http, protocol: HTTP}, {number: 81, name: x, protocol: FOO}]}"),
      "t.yaml");
  ASSERT_EQ(parsed.rejected.size(), 1u);
  const std::string& reason = parsed.rejected[0].reason;
  EXPECT_NE(reason.find("ports[0].number must be a non-negative integer"), std::string::npos) << reason;
  EXPECT_NE(reason.find("ports[1].protocol \"FOO\""), std::string::npos) << reason;
  EXPECT_NE(reason.find("hosts[0] \"*\" is not allowed"), std::string::npos) << reason;
  EXPECT_EQ(reason.find("between 1 and 65535"), std::string::npos) << reason;
}

TEST(PolicyParser, MissingSpecIsOneProblem) {
  const ParsedDocuments parsed = parseYaml("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: a}\n", "t.yaml");
  ASSERT_EQ(parsed.rejected.size(), 1u);
  EXPECT_EQ(parsed.rejected[0].reason, "spec is required");
}

TEST(PolicyParser, AcceptsJsonObjects) {
  // What a Kubernetes watch returns: JSON is YAML too.
  const ParsedDocuments parsed = parseYaml(
      R"({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
          "metadata": {"name": "api", "namespace": "shop"},
          "spec": {"hosts": ["api.example.com"], "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}],
                   "resolution": "DNS"}})",
      "shop/api");
  ASSERT_EQ(parsed.service_entries.size(), 1u) << reasons(parsed);
  EXPECT_EQ(parsed.service_entries[0].ports[0].number, 443u);
}

TEST(PolicyParser, ObjectNamesFollowKubernetesRules) {
  const ParsedDocuments parsed = parseYaml(objectYaml("networking.istio.io/v1", "ServiceEntry", kSeSpec, "Bad_Name"), "n.yaml");
  ASSERT_EQ(parsed.rejected.size(), 1u);
  EXPECT_NE(parsed.rejected[0].reason.find("metadata.name \"Bad_Name\" is not a valid name"), std::string::npos)
      << parsed.rejected[0].reason;
  EXPECT_EQ(parseYaml(objectYaml("networking.istio.io/v1", "ServiceEntry", kSeSpec, "api.v2-x"), "n.yaml").service_entries.size(), 1u);
}

TEST(PolicyParser, WarningsPointAtTheFieldLine) {
  const ParsedDocuments parsed = parseYaml(R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: shop}
spec:
  hosts: [db.example.com]
  ports:
  - number: 5432
    name: pg
    protocol: TCP
)", "w.yaml");
  ASSERT_EQ(parsed.warnings.size(), 1u);
  EXPECT_EQ(describe(parsed.warnings[0]),
            "ServiceEntry shop/db (w.yaml:7): ports[0] port 5432 (TCP) with resolution NONE and no addresses allows "
            "any IP on that port");
}

TEST(PolicyDescribe, FormatsRejectionsAndWarnings) {
  EXPECT_EQ(describe(Rejection{"ServiceEntry", "production", "bad", {"policies/se.yaml", 12},
                               "addresses[0] \"10.0.0.0/33\" is not a valid IP or CIDR"}),
            "ServiceEntry production/bad (policies/se.yaml:12): addresses[0] \"10.0.0.0/33\" is not a valid IP or CIDR");
  EXPECT_EQ(describe(Warning{"ServiceEntry", "shop", "db", {"a.yaml", 3}, "ports[0] allows any IP"}),
            "ServiceEntry shop/db (a.yaml:3): ports[0] allows any IP");
  EXPECT_EQ(describe(Rejection{"Unknown", "", "", {"a.yaml", 0}, "document has no kind"}),
            "Unknown (a.yaml): document has no kind");
  EXPECT_EQ(describe(Rejection{"Sidecar", "", "x", {"", 0}, "r"}), "Sidecar x: r");
}

}  // namespace
}  // namespace egressd::policy
