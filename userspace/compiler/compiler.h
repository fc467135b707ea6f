#pragma once
// The policy compiler: a pure function from Istio's egress API (plus the
// node's workloads) to the contents of the kernel maps, and its user-space
// twin of the kernel's decision for `egressctl explain`.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "compiler/class_ids.h"
#include "compiler/desired_state.h"
#include "compiler/gateway_routing.h"
#include "policy/model.h"

namespace egressd::compiler {

class EntryCache;  // entry_cache.h

struct DnsServer {
  std::string ip;
  uint16_t port = 53;
};

struct CompileOptions {
  std::vector<std::string> cluster_cidrs;  // always allowed, every port, TCP and UDP
  std::vector<DnsServer> dns_servers;      // always allowed on their port, TCP and UDP; trusted for learning
  // Endpoint hostname -> its IPs, as the agent resolved them (DNS and
  // DNS_ROUND_ROBIN entries with hostname endpoints, as Envoy's DNS clusters
  // do). They open the entry's ports like STATIC endpoints.
  std::map<std::string, std::vector<std::string>> resolved_endpoints;
  // Mesh-wide audit mode (--audit); workloads labelled egressd.io/audit: "true",
  // or in a Namespace so labelled, audit too (workloadAudit()).
  bool audit = false;
  // Pods left alone (Kubernetes mode): those of these namespaces
  // (--exclude-namespace) and the agent's own ("ns/name"); also those of a
  // Namespace labelled egressd.io/enforce: "false" (podExclusion()).
  std::vector<std::string> exclude_namespaces;
  std::string own_pod;
};

// A workload's audit mode and where it came from, for `egressctl policy`.
struct AuditSetting {
  bool on = false;
  std::string source;  // "" when nothing sets it; else "--audit (mesh-wide)", "Namespace ...", "Workload ..."
};

// --audit wins (mesh-wide, no opt-out); then the Workload's own
// egressd.io/audit label ("true" or "false", as Istio's pod-level injection
// label overrides the namespace's); then its Namespace's label. A value
// other than "true"/"false" on a Workload counts as unset (a Namespace with
// one is rejected by validation).
AuditSetting workloadAudit(const policy::PolicySnapshot& policy, const policy::Workload& workload, bool mesh_audit);

// Why a pod is left alone (neither enforced nor an unknown workload), or
// none: the agent's own pod, a namespace in exclude_namespaces, a Namespace
// labelled egressd.io/enforce: "false". A local Workload is never excluded:
// it was declared to be enforced.
std::optional<std::string> podExclusion(const policy::PolicySnapshot& policy, const policy::Workload& workload,
                                        const CompileOptions& options);

// Scope name hash (FNV-1a 64 of the scope key) -> scope id.
using ScopeIds = std::map<uint64_t, uint32_t>;

// Recovers the ids in force after a restart from the live `scopes` map.
ScopeIds scopeIdsFromLive(const DesiredState& live);

// Stable 64-bit hash of a scope key, as stored in egressd_scope_value.name_hash.
uint64_t scopeNameHash(const std::string& scope_key);

// Egress gateway target ("address port") -> slot id. Recovered from the live
// `gateways` map, so a recompile keeps the slots of existing gateways.
using GatewayIds = std::map<std::string, uint32_t>;
GatewayIds gatewayIdsFromLive(const DesiredState& live);

// Class ids in force (class_ids.h), from the live maps.
ClassIds classIdsFromLive(const DesiredState& live);

struct CompiledScope {
  uint32_t id = 0;
  std::string key;  // "namespace|sidecar-ns/sidecar-name" or "namespace|"
  std::string namespace_;
  std::optional<std::string> sidecar;  // "ns/name"
  policy::OutboundMode mode = policy::OutboundMode::kAllowAny;
  std::vector<uint32_t> visible_services;  // service ids (CompileOutput::services) of the entries imported
  std::vector<std::string> workloads;                // "ns/name"
  std::vector<std::string> gateway_workloads;        // "ns/name": exempt, never redirected
  // Union over the scope's (non-gateway) workloads: the kernel redirects per
  // scope, so a route any workload has applies to all (reported if they differ).
  std::vector<GatewayRoute> gateway_routes;
};

// One ServiceEntry destination opened to some scopes: lets explain name the
// entry that decided, for the scope asking (the kernel's service_id is only
// the first contributor over all scopes).
struct ServiceGrant {
  egressd_prefix_key prefix;
  uint16_t port = 0;
  uint8_t protocol = 0;
  uint32_t service_id = 0;
  std::vector<uint32_t> scope_ids;
};

// One ServiceEntry host (a DNS-learned class) opened on (port, protocol) to
// some scopes.
struct HostGrant {
  std::string host;  // as in host_classes: lowercased, "*.x.com" for a wildcard
  uint16_t port = 0;
  uint8_t protocol = 0;
  uint32_t service_id = 0;
  std::vector<uint32_t> scope_ids;
};

struct CompileOutput {
  DesiredState desired;
  std::vector<CompiledScope> scopes;  // ordered by key
  ScopeIds scope_ids;
  std::vector<std::string> services;  // service_id -> "ns/name" (or "(cluster-cidr)", "(dns-server)")
  std::vector<std::string> warnings;
  std::vector<std::string> errors;  // e.g. too many scopes, workload without cgroup id
  std::map<std::string, uint64_t> workload_cgroups;  // "ns/name" -> cgroup id, of workloads written
  std::map<std::string, AuditSetting> workload_audit;  // "ns/name" -> audit mode, of workloads written
  std::map<std::string, std::string> excluded_pods;    // "ns/name" -> why it is left alone (podExclusion())
  std::vector<ServiceGrant> grants;
  std::map<uint32_t, std::string> host_classes;  // class id -> ServiceEntry host learned by DNS
  std::vector<HostGrant> host_grants;            // like grants, for host classes (explain names the entry)
  // Egress gateway: slot id -> "ns/service address:port"; routing issues
  // (logged at apply, egressd_gateway_route_issues, egressctl policy).
  std::map<uint32_t, std::string> gateways;
  std::vector<RoutingIssue> gateway_issues;
};

// Endpoint addresses that are hostnames, in entries whose resolution makes
// the proxy resolve them (DNS, DNS_ROUND_ROBIN): what the agent must resolve.
std::vector<std::string> endpointHostnames(const policy::PolicySnapshot& policy);

// `entry_cache`, kept by the caller between compiles, saves the work of
// unchanged ServiceEntries (entry_cache.h); the output is the same without it.
CompileOutput compilePolicy(const policy::PolicySnapshot& policy,
                            const std::map<std::string, uint64_t>& workload_cgroups,
                            const CompileOptions& options, const ScopeIds& previous,
                            const GatewayIds& previous_gateways = {}, const ClassIds& previous_classes = {},
                            EntryCache* entry_cache = nullptr);

// The dns_learned entry for (the workload's scope, destination IP) as the
// agent read it from the kernel, and CLOCK_BOOTTIME at that moment: explain
// reads no maps, the caller passes what the kernel holds.
struct LearnedEntry {
  std::array<uint32_t, EGRESSD_DNS_CLASSES_PER_IP> class_ids{};  // 0 = empty slot, in map order
  uint64_t expires_ns = 0;                                        // CLOCK_BOOTTIME
  uint64_t now_ns = 0;                                            // CLOCK_BOOTTIME when read
};

// What explain made of a learned entry.
struct LearnedExplanation {
  std::vector<std::string> hosts;  // ServiceEntry hosts of its classes ("(removed host N)" if gone)
  int64_t expires_in_s = 0;        // negative: expired that long ago
  bool expired = false;            // the kernel ignores it (expires_ns <= now)
  bool decided = false;            // it allowed or redirected this connection
};

struct Explanation {
  egressd_verdict verdict = EGRESSD_VERDICT_DENIED;
  egressd_reason reason = EGRESSD_REASON_NOT_WORKLOAD;
  std::optional<std::string> service_entry;  // "ns/name" when a ServiceEntry decided
  std::string scope_key;
  std::string detail;
  std::optional<LearnedExplanation> learned;  // a dns_learned entry was passed in
};

// The scope id of a compiled workload ("ns/name"), the key the agent needs to
// read dns_learned for explain; nullopt if the workload has no entry.
std::optional<uint32_t> workloadScopeId(const CompileOutput& compiled, const std::string& workload);

// The compiled scope a workload ("ns/name") belongs to; nullptr if none.
const CompiledScope* scopeOfWorkload(const CompileOutput& compiled, const std::string& workload);

// "a, b" for messages; "(no host)" when empty.
std::string joinHosts(const std::vector<std::string>& hosts);

// Evaluates compiled.desired exactly as the kernel does (bpf/lib/policy.h):
// workload -> scope, loopback, longest prefix, port (exact, then any),
// the learned entry's host classes (if `learned`, and not expired), mode,
// then audit. `learned` is dns_learned{scope, ip} as read by the caller.
Result<Explanation> explainConnection(const CompileOutput& compiled, const std::string& workload,
                                      const std::string& ip, uint16_t port, uint8_t l4_protocol,
                                      const std::optional<LearnedEntry>& learned = std::nullopt);

// Host classes a name would be learned under: the exact host and every
// wildcard host covering it (any depth, never the apex). Empty for a name
// DNS learning can't use.
std::vector<uint32_t> hostClassesFor(const CompileOutput& compiled, const std::string& host);

}  // namespace egressd::compiler
