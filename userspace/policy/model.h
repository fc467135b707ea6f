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
};

struct ObjectMeta {
  std::string name;
  std::string namespace_;
  std::map<std::string, std::string> labels;
};

enum class OutboundMode { kAllowAny, kRegistryOnly };

struct MeshConfig {
  OutboundMode outbound_mode = OutboundMode::kAllowAny;  // Istio's default
  std::vector<std::string> default_service_export_to;     // empty means "*"
  std::string root_namespace = "istio-system";
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
};

struct WorkloadEntrySpec {  // ServiceEntry.endpoints[]
  std::string address;      // IP, hostname or unix:// path
  std::map<std::string, uint32_t> ports;
  std::map<std::string, std::string> labels;
  std::string network;
  std::string locality;
  uint32_t weight = 0;
  std::string service_account;
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
};

struct SidecarEgress {
  std::optional<uint32_t> port;  // egress listener port, if any
  std::string port_name;          // port.name, as written
  std::string port_protocol;      // port.protocol, as written (empty: sniffed)
  std::string bind;
  std::vector<std::string> hosts;  // "ns/host"
};

struct Sidecar {
  ObjectMeta meta;
  SourceRef source;
  std::optional<std::map<std::string, std::string>> workload_selector;
  std::vector<SidecarEgress> egress;
  std::optional<OutboundMode> outbound_mode;
};

// Local stand-in for a pod (file mode): a cgroup with metadata.
struct Workload {
  ObjectMeta meta;
  SourceRef source;
  std::string cgroup;  // absolute, or relative to --cgroup-root
};

}  // namespace egressd::policy

namespace egressd::policy {

// Everything in force at one moment: the compiler's input.
struct PolicySnapshot {
  MeshConfig mesh;
  std::vector<ServiceEntry> service_entries;
  std::vector<Sidecar> sidecars;
  std::vector<Workload> workloads;
};

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
