// Gateway, VirtualService, DestinationRule and core Service: parsing and
// validation, table-driven (kind, spec in flow YAML -> accepted, or rejected
// with a reason containing `expect`), plus PolicyStore semantics.
#include <gtest/gtest.h>

#include "policy/parser.h"
#include "policy/policy_store.h"
#include "policy_test_util.h"

namespace egressd::policy {
namespace {

using testing::objectYaml;
using testing::reasons;
using testing::warnings;

struct Case {
  const char* kind;
  const char* description;
  const char* spec;
  bool accepted;
  const char* expect;  // substring of the rejection reason, or of a warning when accepted
};

constexpr const char* kTlsServer = "{port: {number: 443, name: tls, protocol: TLS}, hosts: ['*/api.example.com'], tls: {mode: PASSTHROUGH}}";

const Case kCases[] = {
    // Gateway (Istio's ValidateGateway / validateServer)
    {"Gateway", "TLS passthrough server", "{selector: {istio: egressgateway}, servers: [{port: {number: 443, name: tls, protocol: TLS}, hosts: [api.example.com], tls: {mode: PASSTHROUGH}}]}", true, ""},
    {"Gateway", "ns/host hosts", "{selector: {istio: egressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['./a.example.com', '*/*', 'shop/*.example.com']}]}", true, ""},
    {"Gateway", "servers required", "{selector: {istio: egressgateway}}", false, "servers must list at least one server"},
    {"Gateway", "server hosts required", "{selector: {istio: egressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}}]}", false, "servers[0].hosts must list at least one host"},
    {"Gateway", "server port required", "{selector: {istio: egressgateway}, servers: [{hosts: [a.example.com]}]}", false, "servers[0].port is required"},
    {"Gateway", "port number out of range", "{selector: {istio: egressgateway}, servers: [{port: {number: 70000, name: http, protocol: HTTP}, hosts: [a.example.com]}]}", false, "servers[0].port.number must be between 1 and 65535"},
    {"Gateway", "port name required", "{selector: {istio: egressgateway}, servers: [{port: {number: 80, protocol: HTTP}, hosts: [a.example.com]}]}", false, "servers[0].port.name is required"},
    {"Gateway", "protocol required", "{selector: {istio: egressgateway}, servers: [{port: {number: 80, name: http}, hosts: [a.example.com]}]}", false, "servers[0].port.protocol is required"},
    {"Gateway", "unknown protocol", "{selector: {istio: egressgateway}, servers: [{port: {number: 80, name: http, protocol: FTP}, hosts: [a.example.com]}]}", false, "\"FTP\" is not a valid protocol"},
    {"Gateway", "duplicate port names", "{selector: {istio: egressgateway}, servers: [{port: {number: 80, name: web, protocol: HTTP}, hosts: [a.example.com]}, {port: {number: 8080, name: web, protocol: HTTP}, hosts: [b.example.com]}]}", false, "servers[1].port.name \"web\" is already used by servers[0]"},
    {"Gateway", "short host name", "{selector: {istio: egressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['shop/api']}]}", false, "short names (non FQDN) are not allowed"},
    {"Gateway", "bad host namespace", "{selector: {istio: egressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['Bad_NS/a.example.com']}]}", false, "must be \"*\", \".\" or a namespace name"},
    {"Gateway", "~ is not a gateway host namespace", "{selector: {istio: egressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['~/a.example.com']}]}", false, "must be \"*\", \".\" or a namespace name"},
    {"Gateway", "TLS port needs tls", "{selector: {istio: egressgateway}, servers: [{port: {number: 443, name: tls, protocol: TLS}, hosts: [a.example.com]}]}", false, "servers[0].tls is required for TLS ports"},
    {"Gateway", "tls on a TCP port", "{selector: {istio: egressgateway}, servers: [{port: {number: 5432, name: pg, protocol: TCP}, hosts: [a.example.com], tls: {mode: PASSTHROUGH}}]}", false, "servers[0].tls cannot be set on a TCP port"},
    {"Gateway", "httpsRedirect on HTTP", "{selector: {istio: egressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [a.example.com], tls: {httpsRedirect: true}}]}", true, ""},
    {"Gateway", "unknown tls mode", "{selector: {istio: egressgateway}, servers: [{port: {number: 443, name: tls, protocol: TLS}, hosts: [a.example.com], tls: {mode: STRICT}}]}", false, "servers[0].tls.mode \"STRICT\" is not a valid mode"},
    {"Gateway", "SIMPLE needs a credential", "{selector: {istio: egressgateway}, servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: SIMPLE}}]}", false, "needs credentialName, or serverCertificate and privateKey"},
    {"Gateway", "SIMPLE with credentialName", "{selector: {istio: egressgateway}, servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: SIMPLE, credentialName: cert}}]}", true, ""},
    {"Gateway", "ISTIO_MUTUAL with a certificate", "{selector: {istio: egressgateway}, servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: ISTIO_MUTUAL, serverCertificate: /c.pem}}]}", false, "ISTIO_MUTUAL cannot have a certificate"},
    {"Gateway", "AUTO_PASSTHROUGH and OPTIONAL_MUTUAL modes", "{selector: {istio: egressgateway}, servers: [{port: {number: 15443, name: tls, protocol: TLS}, hosts: ['*.local'], tls: {mode: AUTO_PASSTHROUGH}}, {port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: OPTIONAL_MUTUAL, credentialName: c}}]}", true, ""},
    {"Gateway", "dotted name", "{selector: {istio: egressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [a.example.com]}]}", false, "is not a valid gateway name"},
    {"Gateway", "wildcard selector", "{selector: {istio: '*'}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [a.example.com]}]}", false, "wildcards are not supported in selectors"},
    {"Gateway", "empty selector warns", "{servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [a.example.com]}]}", true, "selector is empty: egressd exempts no workload"},
    {"Gateway", "unknown field warns", "{selector: {istio: egressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [a.example.com], hostz: [x]}]}", true, "servers[0].hostz is not a known field"},
    // VirtualService (Istio's ValidateVirtualService)
    {"VirtualService", "seed TLS route", "{hosts: [api.example.com], gateways: [mesh, istio-system/egress], tls: [{match: [{gateways: [mesh], port: 443, sniHosts: [api.example.com]}], route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, port: {number: 443}}}]}]}", true, ""},
    // No hosts: a delegate VirtualService, which Istio allows only with http routes.
    {"VirtualService", "delegate with tls routes", "{tls: [{match: [{sniHosts: [a.example.com]}], route: [{destination: {host: gw}}]}]}", false, "tls must be empty in a delegate VirtualService"},
    {"VirtualService", "delegate with http routes", "{http: [{route: [{destination: {host: gw}}]}]}", true, "egressd does not follow delegation"},
    {"VirtualService", ":authority in headers and rewrite", "{hosts: [a.example.com], http: [{headers: {request: {set: {':authority': x}}}, rewrite: {authority: y}, route: [{destination: {host: gw}}]}]}", false, "cannot set :authority in both"},
    {"VirtualService", "JWT claim match on the mesh", "{hosts: [a.example.com], http: [{match: [{headers: {'@request.auth.claims.sub': {exact: x}}}], route: [{destination: {host: gw}}]}]}", false, "only supported on gateways"},
    {"VirtualService", "routes required", "{hosts: [a.example.com]}", false, "must have http, tls or tcp routes"},
    {"VirtualService", "* bound to mesh", "{hosts: ['*'], tcp: [{route: [{destination: {host: gw}}]}]}", false, "\"*\" is not allowed for VirtualServices bound to the mesh gateway"},
    {"VirtualService", "* bound to a gateway only", "{hosts: ['*'], gateways: [istio-system/egress], tcp: [{route: [{destination: {host: gw}}]}]}", true, ""},
    {"VirtualService", "duplicate hosts", "{hosts: ['*.example.com', a.example.com], tcp: [{route: [{destination: {host: gw}}]}]}", false, "hosts[1] \"a.example.com\" duplicates \"*.example.com\""},
    {"VirtualService", "partial wildcard host", "{hosts: ['a*.example.com'], tcp: [{route: [{destination: {host: gw}}]}]}", false, "partial wildcard"},
    {"VirtualService", "gateway ns/name", "{hosts: [a.example.com], gateways: [istio-system/egress-gw, mesh], tcp: [{route: [{destination: {host: gw}}]}]}", true, ""},
    {"VirtualService", "gateway empty name", "{hosts: [a.example.com], gateways: [istio-system/], tcp: [{route: [{destination: {host: gw}}]}]}", false, "gateways[0] \"istio-system/\": namespace and gateway name cannot be empty"},
    {"VirtualService", "gateway bad namespace", "{hosts: [a.example.com], gateways: [Bad/gw], tcp: [{route: [{destination: {host: gw}}]}]}", false, "\"Bad\" is not a valid namespace name"},
    {"VirtualService", "legacy gateway name warns", "{hosts: [a.example.com], gateways: [egress.istio-system], tcp: [{route: [{destination: {host: gw}}]}]}", true, "prefer namespace/name (\"istio-system/egress\")"},
    {"VirtualService", "match gateway bad", "{hosts: [a.example.com], tcp: [{match: [{gateways: ['a/b/c']}], route: [{destination: {host: gw}}]}]}", false, "tcp[0].match[0].gateways[0]"},
    {"VirtualService", "tls route needs match", "{hosts: [a.example.com], tls: [{route: [{destination: {host: gw}}]}]}", false, "tls[0].match must list at least one match"},
    {"VirtualService", "tls match needs sniHosts", "{hosts: [a.example.com], tls: [{match: [{port: 443}], route: [{destination: {host: gw}}]}]}", false, "tls[0].match[0].sniHosts must list at least one SNI host"},
    {"VirtualService", "sniHost outside the hosts", "{hosts: [a.example.com], tls: [{match: [{sniHosts: [b.example.com]}], route: [{destination: {host: gw}}]}]}", false, "\"b.example.com\" is not a subset of any of the VirtualService hosts"},
    {"VirtualService", "sniHost narrower than a wildcard host", "{hosts: ['*.example.com'], tls: [{match: [{sniHosts: [a.example.com]}], route: [{destination: {host: gw}}]}]}", true, ""},
    {"VirtualService", "route required", "{hosts: [a.example.com], tcp: [{match: [{port: 5432}]}]}", false, "tcp[0].route must list at least one destination"},
    {"VirtualService", "destination host required", "{hosts: [a.example.com], tcp: [{route: [{destination: {subset: v1}}]}]}", false, "tcp[0].route[0].destination.host is required"},
    {"VirtualService", "destination * ", "{hosts: [a.example.com], tcp: [{route: [{destination: {host: '*'}}]}]}", false, "\"*\" is not a valid destination host"},
    {"VirtualService", "bad subset name", "{hosts: [a.example.com], tcp: [{route: [{destination: {host: gw, subset: V_1}}]}]}", false, "\"V_1\" is not a valid subset name"},
    {"VirtualService", "destination port out of range", "{hosts: [a.example.com], tcp: [{route: [{destination: {host: gw, port: {number: 0}}}]}]}", false, "destination.port.number must be between 1 and 65535"},
    {"VirtualService", "several destinations without weights", "{hosts: [a.example.com], tcp: [{route: [{destination: {host: gw}}, {destination: {host: a.example.com}}]}]}", false, "tcp[0].route has 2 destinations and a total weight of 0"},
    {"VirtualService", "negative weight", "{hosts: [a.example.com], tcp: [{route: [{destination: {host: gw}, weight: -1}]}]}", false, "must be a non-negative integer"},
    {"VirtualService", "weights not summing to 100 warn", "{hosts: [a.example.com], tcp: [{route: [{destination: {host: gw}, weight: 30}, {destination: {host: a.example.com}, weight: 30}]}]}", true, "weights sum to 60, not 100"},
    {"VirtualService", "http route needs route or redirect", "{hosts: [a.example.com], http: [{match: [{port: 80}]}]}", false, "http[0].route is required (or redirect / directResponse)"},
    {"VirtualService", "http redirect and route", "{hosts: [a.example.com], http: [{redirect: {uri: /x}, route: [{destination: {host: gw}}]}]}", false, "cannot have both route and redirect"},
    {"VirtualService", "http with uri and headers", "{hosts: [a.example.com], http: [{match: [{uri: {prefix: /api}, headers: {x: {exact: y}}, authority: {exact: a.example.com}}], route: [{destination: {host: gw}}]}]}", true, ""},
    {"VirtualService", "authority with two kinds", "{hosts: [a.example.com], http: [{match: [{authority: {exact: a, prefix: b}}], route: [{destination: {host: gw}}]}]}", false, "authority must set only one of exact, prefix or regex"},
    {"VirtualService", "delegate unsupported", "{hosts: [a.example.com], http: [{delegate: {name: d}}]}", false, "delegate VirtualServices are not supported"},
    {"VirtualService", "bad destinationSubnets", "{hosts: [a.example.com], tcp: [{match: [{destinationSubnets: [10.0.0.0/40]}], route: [{destination: {host: gw}}]}]}", false, "\"10.0.0.0/40\" is not a valid IP or CIDR"},
    {"VirtualService", "match port out of range", "{hosts: [a.example.com], tcp: [{match: [{port: 0}], route: [{destination: {host: gw}}]}]}", false, "tcp[0].match[0].port must be between 1 and 65535"},
    {"VirtualService", "sourceLabels empty key", "{hosts: [a.example.com], tcp: [{match: [{sourceLabels: {'': x}}], route: [{destination: {host: gw}}]}]}", false, "sourceLabels has an empty key"},
    {"VirtualService", "exportTo twice", "{hosts: [a.example.com], exportTo: [a, a], tcp: [{route: [{destination: {host: gw}}]}]}", false, "exportTo[1] \"a\" is listed twice"},
    // DestinationRule (Istio's ValidateDestinationRule)
    {"DestinationRule", "subsets for the gateway", "{host: istio-egressgateway.istio-system.svc.cluster.local, subsets: [{name: cnn}]}", true, ""},
    {"DestinationRule", "host required", "{subsets: [{name: cnn}]}", false, "host is required"},
    {"DestinationRule", "bad host", "{host: 'bad_host.example.com'}", false, "not a valid DNS name"},
    {"DestinationRule", "subset name required", "{host: gw, subsets: [{labels: {a: b}}]}", false, "subsets[0].name is required"},
    {"DestinationRule", "duplicate subsets", "{host: gw, subsets: [{name: a}, {name: a}]}", false, "subsets[1].name \"a\" is already used by subsets[0]"},
    {"DestinationRule", "port level ISTIO_MUTUAL", "{host: gw, trafficPolicy: {portLevelSettings: [{port: {number: 80}, tls: {mode: ISTIO_MUTUAL, sni: edition.cnn.com}}]}}", true, ""},
    {"DestinationRule", "unknown tls mode", "{host: gw, trafficPolicy: {tls: {mode: STRICT}}}", false, "trafficPolicy.tls.mode \"STRICT\" is not a valid mode"},
    // Istio's ValidateTLS has no rule against files with ISTIO_MUTUAL (they are ignored).
    {"DestinationRule", "ISTIO_MUTUAL with a certificate", "{host: gw, trafficPolicy: {tls: {mode: ISTIO_MUTUAL, clientCertificate: /c.pem}}}", true, ""},
    {"DestinationRule", "MUTUAL needs a client certificate", "{host: gw, trafficPolicy: {tls: {mode: MUTUAL}}}", false, "trafficPolicy.tls.clientCertificate is required"},
    {"DestinationRule", "port level without port", "{host: gw, trafficPolicy: {portLevelSettings: [{tls: {mode: SIMPLE}}]}}", false, "portLevelSettings[0].port is required"},
    {"DestinationRule", "port level twice", "{host: gw, trafficPolicy: {portLevelSettings: [{port: {number: 80}, tls: {mode: SIMPLE}}, {port: {number: 80}, tls: {mode: SIMPLE}}]}}", false, "portLevelSettings[1].port.number 80 is already used"},
    {"DestinationRule", "subset traffic policy checked", "{host: gw, subsets: [{name: a, trafficPolicy: {tls: {mode: BOGUS}}}]}", false, "subsets[0].trafficPolicy.tls.mode"},
    {"DestinationRule", "exportTo * with others", "{host: gw, exportTo: ['*', a]}", false, "\"*\" (everyone) cannot be combined"},
    // core v1 Service (Kubernetes API server rules)
    {"Service", "egress gateway Service", "{selector: {istio: egressgateway}, clusterIP: 10.96.0.50, ports: [{name: http2, port: 80, targetPort: 8080}, {name: https, port: 443, targetPort: 8443}]}", true, ""},
    {"Service", "dual-stack clusterIPs", "{selector: {app: a}, clusterIP: 10.96.0.5, clusterIPs: [10.96.0.5, 'fd00::5'], ports: [{port: 80}]}", true, ""},
    {"Service", "ports required", "{selector: {app: a}}", false, "ports must list at least one port"},
    {"Service", "port out of range", "{ports: [{port: 0}]}", false, "ports[0].port must be between 1 and 65535"},
    {"Service", "names required with several ports", "{ports: [{port: 80}, {port: 443}]}", false, "ports[0].name is required when there are several ports"},
    {"Service", "duplicate port names", "{ports: [{name: a, port: 80}, {name: a, port: 443}]}", false, "ports[1].name \"a\" is already used by ports[0]"},
    {"Service", "duplicate port and protocol", "{ports: [{name: a, port: 80}, {name: b, port: 80}]}", false, "ports[1].port 80/TCP is already used by ports[0]"},
    {"Service", "same port, other protocol", "{ports: [{name: a, port: 53}, {name: b, port: 53, protocol: UDP}]}", true, ""},
    {"Service", "bad protocol", "{ports: [{port: 80, protocol: tcp}]}", false, "\"tcp\" is not a valid protocol (TCP, UDP or SCTP)"},
    {"Service", "named targetPort", "{ports: [{port: 80, targetPort: http}]}", true, ""},
    {"Service", "bad targetPort", "{ports: [{port: 80, targetPort: 70000}]}", false, "ports[0].targetPort must be between 1 and 65535"},
    {"Service", "bad clusterIP", "{clusterIP: 10.0.0.300, ports: [{port: 80}]}", false, "clusterIP \"10.0.0.300\" is not an IP address"},
    {"Service", "clusterIPs disagree", "{clusterIP: 10.96.0.5, clusterIPs: [10.96.0.6], ports: [{port: 80}]}", false, "clusterIPs[0] must equal clusterIP"},
    {"Service", "headless", "{clusterIP: None, ports: [{port: 80}]}", true, ""},
    {"Service", "bad type", "{type: Magic, ports: [{port: 80}]}", false, "type \"Magic\" is not a valid type"},
    {"Service", "ExternalName needs externalName", "{type: ExternalName}", false, "externalName is required for type ExternalName"},
};

std::string apiVersionOf(const std::string& kind) { return kind == "Service" ? "v1" : "networking.istio.io/v1"; }

class PolicyGatewayKinds : public ::testing::TestWithParam<Case> {};

size_t acceptedCount(const ParsedDocuments& parsed) {
  return parsed.gateways.size() + parsed.virtual_services.size() + parsed.destination_rules.size() +
         parsed.services.size();
}

TEST_P(PolicyGatewayKinds, AcceptsOrRejects) {
  const Case& c = GetParam();
  SCOPED_TRACE(std::string(c.kind) + ": " + c.description);
  const std::string name = std::string(c.description) == "dotted name" ? "egress.gw" : "t";
  const ParsedDocuments parsed = parseYaml(objectYaml(apiVersionOf(c.kind), c.kind, c.spec, name), "gw.yaml");
  if (c.accepted) {
    EXPECT_EQ(acceptedCount(parsed), 1u) << reasons(parsed);
    EXPECT_TRUE(parsed.rejected.empty()) << reasons(parsed);
    if (*c.expect != '\0') {
      EXPECT_NE(warnings(parsed).find(c.expect), std::string::npos) << warnings(parsed);
    } else {
      EXPECT_TRUE(parsed.warnings.empty()) << warnings(parsed);
    }
  } else {
    EXPECT_EQ(acceptedCount(parsed), 0u);
    ASSERT_EQ(parsed.rejected.size(), 1u) << "expected a rejection";
    const Rejection& r = parsed.rejected[0];
    EXPECT_EQ(r.kind, c.kind);
    EXPECT_EQ(r.namespace_, "production");
    EXPECT_EQ(r.source.file, "gw.yaml");
    EXPECT_GT(r.source.line, 0);
    EXPECT_NE(r.reason.find(c.expect), std::string::npos) << "reason: " << r.reason << "\nexpected: " << c.expect;
  }
}

INSTANTIATE_TEST_SUITE_P(Policy, PolicyGatewayKinds, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string name = std::string(info.param.kind) + "_";
                           for (char ch : std::string(info.param.description)) {
                             name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           }
                           return name + "_" + std::to_string(info.index);
                         });

TEST(PolicyGateway, ParsesTheSeedTrio) {
  const ParsedDocuments parsed = parseYaml(R"(apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: external-api-vs, namespace: production}
spec:
  hosts: [api.external-service.com]
  tls:
  - match:
    - {gateways: [mesh], port: 443, sniHosts: [api.external-service.com], sourceLabels: {app: web}}
    route:
    - destination: {host: istio-egressgateway.istio-system.svc.cluster.local, subset: s, port: {number: 443}}
      weight: 100
  http:
  - match: [{port: 80, uri: {prefix: /v1}, headers: {x-user: {exact: a}}, authority: {prefix: api.}}]
    route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local}}]
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: gw, namespace: istio-system}
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  trafficPolicy: {tls: {mode: DISABLE}, portLevelSettings: [{port: {number: 443}, tls: {mode: ISTIO_MUTUAL, sni: x.example.com}}]}
  subsets: [{name: s, labels: {istio: egressgateway}, trafficPolicy: {tls: {mode: SIMPLE}}}]
