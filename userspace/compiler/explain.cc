// explainConnection(): the kernel's decision, in the order docs/ARCHITECTURE.md
// "The decision" states, replayed over the compiled maps and the dns_learned
// entry the caller read, plus the names behind it.
#include <netinet/in.h>

#include <algorithm>

#include "compiler/address.h"
#include "egressd/scope_bits.h"
#include "compiler/compiler.h"
#include "compiler/host_classes.h"
#include "compiler/prefix_classes.h"
#include "policy/hosts.h"

namespace egressd::compiler {
namespace {

std::string protoName(uint8_t proto) {
  return proto == IPPROTO_UDP ? "udp" : proto == IPPROTO_TCP ? "tcp" : "proto " + std::to_string(proto);
}

// LPM: the longest live prefix containing `address`.
const std::pair<const egressd_prefix_key, egressd_prefix_value>* longestMatch(const DesiredState& desired,
                                                                             const egressd_prefix_key& address) {
  for (int len = 128; len >= 0; --len) {
    auto it = desired.prefixes.find(maskPrefix(address, static_cast<uint32_t>(len)));
    if (it != desired.prefixes.end()) return &*it;
  }
  return nullptr;
}

const egressd_port_value* portLookup(const DesiredState& desired, uint32_t class_id, uint16_t port,
                                     uint8_t proto) {
  egressd_port_key key{};
  key.class_id = class_id;
  key.port = port;
  key.protocol = proto;
  auto it = desired.ports.find(key);
  return it == desired.ports.end() ? nullptr : &it->second;
}

// The ServiceEntry that opened ip:port to this scope: the most specific
// prefix wins, then the first entry in service order.
std::optional<std::string> decidingServiceEntry(const CompileOutput& compiled, uint32_t scope_id,
                                                const egressd_prefix_key& address, uint16_t port, uint8_t proto) {
  const ServiceGrant* best = nullptr;
  for (const auto& g : compiled.grants) {
    if (g.port != port || g.protocol != proto || !prefixCovers(g.prefix, address)) continue;
    if (std::find(g.scope_ids.begin(), g.scope_ids.end(), scope_id) == g.scope_ids.end()) continue;
    if (!best || g.prefix.prefixlen > best->prefix.prefixlen ||
        (g.prefix.prefixlen == best->prefix.prefixlen && g.service_id < best->service_id)) {
      best = &g;
    }
  }
  if (!best) return std::nullopt;
  return compiled.services.at(best->service_id);
}

bool scopeBit(const __u64* bitmap, uint32_t scope_id) {
  return egressd_scope_bit_test(bitmap, scope_id);
}

// The ServiceEntry that opened host:port to this scope: the first in service order.
std::optional<std::string> decidingHostEntry(const CompileOutput& compiled, uint32_t scope_id, const std::string& host,
                                             uint16_t port, uint8_t proto) {
  const HostGrant* best = nullptr;
  for (const auto& g : compiled.host_grants) {
    if (g.host != host || g.port != port || g.protocol != proto) continue;
    if (std::find(g.scope_ids.begin(), g.scope_ids.end(), scope_id) == g.scope_ids.end()) continue;
    if (!best || g.service_id < best->service_id) best = &g;
  }
  if (!best) return std::nullopt;
  return compiled.services.at(best->service_id);
}

std::string hostOfClass(const CompileOutput& compiled, uint32_t class_id) {
  auto it = compiled.host_classes.find(class_id);
  // A class no longer in the policy: the entry no longer allows anything.
  return it == compiled.host_classes.end() ? "(removed host " + std::to_string(class_id) + ")" : it->second;
}

// Verdict REDIRECTED through entry's gateway slot (DENIED if the slot is gone, as the kernel).
void explainRedirect(const CompileOutput& compiled, uint32_t scope_id, const egressd_port_value& entry,
                     const std::string& dest, uint16_t port, Explanation& ex) {
  auto gateway = compiled.gateways.find(entry.gateway_id);
  const bool known = gateway != compiled.gateways.end();
  ex.verdict = known ? EGRESSD_VERDICT_REDIRECTED : EGRESSD_VERDICT_DENIED;
  ex.reason = EGRESSD_REASON_GATEWAY_ROUTE;
  ex.detail += "; " + dest + " is routed through the egress gateway " +
               (known ? gateway->second : "(slot " + std::to_string(entry.gateway_id) + " missing: denied)");
  for (const auto& s : compiled.scopes) {
    if (s.id != scope_id) continue;
    for (const auto& r : s.gateway_routes) {
      if (r.port == port) ex.detail += "; route " + r.host + ":" + std::to_string(r.port) + " by VirtualService " +
                                       r.virtual_service;
    }
  }
}

struct Query {
  const CompileOutput& compiled;
  const std::string& workload;
  const std::string& ip;
  const egressd_prefix_key& address;
  uint16_t port;
  uint8_t proto;
  const std::optional<LearnedEntry>& learned;
  uint32_t scope_id;
  bool gateway_workload;
  std::string dest;  // "ip:port/proto"
};

// Step 6 of the order (bpf/lib/policy.h egressd_learned_allows): the
// learned entry's classes, in map order; a redirecting class wins over one
// that only allows. True if it decided.
bool explainLearned(const Query& q, Explanation& ex) {
  if (!q.learned || !ex.learned) return false;
  const LearnedExplanation& le = *ex.learned;
  if (le.expired) {
    ex.detail += "; " + q.ip + " was learned from a DNS answer for " + joinHosts(le.hosts) + " but expired " +
                 std::to_string(-le.expires_in_s) + "s ago: the kernel ignores it";
    return false;
  }
  const std::string learned_text = q.ip + " learned from a DNS answer for " + joinHosts(le.hosts) + ", expires in " +
                                   std::to_string(le.expires_in_s) + "s";
  const egressd_port_value* decided = nullptr;
  uint32_t decided_class = 0;
  if (q.proto) {
    for (uint32_t id : q.learned->class_ids) {
      if (!id) continue;
      const egressd_port_value* pv = portLookup(q.compiled.desired, id, q.port, q.proto);
      if (!pv) pv = portLookup(q.compiled.desired, id, kAnyPort, q.proto);
      if (!pv) continue;
      if (!q.gateway_workload && scopeBit(pv->redirect_scopes, q.scope_id)) {
        decided = pv;
        decided_class = id;
        break;
      }
      if (!decided && scopeBit(pv->allow_scopes, q.scope_id)) {
        decided = pv;
        decided_class = id;
      }
    }
  }
  if (!decided) {
    ex.detail += "; " + learned_text + ", but none of these hosts is open on " + std::to_string(q.port) + "/" +
                 protoName(q.proto) + " to scope " + ex.scope_key;
    return false;
  }
  ex.learned->decided = true;
  const std::string host = hostOfClass(q.compiled, decided_class);
  ex.service_entry = decidingHostEntry(q.compiled, q.scope_id, host, q.port, q.proto);
  ex.detail += "; " + learned_text;
  if (!q.gateway_workload && scopeBit(decided->redirect_scopes, q.scope_id)) {
    explainRedirect(q.compiled, q.scope_id, *decided, q.dest, q.port, ex);
    return true;
  }
  ex.verdict = EGRESSD_VERDICT_ALLOWED;
  ex.reason = EGRESSD_REASON_DNS_LEARNED;
  ex.detail += "; " + host + " " + std::to_string(q.port) + "/" + protoName(q.proto) + " allowed by ServiceEntry " +
               ex.service_entry.value_or("?");
  return true;
}

// Steps 3-8 of the order for a known workload, audit aside.
void explainDecision(const Query& q, Explanation& ex) {
  const CompileOutput& compiled = q.compiled;
  const egressd_port_value* entry = nullptr;
  if (const auto* match = longestMatch(compiled.desired, q.address)) {
    const uint32_t class_id = match->second.class_id;
    ex.detail = q.ip + " matches " + formatPrefix(match->first) + " (class " + std::to_string(class_id) + ")";
    entry = portLookup(compiled.desired, class_id, q.port, q.proto);
    if (!entry) entry = portLookup(compiled.desired, class_id, kAnyPort, q.proto);
  } else {
    ex.detail = q.ip + " matches no known prefix";
  }

  // ALWAYS entries depend on no scope, so they come before the scope check.
  if (entry && (entry->flags & EGRESSD_PORT_F_ALWAYS)) {
    ex.verdict = EGRESSD_VERDICT_ALLOWED;
    ex.reason = EGRESSD_REASON_ALWAYS_ALLOWED;
    const auto& source = entry->service_id < compiled.services.size() ? compiled.services[entry->service_id] : "";
    ex.detail += "; " + q.dest + " always allowed " + source;
    return;
  }
  auto scope = compiled.desired.scopes.find(q.scope_id);
  if (scope == compiled.desired.scopes.end() || !(scope->second.flags & EGRESSD_SCOPE_F_ACTIVE)) {
    ex.verdict = EGRESSD_VERDICT_DENIED;
    ex.reason = EGRESSD_REASON_UNKNOWN_SCOPE;
    ex.detail += "; scope " + std::to_string(q.scope_id) + " is not active";
    return;
  }
  if (entry && !q.gateway_workload && scopeBit(entry->redirect_scopes, q.scope_id)) {
    ex.service_entry = decidingServiceEntry(compiled, q.scope_id, q.address, q.port, q.proto);
    explainRedirect(compiled, q.scope_id, *entry, q.dest, q.port, ex);
    return;
  }
  if (entry && scopeBit(entry->allow_scopes, q.scope_id)) {
    ex.verdict = EGRESSD_VERDICT_ALLOWED;
    ex.reason = EGRESSD_REASON_REGISTRY_MATCH;
    ex.service_entry = decidingServiceEntry(compiled, q.scope_id, q.address, q.port, q.proto);
    ex.detail += "; " + q.dest + " allowed by ServiceEntry " + ex.service_entry.value_or("?");
    return;
  }
  if (explainLearned(q, ex)) return;
  if (q.gateway_workload) {
    ex.verdict = EGRESSD_VERDICT_ALLOWED;
    ex.reason = EGRESSD_REASON_GATEWAY_WORKLOAD;
    ex.detail += "; " + q.workload + " is an egress gateway: exempt from outboundTrafficPolicy, never redirected";
    return;
  }
  // The kernel reads any mode other than ALLOW_ANY as REGISTRY_ONLY.
  const bool registry_only = scope->second.outbound_mode != EGRESSD_MODE_ALLOW_ANY;
  ex.verdict = registry_only ? EGRESSD_VERDICT_DENIED : EGRESSD_VERDICT_ALLOWED;
  ex.reason = registry_only ? EGRESSD_REASON_NOT_IN_REGISTRY : EGRESSD_REASON_ALLOW_ANY;
  ex.detail += "; no ServiceEntry visible to scope " + ex.scope_key + " allows " + q.dest +
               (registry_only ? ": REGISTRY_ONLY denies" : ": ALLOW_ANY allows");
}

}  // namespace

std::optional<uint32_t> workloadScopeId(const CompileOutput& compiled, const std::string& workload) {
  auto cgroup = compiled.workload_cgroups.find(workload);
  if (cgroup == compiled.workload_cgroups.end()) return std::nullopt;
  auto w = compiled.desired.workloads.find(egressd_workload_key{cgroup->second});
  if (w == compiled.desired.workloads.end()) return std::nullopt;
  return w->second.scope_id;
}

const CompiledScope* scopeOfWorkload(const CompileOutput& compiled, const std::string& workload) {
  for (const auto& scope : compiled.scopes) {
    if (std::find(scope.workloads.begin(), scope.workloads.end(), workload) != scope.workloads.end()) return &scope;
  }
  return nullptr;
}

std::string joinHosts(const std::vector<std::string>& hosts) {
  std::string out;
  for (const auto& h : hosts) out += (out.empty() ? "" : ", ") + h;
  return out.empty() ? "(no host)" : out;
}

std::vector<uint32_t> hostClassesFor(const CompileOutput& compiled, const std::string& host) {
  std::vector<uint32_t> out;
  auto name = normalizeHost(host);
  if (!name) return out;
  for (const auto& [id, text] : compiled.host_classes) {
    // Istio's host subset rule; a wildcard name matches only its own class
    // (the kernel learns concrete names: "*.a.example.com" is none).
    if (name->wildcard ? text == name->text : policy::isHostSubset(name->text, text)) out.push_back(id);
  }
  return out;
}

Result<Explanation> explainConnection(const CompileOutput& compiled, const std::string& workload,
                                      const std::string& ip, uint16_t port, uint8_t l4_protocol,
                                      const std::optional<LearnedEntry>& learned) {
  auto address = parseAddress(ip);
  if (!address) return fail("'" + ip + "' is not an IP address");
  if (auto excluded = compiled.excluded_pods.find(workload); excluded != compiled.excluded_pods.end()) {
    Explanation ex;
    ex.verdict = EGRESSD_VERDICT_ALLOWED;
    ex.reason = EGRESSD_REASON_NOT_WORKLOAD;
    ex.detail = "pod " + workload + " is left alone (" + excluded->second + "): untouched";
    return ex;
  }
  auto cgroup = compiled.workload_cgroups.find(workload);
  if (cgroup == compiled.workload_cgroups.end()) {
    return fail("workload " + workload + " is not in the compiled policy (unknown, no cgroup id, or not enforced)");
  }
  Explanation ex;
  const std::string dest = ip + ":" + std::to_string(port) + "/" + protoName(l4_protocol);

  auto w = compiled.desired.workloads.find(egressd_workload_key{cgroup->second});
  if (w == compiled.desired.workloads.end()) {
    ex.verdict = EGRESSD_VERDICT_ALLOWED;
    ex.reason = EGRESSD_REASON_NOT_WORKLOAD;
    ex.detail = "cgroup " + std::to_string(cgroup->second) + " has no workload entry: untouched";
    return ex;
  }
  const uint32_t scope_id = w->second.scope_id;
  for (const auto& s : compiled.scopes) {
    if (s.id == scope_id) ex.scope_key = s.key;
  }
  if (learned) {  // shown even when something else decides first
    LearnedExplanation le;
    for (uint32_t id : learned->class_ids) {
      if (id) le.hosts.push_back(hostOfClass(compiled, id));
    }
    le.expired = learned->expires_ns <= learned->now_ns;  // the kernel: expires_ns <= now is gone
    le.expires_in_s = static_cast<int64_t>(learned->expires_ns - learned->now_ns) / 1000000000;
    ex.learned = le;
  }
  if (isLoopback(*address)) {
    ex.verdict = EGRESSD_VERDICT_ALLOWED;
    ex.reason = EGRESSD_REASON_LOOPBACK;
    ex.detail = dest + " is loopback";
    return ex;
  }
  const Query query{compiled, workload, ip, *address, port, l4_protocol, learned, scope_id,
                    (w->second.flags & EGRESSD_WORKLOAD_F_GATEWAY) != 0, dest};
  explainDecision(query, ex);
  // As the kernel (egress_sock.bpf.c): every denial of an audit workload,
  // whatever its reason, is allowed and recorded as audit.
  if (ex.verdict == EGRESSD_VERDICT_DENIED && (w->second.flags & EGRESSD_WORKLOAD_F_AUDIT)) {
    ex.verdict = EGRESSD_VERDICT_AUDIT;
    ex.detail += " (audit mode: allowed and recorded)";
  }
  return ex;
}

}  // namespace egressd::compiler
