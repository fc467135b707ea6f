#pragma once
// The typed policy model: Istio's egress API and local Workloads as egressd
// understands them, after parsing and validation. Field names follow Istio's.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace egressd::policy {

// Where an object came from, for every message about it.
struct SourceRef {
  std::string file;
  int line = 0;  // 1-based line of the document's start, 0 if unknown

  bool operator==(const SourceRef&) const = default;
};

struct ObjectMeta {
  std::string name;
  std::string namespace_;
  std::map<std::string, std::string> labels;
  // RFC 3339, as the API server writes it ("2026-12-07T15:04:05Z": ordered
  // as text); empty in files. Decides which objects keep their place when
  // the maps are full (compiler/admission.h).
  std::string creation_timestamp;

  bool operator==(const ObjectMeta&) const = default;
};

enum class OutboundMode { kAllowAny, kRegistryOnly };

struct MeshConfig {
  // Istio's mesh default when outboundTrafficPolicy is absent; an
  // outboundTrafficPolicy without a mode is REGISTRY_ONLY (the enum's 0).
  OutboundMode outbound_mode = OutboundMode::kAllowAny;
  std::vector<std::string> default_service_export_to;     // empty means "*"
  std::string root_namespace = "istio-system";
  std::vector<std::string> default_virtual_service_export_to;  // empty means "*"
  std::vector<std::string> default_destination_rule_export_to;  // empty means "*"

  bool operator==(const MeshConfig&) const = default;
};

enum class Resolution { kNone, kStatic, kDns, kDnsRoundRobin, kDynamicDns };
enum class Location { kMeshExternal, kMeshInternal };

// Istio port protocols; all ride on TCP except UDP.
enum class PortProtocol { kHttp, kHttps, kGrpc, kHttp2, kMongo, kTcp, kTls, kUdp, kUnspecified };

struct ServicePort {
  uint32_t number = 0;
  std::string name;
  PortProtocol protocol = PortProtocol::kUnspecified;
  std::string protocol_name;  // as written, for messages
  uint32_t target_port = 0;   // 0 if unset

  bool operator==(const ServicePort&) const = default;
};

struct WorkloadEntrySpec {  // ServiceEntry.endpoints[]
  std::string address;      // IP, hostname or unix:// path
  std::map<std::string, uint32_t> ports;
  std::map<std::string, std::string> labels;
  std::string network;
  std::string locality;
  uint32_t weight = 0;
  std::string service_account;

  bool operator==(const WorkloadEntrySpec&) const = default;
};

struct ServiceEntry {
  ObjectMeta meta;
  SourceRef source;
  std::vector<std::string> hosts;
  std::vector<std::string> addresses;  // IPs or CIDRs, as written
  std::vector<ServicePort> ports;
  Location location = Location::kMeshExternal;
  Resolution resolution = Resolution::kNone;
  std::vector<WorkloadEntrySpec> endpoints;
  std::optional<std::map<std::string, std::string>> workload_selector;
  std::vector<std::string> export_to;  // empty: mesh default
  std::vector<std::string> subject_alt_names;
  std::vector<std::string> status_addresses;  // status.addresses[].value (auto-allocated VIPs)

  bool operator==(const ServiceEntry&) const = default;
};

// ConnectionPoolSettings (Sidecar ingress and inboundConnectionPool,
// DestinationRule trafficPolicy): validated as Istio does, never enforced.
// Numbers are read as non-negative; durations as written.
struct ConnectionPool {
  bool http = false;  // http: set
  bool tcp = false;   // tcp: set
  bool h2_upgrade = false;           // http.h2UpgradePolicy: UPGRADE
  bool use_client_protocol = false;  // http.useClientProtocol
  bool http2_keepalive = false;      // tcp.http2KeepAlive... (http.http2KeepAlive) set
  std::string http2_keepalive_interval;
  std::string http2_keepalive_timeout;
  // Durations that must be at least 1ms, at ms precision, by field name.
  std::vector<std::pair<std::string, std::string>> durations;

  bool operator==(const ConnectionPool&) const = default;
};

enum class CaptureMode { kDefault, kIptables, kNone };