---
apiVersion: v1
kind: Service
metadata: {name: istio-egressgateway, namespace: istio-system, labels: {app: gw}}
spec:
  type: ClusterIP
  selector: {istio: egressgateway}
  clusterIP: 10.96.0.50
  clusterIPs: [10.96.0.50, 'fd00::50']
  ports: [{name: https, port: 443, targetPort: 8443, protocol: TCP}]
)", "seed.yaml");
  ASSERT_TRUE(parsed.rejected.empty()) << reasons(parsed);
  ASSERT_EQ(parsed.virtual_services.size(), 1u);
  const VirtualService& vs = parsed.virtual_services[0];
  EXPECT_TRUE(vs.gateways.empty());
  EXPECT_TRUE(vs.boundToMesh());  // Istio's default
  EXPECT_EQ(vs.source.line, 1);
  ASSERT_EQ(vs.tls.size(), 1u);
  const L4Match& m = vs.tls[0].match[0];
  EXPECT_EQ(m.gateways, std::vector<std::string>{"mesh"});
  EXPECT_EQ(m.port, 443u);
  EXPECT_EQ(m.sni_hosts, std::vector<std::string>{"api.external-service.com"});
  EXPECT_EQ(m.source_labels.at("app"), "web");
  const RouteDestination& d = vs.tls[0].route[0];
  EXPECT_EQ(d.host, "istio-egressgateway.istio-system.svc.cluster.local");
  EXPECT_EQ(d.subset, "s");
  EXPECT_EQ(d.port, 443u);
  EXPECT_EQ(d.weight, 100);
  ASSERT_EQ(vs.http.size(), 1u);
  const HttpMatch& h = vs.http[0].match[0];
  EXPECT_EQ(h.request_conditions, (std::vector<std::string>{"uri", "headers"}));
  ASSERT_TRUE(h.authority.has_value());
  EXPECT_EQ(h.authority->kind, StringMatch::Kind::kPrefix);
  EXPECT_EQ(h.authority->value, "api.");

  ASSERT_EQ(parsed.destination_rules.size(), 1u);
  const DestinationRule& dr = parsed.destination_rules[0];
  ASSERT_TRUE(dr.traffic_policy && dr.traffic_policy->tls);
  EXPECT_EQ(dr.traffic_policy->tls->mode, ClientTlsMode::kDisable);
  ASSERT_EQ(dr.traffic_policy->port_level_settings.size(), 1u);
  EXPECT_EQ(dr.traffic_policy->port_level_settings[0].port, 443u);
  EXPECT_EQ(dr.traffic_policy->port_level_settings[0].tls->mode, ClientTlsMode::kIstioMutual);
  EXPECT_EQ(dr.traffic_policy->port_level_settings[0].tls->sni, "x.example.com");
  ASSERT_EQ(dr.subsets.size(), 1u);
  EXPECT_EQ(dr.subsets[0].traffic_policy->tls->mode, ClientTlsMode::kSimple);

  ASSERT_EQ(parsed.services.size(), 1u);
  const Service& svc = parsed.services[0];
  EXPECT_EQ(svc.selector->at("istio"), "egressgateway");
  EXPECT_EQ(svc.addresses(), (std::vector<std::string>{"10.96.0.50", "fd00::50"}));
  EXPECT_EQ(svc.ports[0].target_port, "8443");
  EXPECT_EQ(svc.ports[0].protocol, "TCP");
}

