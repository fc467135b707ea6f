// explainConnection(): the kernel's decision (see the contract at the top of
// compile_policy.cc), replayed over the compiled maps, plus the names behind it.
#include <netinet/in.h>

#include <algorithm>

#include "compiler/address.h"
#include "compiler/compiler.h"
#include "compiler/prefix_classes.h"

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

}  // namespace

Result<Explanation> explainConnection(const CompileOutput& compiled, const std::string& workload,
                                      const std::string& ip, uint16_t port, uint8_t l4_protocol) {
  auto address = parseAddress(ip);
  if (!address) return fail("'" + ip + "' is not an IP address");
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
  if (isLoopback(*address)) {
    ex.verdict = EGRESSD_VERDICT_ALLOWED;
    ex.reason = EGRESSD_REASON_LOOPBACK;
    ex.detail = dest + " is loopback";
    return ex;
  }

  const egressd_port_value* entry = nullptr;
  if (const auto* match = longestMatch(compiled.desired, *address)) {
    const uint32_t class_id = match->second.class_id;
    ex.detail = ip + " matches " + formatPrefix(match->first) + " (class " + std::to_string(class_id) + ")";
    entry = portLookup(compiled.desired, class_id, port, l4_protocol);
    if (!entry) entry = portLookup(compiled.desired, class_id, kAnyPort, l4_protocol);
  } else {
    ex.detail = ip + " matches no known prefix";
  }

  // ALWAYS entries depend on no scope, so they come before the scope check.
  if (entry && (entry->flags & EGRESSD_PORT_F_ALWAYS)) {
    ex.verdict = EGRESSD_VERDICT_ALLOWED;
    ex.reason = EGRESSD_REASON_ALWAYS_ALLOWED;
    const auto& source = entry->service_id < compiled.services.size() ? compiled.services[entry->service_id] : "";
    ex.detail += "; " + dest + " always allowed " + source;
    return ex;
  }
  auto scope = compiled.desired.scopes.find(scope_id);
  if (scope == compiled.desired.scopes.end() || !(scope->second.flags & EGRESSD_SCOPE_F_ACTIVE)) {
    ex.verdict = EGRESSD_VERDICT_DENIED;
    ex.reason = EGRESSD_REASON_UNKNOWN_SCOPE;
    ex.detail += "; scope " + std::to_string(scope_id) + " is not active";
    return ex;
  }
  const bool gateway_workload = w->second.flags & EGRESSD_WORKLOAD_F_GATEWAY;
  if (entry && !gateway_workload && (entry->redirect_scopes[scope_id / 64] & (1ull << (scope_id % 64)))) {
    auto gateway = compiled.gateways.find(entry->gateway_id);
    const bool known = gateway != compiled.gateways.end();
    ex.verdict = known ? EGRESSD_VERDICT_REDIRECTED : EGRESSD_VERDICT_DENIED;
    ex.reason = EGRESSD_REASON_GATEWAY_ROUTE;
    ex.service_entry = decidingServiceEntry(compiled, scope_id, *address, port, l4_protocol);
    ex.detail += "; " + dest + " is routed through the egress gateway " +
                 (known ? gateway->second : "(slot " + std::to_string(entry->gateway_id) + " missing: denied)");
    for (const auto& s : compiled.scopes) {
      if (s.id != scope_id) continue;
      for (const auto& r : s.gateway_routes) {
        if (r.port == port) ex.detail += "; route " + r.host + ":" + std::to_string(r.port) + " by VirtualService " +
                                         r.virtual_service;
      }
    }
    return ex;
  }
  if (entry && (entry->allow_scopes[scope_id / 64] & (1ull << (scope_id % 64)))) {
    ex.verdict = EGRESSD_VERDICT_ALLOWED;
    ex.reason = EGRESSD_REASON_REGISTRY_MATCH;
    ex.service_entry = decidingServiceEntry(compiled, scope_id, *address, port, l4_protocol);
    ex.detail += "; " + dest + " allowed by ServiceEntry " + ex.service_entry.value_or("?");
    return ex;
  }
  if (gateway_workload) {
    ex.verdict = EGRESSD_VERDICT_ALLOWED;
    ex.reason = EGRESSD_REASON_GATEWAY_WORKLOAD;
    ex.detail += "; " + workload + " is an egress gateway: exempt from outboundTrafficPolicy, never redirected";
    return ex;
  }
  // The kernel reads any mode other than ALLOW_ANY as REGISTRY_ONLY.
  const bool registry_only = scope->second.outbound_mode != EGRESSD_MODE_ALLOW_ANY;
  ex.verdict = registry_only ? EGRESSD_VERDICT_DENIED : EGRESSD_VERDICT_ALLOWED;
  ex.reason = registry_only ? EGRESSD_REASON_NOT_IN_REGISTRY : EGRESSD_REASON_ALLOW_ANY;
  ex.detail += "; no ServiceEntry visible to scope " + ex.scope_key + " allows " + dest +
               (registry_only ? ": REGISTRY_ONLY denies" : ": ALLOW_ANY allows");
  if (ex.verdict == EGRESSD_VERDICT_DENIED && (w->second.flags & EGRESSD_WORKLOAD_F_AUDIT)) {
    ex.verdict = EGRESSD_VERDICT_AUDIT;  // as the kernel: allowed, recorded
    ex.detail += " (audit mode: allowed and recorded)";
  }
  return ex;
}

}  // namespace egressd::compiler