struct SidecarEgress {
  std::optional<uint32_t> port;  // egress listener port, if any
  std::string port_name;          // port.name, as written
  std::string port_protocol;      // port.protocol, as written (empty: sniffed)
  uint32_t target_port = 0;       // port.targetPort (no effect on Sidecars)
  std::string bind;
  CaptureMode capture_mode = CaptureMode::kDefault;
  std::vector<std::string> hosts;  // "ns/host", "~ns/host" excludes

  bool operator==(const SidecarEgress&) const = default;
};

// Inbound (ServerTLSSettings on a sidecar ingress listener).
struct SidecarIngressTls {
  std::string mode;  // as written ("" is PASSTHROUGH)
  bool https_redirect = false;
  bool credential_name = false;
  bool credential_names = false;
  bool tls_certificates = false;
  bool subject_alt_names = false;
  bool server_certificate = false;
  bool private_key = false;
  bool ca_certificates = false;

  bool operator==(const SidecarIngressTls&) const = default;
};

// Inbound listeners: validated as Istio does; egressd enforces egress only.
struct SidecarIngress {
  std::optional<uint32_t> port;
  std::string port_name;
  std::string port_protocol;
  uint32_t target_port = 0;
  std::string bind;
  std::string default_endpoint;
  std::optional<SidecarIngressTls> tls;
  std::optional<ConnectionPool> connection_pool;

  bool operator==(const SidecarIngress&) const = default;
};

// outboundTrafficPolicy.egressProxy (a Destination).
struct EgressProxy {
  std::string host;
  std::string subset;
  std::optional<uint32_t> port;

  bool operator==(const EgressProxy&) const = default;
};

struct Sidecar {
  ObjectMeta meta;
  SourceRef source;
  std::optional<std::map<std::string, std::string>> workload_selector;
  std::vector<SidecarIngress> ingress;
  std::vector<SidecarEgress> egress;
  std::optional<ConnectionPool> inbound_connection_pool;
  std::optional<OutboundMode> outbound_mode;
  std::optional<EgressProxy> egress_proxy;

  bool operator==(const Sidecar&) const = default;
};

// What a workload read from a Pod of this node (Kubernetes mode) adds: how
// the kubelet names its cgroup, and how Istio names its workload.
struct PodInfo {
  std::string uid;             // metadata.uid
  std::string qos_class;       // status.qosClass as written ("" until set)
  std::string istio_workload;  // the Deployment, StatefulSet, DaemonSet, Job... else the pod's name
  bool host_network = false;   // spec.hostNetwork: no interface of its own, no TC backstop
};

// A workload: a local stand-in for a pod (file mode: a cgroup with
// metadata), or a Pod of this node (Kubernetes mode: `pod` set, the cgroup
// found from its uid and QoS class).
struct Workload {
  ObjectMeta meta;
  SourceRef source;
  std::string cgroup;  // absolute, or relative to --cgroup-root; empty for a pod
  std::optional<PodInfo> pod;
};

// The name Istio's telemetry gives a workload's traffic (source_workload):
// a pod's controller, so pod churn does not multiply metric series.
inline const std::string& telemetryName(const Workload& workload) {
  return workload.pod ? workload.pod->istio_workload : workload.meta.name;
}

// Namespace label that leaves every pod of the namespace alone when "false"
// (as --exclude-namespace does). Any other value, or none, enforces.
inline constexpr const char* kEnforceLabel = "egressd.io/enforce";

// Label that puts a Workload, or every workload of a Namespace, in audit
// mode: "true" or "false" (a Workload's own label wins over its Namespace's).
inline constexpr const char* kAuditLabel = "egressd.io/audit";

// Core v1 Namespace (cluster-scoped). Only its labels matter to egressd.
struct Namespace {
  ObjectMeta meta;  // meta.name is the namespace; meta.namespace_ is empty
  SourceRef source;
};

}  // namespace egressd::policy