TEST(PolicyGateway, ServiceApiVersionMustBeV1) {
  const ParsedDocuments parsed = parseYaml(objectYaml("v2", "Service", "{ports: [{port: 80}]}"), "svc.yaml");
  ASSERT_EQ(parsed.rejected.size(), 1u);
  EXPECT_NE(parsed.rejected[0].reason.find("use v1"), std::string::npos) << parsed.rejected[0].reason;
}

TEST(PolicyGateway, RejectionPointsAtTheOffendingLine) {
  const ParsedDocuments parsed = parseYaml(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: shop}
spec:
  hosts: [a.example.com]
  tls:
  - match:
    - sniHosts: [b.example.com]
    route: [{destination: {host: gw}}]
)", "vs.yaml");
  ASSERT_EQ(parsed.rejected.size(), 1u);
  EXPECT_EQ(describe(parsed.rejected[0]),
            "VirtualService shop/vs (vs.yaml:8): tls[0].match[0].sniHosts[0] \"b.example.com\" is not a subset of any "
            "of the VirtualService hosts");
}

TEST(PolicyGateway, MeshDefaultsForVirtualServiceAndDestinationRuleExportTo) {
  const ParsedDocuments parsed = parseYaml(R"(apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  meshConfig:
    defaultVirtualServiceExportTo: ['.']
    defaultDestinationRuleExportTo: [Bad_NS]
)", "mesh.yaml");
  ASSERT_EQ(parsed.rejected.size(), 1u);
  EXPECT_NE(parsed.rejected[0].reason.find("spec.meshConfig.defaultDestinationRuleExportTo[0]"), std::string::npos)
      << parsed.rejected[0].reason;
}

