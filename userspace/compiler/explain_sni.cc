#include "compiler/explain_sni.h"

#include <algorithm>

#include "common/abi_names.h"
#include "compiler/host_classes.h"
#include "policy/hosts.h"

namespace egressd::compiler {
namespace {

// Audit is a denial the workload is let through: compare it as one.
egressd_verdict asEnforced(egressd_verdict v) {
  return v == EGRESSD_VERDICT_AUDIT ? EGRESSD_VERDICT_DENIED : v;
}

std::string describe(const SniExplanation& e, const SniQuestion& q, policy::OutboundMode mode) {
  const std::string kernel{verdictName(asEnforced(q.kernel_verdict))};
  const std::string sidecar{verdictName(e.sidecar_verdict)};
  const std::string known = joinHosts(q.destination_hosts);
  const std::string registered =
      e.service_entry ? "ServiceEntry " + *e.service_entry + " registers it (" + *e.registered_host + ")"
                      : "no ServiceEntry visible to the workload registers it on port " + std::to_string(q.port);
  std::string why_sidecar;
  if (e.gateway_route) {
    why_sidecar = "sends it to the egress gateway " + e.gateway_route->target.service + " (VirtualService " +
                  e.gateway_route->virtual_service + ")";
  } else if (e.service_entry) {
    why_sidecar = "allows it (" + *e.service_entry + ")";
  } else if (e.egress_gateway) {
    why_sidecar = "passes it (an egress gateway is exempt from outboundTrafficPolicy)";
  } else if (mode == policy::OutboundMode::kRegistryOnly) {
    why_sidecar = "refuses it (BlackHoleCluster: REGISTRY_ONLY)";
  } else {
    why_sidecar = "passes it (PassthroughCluster: ALLOW_ANY)";
  }

  if (e.agrees) {
    if (e.covers_destination) {
      return "SNI " + e.sni + " is a host the kernel knows this destination by (" + known +
             "); a sidecar routing on it decides the same: " + sidecar + ".";
    }
    return "the kernel decides on the IP, before the TLS handshake; a sidecar routing on SNI " + e.sni + " " +
           why_sidecar + ": the same verdict, " + sidecar + ".";
  }
  const bool kernel_lets_through = asEnforced(q.kernel_verdict) != EGRESSD_VERDICT_DENIED;
  if (kernel_lets_through && e.sidecar_verdict == EGRESSD_VERDICT_DENIED) {
    return "the kernel " + kernel + " the IP (known as " + known + "), but SNI " + e.sni +
           " is not registered: " + registered + ", and a sidecar " + why_sidecar +
           ". The kernel cannot see SNI: a server sharing this IP (a CDN, virtual hosting) may serve " + e.sni +
           ". Register " + e.sni + ", or narrow the entry that allows this IP.";
  }
  if (!kernel_lets_through) {
    return "the kernel denied the IP: it is not known for " + e.sni + " in this workload's scope, while " +
           registered + " and a sidecar " + why_sidecar + ". The kernel learns a host's IPs from the workload's " +
           "own DNS answers: resolve " + e.sni + " from the workload, or list the IP in the entry's addresses.";
  }
  // Both let it through, one to the gateway and one directly.
  if (e.sidecar_verdict == EGRESSD_VERDICT_REDIRECTED) {
    return "a sidecar " + why_sidecar + " for SNI " + e.sni + "; the kernel, deciding on the IP (known as " + known +
           "), sends it directly: the IP is not known for " + e.sni + ". Resolve " + e.sni +
           " from the workload (the kernel learns DNS answers), or list the IP in its ServiceEntry.";
  }
  return "the kernel sends the IP (known as " + known + ") to the egress gateway, but the gateway's routes have no " +
         "TLS route for SNI " + e.sni + " on port " + std::to_string(q.port) + ": a PASSTHROUGH gateway refuses names " +
         "its VirtualServices don't route, and a sidecar " + why_sidecar + ".";
}

}  // namespace

Result<SniExplanation> explainSni(const CompileOutput& compiled, const policy::PolicySnapshot& snapshot,
                                  const SniQuestion& q) {
  if (policy::isIpAddress(q.sni)) return fail("--sni " + q.sni + ": an SNI is a host name, not an address");
  const auto name = normalizeHost(q.sni);
  if (!name || name->wildcard || !policy::checkFqdn(q.sni).empty()) {
    return fail("--sni " + q.sni + ": expected a fully qualified host name such as api.example.com");
  }
  const CompiledScope* scope = scopeOfWorkload(compiled, q.workload);
  if (!scope) return fail("workload " + q.workload + " is not enforced: its SNI plays no part");

  SniExplanation e;
  e.sni = name->text;
  for (const auto& host : q.destination_hosts) {
    if (policy::isHostSubset(e.sni, host)) e.covers_destination = true;
  }
  for (uint32_t service : scope->visible_services) {
    const std::string& id = compiled.services[service];
    const auto* se = policy::findServiceEntry(snapshot, id);
    if (!se || std::none_of(se->ports.begin(), se->ports.end(), [&](const auto& p) { return p.number == q.port; }))
      continue;
    for (const auto& host : se->hosts) {
      if (!policy::isHostSubset(e.sni, host)) continue;
      e.service_entry = id;
      e.registered_host = host;
      break;
    }
    if (e.service_entry) break;
  }
  e.egress_gateway = std::find(scope->gateway_workloads.begin(), scope->gateway_workloads.end(), q.workload) !=
                     scope->gateway_workloads.end();
  if (!e.egress_gateway && e.service_entry) {
    for (const auto& route : scope->gateway_routes) {
      if (route.port == q.port && route.kind != RouteKind::kHttp && policy::isHostSubset(e.sni, route.host)) {
        e.gateway_route = route;
        break;
      }
    }
  }
  if (e.gateway_route) {
    e.sidecar_verdict = EGRESSD_VERDICT_REDIRECTED;
  } else if (e.service_entry || e.egress_gateway || scope->mode == policy::OutboundMode::kAllowAny) {
    e.sidecar_verdict = EGRESSD_VERDICT_ALLOWED;
  } else {
    e.sidecar_verdict = EGRESSD_VERDICT_DENIED;
  }
  e.agrees = asEnforced(q.kernel_verdict) == e.sidecar_verdict;
  e.detail = describe(e, q, scope->mode);
  return e;
}

}  // namespace egressd::compiler