namespace egressd::policy {

// --- Egress gateway routing: Gateway, VirtualService, DestinationRule and the
// core v1 Service that gives the gateway its address (file mode). ---

// Gateway.servers[].tls.mode
enum class ServerTlsMode { kPassthrough, kSimple, kMutual, kIstioMutual, kAutoPassthrough, kOptionalMutual };

struct ServerTls {
  ServerTlsMode mode = ServerTlsMode::kPassthrough;  // Istio's enum default (PASSTHROUGH = 0)
  bool https_redirect = false;
  std::string credential_name;
  std::string server_certificate;
  std::string private_key;
  std::string ca_certificates;
};

struct GatewayServer {
  uint32_t port_number = 0;
  std::string port_name;
  std::string port_protocol;  // as written
  uint32_t port_target = 0;   // port.targetPort (no effect on Gateways)
  std::vector<std::string> hosts;  // "ns/host" or "host"
  std::optional<ServerTls> tls;
  std::string bind;
  std::string name;
};

struct Gateway {
  ObjectMeta meta;
  SourceRef source;
  std::map<std::string, std::string> selector;  // pods that are this gateway
  std::vector<GatewayServer> servers;
};

// VirtualService string matches (authority, uri, ...): exact, prefix or regex.
struct StringMatch {
  enum class Kind { kExact, kPrefix, kRegex };
  Kind kind = Kind::kExact;
  std::string value;
};

struct RouteDestination {  // route[] of tls, tcp and http routes
  std::string host;
  std::string subset;
  std::optional<uint32_t> port;  // destination.port.number
  std::optional<int64_t> weight;  // unset: 0 (100 when alone)
};

struct L4Match {  // tls[].match[] and tcp[].match[]
  std::vector<std::string> gateways;
  std::optional<uint32_t> port;
  std::vector<std::string> sni_hosts;  // tls only
  std::vector<std::string> destination_subnets;
  std::map<std::string, std::string> source_labels;
  std::string source_namespace;
};

struct HttpMatch {
  std::string name;
  std::vector<std::string> gateways;
  std::optional<uint32_t> port;
  std::optional<StringMatch> authority;
  std::map<std::string, std::string> source_labels;
  std::string source_namespace;
  // Request-level conditions the kernel cannot see (uri, headers, method,
  // scheme, queryParams, withoutHeaders, ignoreUriCase), by field name.
  std::vector<std::string> request_conditions;
  bool jwt_claim = false;  // a headers/withoutHeaders key "@request.auth.claims..."
};

struct L4Route {  // tls[] and tcp[]
  std::vector<L4Match> match;
  std::vector<RouteDestination> route;
};

struct HttpRoute {
  std::string name;
  std::vector<HttpMatch> match;
  std::vector<RouteDestination> route;
  bool sets_authority_header = false;  // headers.request.set[":authority"]
  bool rewrites_authority = false;     // rewrite.authority
  bool redirect = false;         // answered by the proxy, never forwarded
  bool direct_response = false;  // likewise
};

struct VirtualService {
  ObjectMeta meta;
  SourceRef source;
  std::vector<std::string> hosts;
  std::vector<std::string> gateways;  // as written; empty means ["mesh"]
  std::vector<std::string> export_to;  // empty: mesh default
  std::vector<HttpRoute> http;
  std::vector<L4Route> tls;
  std::vector<L4Route> tcp;

  // "mesh" is listed (Istio's isGateway() is its negation: a VirtualService
  // without gateways counts as bound to gateways there, for SNI names only).
  bool boundToMeshGateway() const {
    for (const std::string& g : gateways) {
      if (g == "mesh") return true;
    }
    return false;
  }