std::string vs(const std::string& name, const std::string& host) {
  return objectYaml("networking.istio.io/v1", "VirtualService",
                    "{hosts: [" + host + "], tcp: [{route: [{destination: {host: gw}}]}]}", name);
}

TEST(PolicyGateway, StoreKeepsThePreviousValidVersion) {
  PolicyStore store;
  store.apply(parseYaml(vs("a", "a.example.com") + "---\n" +
                            objectYaml("v1", "Service", "{clusterIP: 10.96.0.1, ports: [{port: 443}]}", "gw"),
                        "a.yaml"));
  ASSERT_EQ(store.snapshot().virtual_services.size(), 1u);
  ASSERT_EQ(store.snapshot().services.size(), 1u);
  const auto report = store.apply(parseYaml(vs("a", "'*'") + "---\n" +
                                                objectYaml("v1", "Service", "{clusterIP: 10.96.0.2, ports: [{port: 443}]}", "gw"),
                                            "a.yaml"));
  ASSERT_EQ(report.rejected.size(), 1u);
  EXPECT_NE(report.rejected[0].reason.find("stays in force"), std::string::npos) << report.rejected[0].reason;
  ASSERT_EQ(store.snapshot().virtual_services.size(), 1u);
  EXPECT_EQ(store.snapshot().virtual_services[0].hosts[0], "a.example.com");
  EXPECT_EQ(store.snapshot().services[0].cluster_ip, "10.96.0.2");  // the valid update applies
  EXPECT_EQ(report.objects, 2u);
}

TEST(PolicyGateway, StoreKeepsObjectsOfUnreadableFiles) {
  PolicyStore store;
  store.apply(parseYaml(vs("a", "a.example.com"), "a.yaml"));
  const auto report = store.apply(parseYaml("kind: VirtualService\nspec: {hosts: [unterminated\n", "a.yaml"));
  EXPECT_TRUE(report.rejected.empty());
  ASSERT_EQ(store.snapshot().virtual_services.size(), 1u);
}

TEST(PolicyGateway, StoreRejectsDuplicates) {
  PolicyStore store;
  ParsedDocuments all;
  mergeDocuments(all, parseYaml(vs("a", "a.example.com"), "one.yaml"));
  mergeDocuments(all, parseYaml(vs("a", "b.example.com"), "two.yaml"));
  const auto report = store.apply(all);
  ASSERT_EQ(report.rejected.size(), 1u);
  EXPECT_NE(report.rejected[0].reason.find("duplicate: VirtualService production/a is already defined at one.yaml:1"),
            std::string::npos)
      << report.rejected[0].reason;
}

}  // namespace
}  // namespace egressd::policy