  // Istio's default: a VirtualService without gateways applies to sidecars.
  bool boundToMesh() const {
    if (gateways.empty()) return true;
    for (const std::string& g : gateways) {
      if (g == "mesh") return true;
    }
    return false;
  }
};

// DestinationRule trafficPolicy.tls.mode (ClientTLSSettings)
enum class ClientTlsMode { kDisable, kSimple, kMutual, kIstioMutual };

struct ClientTls {
  ClientTlsMode mode = ClientTlsMode::kDisable;
  std::string sni;
  std::string credential_name;
  std::string client_certificate;
  std::string private_key;
  std::string ca_certificates;
  std::vector<std::string> subject_alt_names;
  bool insecure_skip_verify = false;
  std::string ca_crl;
};

// OutlierDetection and LoadBalancerSettings: validated as Istio does, never
// enforced (a connect()-time enforcer picks no endpoint).
struct OutlierDetection {
  std::vector<std::pair<std::string, std::string>> durations;  // field, value
  bool consecutive_errors = false;  // deprecated field set
  bool split_external_local_origin_errors = false;
  uint32_t consecutive_local_origin_failures = 0;
  uint32_t max_ejection_percent = 0;
  uint32_t min_health_percent = 0;
};

struct LoadBalancer {
  bool http_cookie = false;
  std::string http_cookie_name;
  bool minimum_ring_size = false;
  bool hash_algorithm = false;  // ringHash or maglev set
  std::optional<uint32_t> maglev_table_size;
  bool locality = false;
  bool zone_aware = false;
  std::optional<std::string> warmup_duration;  // set when warmup is set ("" if no duration)
};

// The settings a TrafficPolicy and each of its portLevelSettings share.
struct TrafficSettings {
  std::optional<ClientTls> tls;
  std::optional<ConnectionPool> connection_pool;
  std::optional<OutlierDetection> outlier_detection;
  std::optional<LoadBalancer> load_balancer;
};

struct PortTrafficPolicy : TrafficSettings {
  uint32_t port = 0;
  bool port_set = false;
};

struct TrafficPolicy : TrafficSettings {
  std::vector<PortTrafficPolicy> port_level_settings;
  bool port_level_settings_set = false;
  bool tunnel = false;
  std::string tunnel_protocol;
  std::string tunnel_target_host;
  uint32_t tunnel_target_port = 0;
  std::optional<std::string> proxy_protocol_version;  // set when proxyProtocol is set (V1 or V2)
  bool retry_budget = false;
};

struct Subset {
  std::string name;
  std::map<std::string, std::string> labels;
  std::optional<TrafficPolicy> traffic_policy;
};

struct DestinationRule {
  ObjectMeta meta;
  SourceRef source;
  std::string host;
  std::vector<std::string> export_to;  // empty: mesh default
  std::optional<TrafficPolicy> traffic_policy;
  std::vector<Subset> subsets;
  std::optional<std::map<std::string, std::string>> workload_selector;
};

struct ServiceSpecPort {  // core v1 Service spec.ports[]
  std::string name;
  uint32_t port = 0;
  std::string target_port;  // number or IANA name, as written ("" if unset)
  std::string protocol = "TCP";
  std::string app_protocol;
};

// Core v1 Service: in file mode the egress gateway's address comes from here.
struct Service {
  ObjectMeta meta;
  SourceRef source;
  std::optional<std::map<std::string, std::string>> selector;
  std::vector<ServiceSpecPort> ports;
  std::string cluster_ip;                // "" unset, "None" headless
  std::vector<std::string> cluster_ips;  // as written
  std::string type = "ClusterIP";
  std::string external_name;

  // clusterIPs, else clusterIP; never "None" or empty.
  std::vector<std::string> addresses() const {
    std::vector<std::string> out;
    for (const std::string& ip : cluster_ips) {
      if (!ip.empty() && ip != "None") out.push_back(ip);
    }
    if (out.empty() && !cluster_ip.empty() && cluster_ip != "None") out.push_back(cluster_ip);
    return out;
  }
};

}  // namespace egressd::policy

namespace egressd::policy {

// Everything in force at one moment: the compiler's input.
struct PolicySnapshot {
  MeshConfig mesh;
  std::vector<ServiceEntry> service_entries;
  std::vector<Sidecar> sidecars;
  std::vector<Workload> workloads;
  std::vector<Namespace> namespaces;
  std::vector<Gateway> gateways;
  std::vector<VirtualService> virtual_services;
  std::vector<DestinationRule> destination_rules;
  std::vector<Service> services;
};

// The ServiceEntry "namespace/name" of the snapshot; nullptr if it has none.
inline const ServiceEntry* findServiceEntry(const PolicySnapshot& snapshot, const std::string& id) {
  for (const auto& se : snapshot.service_entries) {
    if (se.meta.namespace_ + "/" + se.meta.name == id) return &se;
  }
  return nullptr;
}

// An object that was not applied, and why. `kind` is the metric label of
// egressd_rejected_objects{kind}.
struct Rejection {
  std::string kind;
  std::string namespace_;
  std::string name;
  SourceRef source;
  std::string reason;
};

// Accepted, but worth telling the user (as Istio's analyzer would).
struct Warning {
  std::string kind;
  std::string namespace_;
  std::string name;
  SourceRef source;
  std::string message;
};

}  // namespace egressd::policy
