#include "compiler/gateway_routing.h"

#include <netinet/in.h>

#include <algorithm>
#include <optional>
#include <set>
#include <tuple>

#include "compiler/scope_selection.h"
#include "compiler/visibility.h"
#include "policy/hosts.h"
#include "policy/protocols.h"

namespace egressd::compiler {
namespace {

using Labels = std::map<std::string, std::string>;
using policy::isHostSubset;

constexpr const char* kClusterSuffix = ".svc.cluster.local";

std::string nsName(const policy::ObjectMeta& meta) { return meta.namespace_ + "/" + meta.name; }


// The narrower of two overlapping hosts.
std::string narrower(const std::string& a, const std::string& b) { return isHostSubset(a, b) ? a : b; }

std::string stripDot(std::string host) {
  if (!host.empty() && host.back() == '.') host.pop_back();
  return host;
}

std::string fqdnOf(const policy::Service& service) {
  return service.meta.name + "." + service.meta.namespace_ + kClusterSuffix;
}

// Short names are relative to `ns`, as Istio resolves VirtualService and
// DestinationRule hosts.
std::string qualify(const std::string& host, const std::string& ns) {
  const std::string h = stripDot(host);
  if (h.find('.') == std::string::npos && h != "*") return h + "." + ns + kClusterSuffix;
  if (h.ends_with(".svc")) return h + ".cluster.local";
  return h;
}

const policy::Service* findService(const policy::PolicySnapshot& policy, const std::string& host,
                                   const std::string& vs_namespace) {
  const std::string h = stripDot(host);
  for (const auto& service : policy.services) {
    const std::string base = service.meta.name + "." + service.meta.namespace_;
    if ((h == service.meta.name && vs_namespace == service.meta.namespace_) || h == base || h == base + ".svc" ||
        h == base + kClusterSuffix) {
      return &service;
    }
  }
  return nullptr;
}

bool looksClusterLocal(const std::string& host) {
  const std::string h = stripDot(host);
  return h.find('.') == std::string::npos || h.ends_with(".svc") || h.ends_with(kClusterSuffix);
}

// Gateways whose pods the Service selects.
std::vector<const policy::Gateway*> gatewaysBehind(const policy::PolicySnapshot& policy,
                                                   const policy::Service& service) {
  std::vector<const policy::Gateway*> out;
  if (!service.selector || service.selector->empty()) return out;
  for (const auto& gateway : policy.gateways) {
    if (!gateway.selector.empty() && selectorMatches(gateway.selector, *service.selector)) out.push_back(&gateway);
  }
  return out;
}

const char* clientTlsName(policy::ClientTlsMode mode) {
  switch (mode) {
    case policy::ClientTlsMode::kDisable:
      return "DISABLE";
    case policy::ClientTlsMode::kSimple:
      return "SIMPLE";
    case policy::ClientTlsMode::kMutual:
      return "MUTUAL";
    case policy::ClientTlsMode::kIstioMutual:
      return "ISTIO_MUTUAL";
  }
  return "?";
}

// tls of a traffic policy for `port`: portLevelSettings first.
std::optional<policy::ClientTls> tlsFor(const policy::TrafficPolicy& tp, uint16_t port) {
  for (const auto& pls : tp.port_level_settings) {
    if (pls.port == port && pls.tls) return pls.tls;
  }
  return tp.tls;
}

// State of one evaluation: the workload and what it found.
class Evaluator {
 public:
  Evaluator(const policy::PolicySnapshot& policy, const std::string& ns, const Labels& labels)
      : policy_(policy), ns_(ns), labels_(labels) {}

  struct Decision {
    bool matched = false;  // a route decided (to the gateway or not)
    std::optional<GatewayTarget> target;
    const policy::Service* service = nullptr;  // the target's
    std::string subset;
    RouteKind kind = RouteKind::kTls;
    std::vector<std::string> unsupported;
  };

  Decision decide(const policy::VirtualService& vs, const std::string& host, uint16_t port,
                  policy::PortProtocol protocol);

  void issue(std::string object, std::string message) {
    RoutingIssue i{std::move(object), std::move(message)};
    if (std::find(issues_.begin(), issues_.end(), i) == issues_.end()) issues_.push_back(std::move(i));
  }
  std::vector<RoutingIssue>& issues() { return issues_; }

  // TLS the sidecar would add towards the gateway, if any.
  void checkGatewayTls(const policy::Service& service, const std::string& subset, uint16_t port,
                       std::vector<std::string>& unsupported);

 private:
  bool matchGatewaysOk(const std::vector<std::string>& gateways) const {
    return gateways.empty() || std::find(gateways.begin(), gateways.end(), "mesh") != gateways.end();
  }
  bool sourceOk(const Labels& source_labels, const std::string& source_namespace) const {
    return selectorMatches(source_labels, labels_) && (source_namespace.empty() || source_namespace == ns_);
  }
  bool l4MatchApplies(const policy::L4Match& m, uint16_t port) const {
    return matchGatewaysOk(m.gateways) && (!m.port || *m.port == port) && sourceOk(m.source_labels, m.source_namespace);
  }

  Decision decideL4(const policy::VirtualService& vs, const std::vector<policy::L4Route>& routes, bool tls,
                    const std::string& host, uint16_t port);
  Decision decideHttp(const policy::VirtualService& vs, const std::string& host, uint16_t port);
  // Where a route's destinations send the connection (nullopt: not the gateway).
  std::optional<GatewayTarget> destinationTarget(const policy::VirtualService& vs, const policy::RouteDestination& d,
                                                 uint16_t port, const policy::Service** service);
  Decision routeTo(const policy::VirtualService& vs, const std::vector<policy::RouteDestination>& route, uint16_t port,
                   RouteKind kind);

  const policy::PolicySnapshot& policy_;
  const std::string& ns_;
  const Labels& labels_;
  std::vector<RoutingIssue> issues_;
};

std::optional<GatewayTarget> Evaluator::destinationTarget(const policy::VirtualService& vs,
                                                          const policy::RouteDestination& d, uint16_t port,
                                                          const policy::Service** found) {
  const std::string object = "VirtualService " + nsName(vs.meta);
  const policy::Service* service = findService(policy_, d.host, vs.meta.namespace_);
  *found = service;
  if (!service) {
    if (looksClusterLocal(d.host)) {
      issue(object, "destination " + d.host +
                        " is not a known Service; if it is the egress gateway, its Service (with selector and "
                        "clusterIP) must be in the policy: not redirected");
    }
    return std::nullopt;
  }
  if (gatewaysBehind(policy_, *service).empty()) return std::nullopt;  // an ordinary in-mesh service
  const std::string svc_object = "Service " + nsName(service->meta);
  uint32_t target_port = 0;
  if (d.port) {
    target_port = *d.port;
  } else if (service->ports.size() == 1) {
    target_port = service->ports[0].port;
  } else {
    target_port = port;
  }
  const bool has_port = std::any_of(service->ports.begin(), service->ports.end(),
                                    [&](const auto& p) { return p.port == target_port && p.protocol == "TCP"; });
  if (!has_port) {
    issue(object, "destination " + d.host + " port " + std::to_string(target_port) + " is not a TCP port of " +
                      svc_object + ": not redirected");
    return std::nullopt;
  }
  const auto addresses = service->addresses();
  if (addresses.empty()) {
    issue(svc_object, "egress gateway Service has no cluster IP (headless or unset): flows routed to it by " + object +
                          " are not redirected");
    return std::nullopt;
  }
  return GatewayTarget{nsName(service->meta), addresses, static_cast<uint16_t>(target_port)};
}

Evaluator::Decision Evaluator::routeTo(const policy::VirtualService& vs,
                                       const std::vector<policy::RouteDestination>& route, uint16_t port,
                                       RouteKind kind) {
  Decision decision;
  decision.matched = true;
  decision.kind = kind;
  if (route.empty()) return decision;  // redirect / directResponse: answered by the proxy
  struct Resolved {
    std::optional<GatewayTarget> target;
    const policy::Service* service = nullptr;
  };
  std::vector<Resolved> resolved;
  for (const auto& d : route) {
    Resolved r;
    r.target = destinationTarget(vs, d, port, &r.service);
    resolved.push_back(std::move(r));
  }
  size_t chosen = 0;
  const bool all_same = std::all_of(resolved.begin(), resolved.end(), [&](const Resolved& r) {
    return r.target == resolved[0].target && (r.target || r.service == resolved[0].service);
  });
  if (!all_same) {
    // Weighted split: the kernel picks one destination per flow, always the same.
    std::string split;
    for (size_t i = 0; i < route.size(); ++i) {
      const int64_t weight = route[i].weight.value_or(0);
      if (weight > route[chosen].weight.value_or(0)) chosen = i;
      split += (split.empty() ? "" : ", ") + route[i].host +
               (route[i].port ? ":" + std::to_string(*route[i].port) : "") + " " + std::to_string(weight) + "%";
    }
    decision.unsupported.push_back("weighted split across destinations (" + split + "): every connection goes to " +
                                   route[chosen].host);
  }
  decision.target = resolved[chosen].target;
  decision.service = resolved[chosen].service;
  decision.subset = route[chosen].subset;
  return decision;
}

Evaluator::Decision Evaluator::decideL4(const policy::VirtualService& vs, const std::vector<policy::L4Route>& routes,
                                        bool tls, const std::string& host, uint16_t port) {
  for (const auto& route : routes) {
    bool applies = !tls && route.match.empty();
    bool subnets = false;
    for (const auto& m : route.match) {
      if (!l4MatchApplies(m, port)) continue;
      if (tls && std::none_of(m.sni_hosts.begin(), m.sni_hosts.end(),
                              [&](const std::string& sni) { return isHostSubset(host, sni); })) {
        continue;
      }
      applies = true;
      subnets = !m.destination_subnets.empty();
      break;
    }
    if (!applies) continue;
    Decision decision = routeTo(vs, route.route, port, tls ? RouteKind::kTls : RouteKind::kTcp);
    if (subnets) decision.unsupported.push_back("destinationSubnets ignored: the kernel routes per host");
    return decision;
  }
  return {};
}

Evaluator::Decision Evaluator::decideHttp(const policy::VirtualService& vs, const std::string& host, uint16_t port) {
  enum class Fit { kNo, kYes, kMaybe };
  auto authorityFit = [&](const std::optional<policy::StringMatch>& authority) {
    if (!authority) return Fit::kYes;
    std::string value = authority->value;
    if (authority->kind == policy::StringMatch::Kind::kExact) {
      if (const size_t colon = value.rfind(':'); colon != std::string::npos) value.resize(colon);
      return stripDot(value) == host ? Fit::kYes : Fit::kNo;
    }
    if (authority->kind == policy::StringMatch::Kind::kPrefix && !policy::isWildcardHost(host)) {
      return host.starts_with(value) ? Fit::kYes : Fit::kNo;
    }
    return Fit::kMaybe;  // regex, or a prefix against a wildcard host
  };
  // Routes that may take a request of this connection, in order; the last is
  // the one that surely does (if any).
  std::vector<const policy::HttpRoute*> possible;
  std::set<std::string> conditions;
  bool certain = false;
  for (const auto& route : vs.http) {
    bool maybe = false;
    bool sure = route.match.empty();
    for (const auto& m : route.match) {
      if (!matchGatewaysOk(m.gateways) || (m.port && *m.port != port) ||
          !sourceOk(m.source_labels, m.source_namespace)) {
        continue;
      }
      const Fit fit = authorityFit(m.authority);
      if (fit == Fit::kNo) continue;
      if (fit == Fit::kYes && m.request_conditions.empty()) {
        sure = true;
        break;
      }
      maybe = true;
      for (const auto& c : m.request_conditions) conditions.insert(c);
      if (fit == Fit::kMaybe) conditions.insert("authority");
    }
    if (sure || maybe) possible.push_back(&route);
    if (sure) {
      certain = true;
      break;
    }
  }
  if (possible.empty()) return {};
  std::vector<Decision> outcomes;
  for (const auto* route : possible) outcomes.push_back(routeTo(vs, route->route, port, RouteKind::kHttp));
  if (!certain)
    outcomes.push_back(Decision{.matched = true,
                                .target = std::nullopt,
                                .service = nullptr,
                                .subset = "",
                                .kind = RouteKind::kHttp,
                                .unsupported = {}});
  if (outcomes.size() == 1) return outcomes[0];
  std::string names;
  for (const auto& c : conditions) names += (names.empty() ? "" : ", ") + c;
  const bool same = std::all_of(outcomes.begin(), outcomes.end(),
                                [&](const Decision& d) { return d.target && d.target == outcomes[0].target; });
  Decision decision = outcomes[0];
  if (same) {
    decision.unsupported.push_back("HTTP routes match on " + names +
                                   " (the kernel cannot see them); every route that may match goes to the gateway");
  } else {
    decision.target.reset();
    issue("VirtualService " + nsName(vs.meta),
          "HTTP routes for " + host + ":" + std::to_string(port) + " match on " + names +
              " (the kernel cannot see them) and do not all go to the same gateway: not redirected");
  }
  return decision;
}

Evaluator::Decision Evaluator::decide(const policy::VirtualService& vs, const std::string& host, uint16_t port,
                                      policy::PortProtocol protocol) {
  using policy::PortProtocol;
  if (policy::isHttpFamily(protocol)) return decideHttp(vs, host, port);
  if (policy::isTlsFamily(protocol)) {
    Decision d = decideL4(vs, vs.tls, true, host, port);
    return d.matched ? d : decideL4(vs, vs.tcp, false, host, port);
  }
  if (protocol == PortProtocol::kUnspecified) {
    Decision d = decideL4(vs, vs.tls, true, host, port);
    if (!d.matched) d = decideHttp(vs, host, port);
    if (!d.matched) d = decideL4(vs, vs.tcp, false, host, port);
    if (d.matched && (!vs.http.empty() + !vs.tls.empty() + !vs.tcp.empty()) > 1) {
      d.unsupported.push_back(
          "port protocol unset (sniffed by Istio): egressd follows the first of tls, http, tcp "
          "routes that matches");
    }
    return d;
  }
  return decideL4(vs, vs.tcp, false, host, port);
}

void Evaluator::checkGatewayTls(const policy::Service& service, const std::string& subset, uint16_t port,
                                std::vector<std::string>& unsupported) {
  const std::string fqdn = fqdnOf(service);
  // Istio looks in the client's namespace, then the service's, then the root namespace.
  const std::string tiers[] = {ns_, service.meta.namespace_, policy_.mesh.root_namespace};
  for (const std::string& tier : tiers) {
    const policy::DestinationRule* best = nullptr;
    for (const auto& rule : policy_.destination_rules) {
      if (rule.meta.namespace_ != tier) continue;
      // A DestinationRule with a workloadSelector applies only to the
      // workloads it selects, in its own namespace.
      if (rule.workload_selector &&
          (rule.meta.namespace_ != ns_ || !selectorMatches(*rule.workload_selector, labels_))) {
        continue;
      }
      if (!exportedTo(rule.export_to, policy_.mesh.default_destination_rule_export_to, rule.meta.namespace_, ns_))
        continue;
      const std::string host = qualify(rule.host, rule.meta.namespace_);
      if (!isHostSubset(fqdn, host)) continue;
      if (!best || (host == fqdn && qualify(best->host, best->meta.namespace_) != fqdn)) best = &rule;
    }
    if (!best) continue;
    std::optional<policy::ClientTls> tls;
    if (best->traffic_policy) tls = tlsFor(*best->traffic_policy, port);
    for (const auto& s : best->subsets) {
      if (s.name == subset && s.traffic_policy) {
        if (auto sub = tlsFor(*s.traffic_policy, port)) tls = sub;
      }
    }
    if (tls && tls->mode != policy::ClientTlsMode::kDisable) {
      const std::string what =
          tls->mode == policy::ClientTlsMode::kIstioMutual
              ? std::string("ISTIO_MUTUAL between pod and gateway")
              : std::string("TLS origination (") + clientTlsName(tls->mode) + ") between pod and gateway";
      unsupported.push_back(what + " (DestinationRule " + nsName(best->meta) +
                            "): the app's own bytes are sent and the gateway will refuse them");
    }
    break;
  }
  bool served = false;
  for (const auto* gateway : gatewaysBehind(policy_, service)) {
    for (const auto& server : gateway->servers) {
      if (server.port_number != port) continue;
      served = true;
      if (server.tls && server.tls->mode == policy::ServerTlsMode::kIstioMutual) {
        unsupported.push_back("Gateway " + nsName(gateway->meta) + " expects ISTIO_MUTUAL on port " +
                              std::to_string(port) + " (only a sidecar has the identity): the gateway will refuse");
      }
    }
  }
  if (!served) {
    issue("Service " + nsName(service.meta), "no Gateway selecting its pods has a server on port " +
                                                 std::to_string(port) + ": redirected connections will be refused");
  }
}

struct Listener {  // what Istio's sidecar would listen for: one SE host and port
  std::string host;
  uint16_t port;
  policy::PortProtocol protocol;
};

std::vector<Listener> listenersFor(const policy::PolicySnapshot& policy, const std::string& ns,
                                   const policy::Sidecar* sidecar) {
  std::vector<Listener> out;
  std::vector<const policy::ServiceEntry*> entries;
  for (const auto& entry : policy.service_entries) entries.push_back(&entry);
  std::vector<std::string> warnings;  // the compiler reports collisions once, per scope
  const auto imports = scopeImports(entries, sidecar, ns, policy.mesh, warnings);
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!imports[i]) continue;
    for (const auto& port : entries[i]->ports) {
      if (port.protocol == policy::PortProtocol::kUdp || port.number > 65535) continue;
      for (const auto& host : entries[i]->hosts) {
        if (imports[i]->allowsHost(host, port.number)) {
          out.push_back({host, static_cast<uint16_t>(port.number), port.protocol});
        }
      }
    }
  }
  return out;
}

}  // namespace

bool isGatewayWorkload(const policy::PolicySnapshot& policy, const std::map<std::string, std::string>& labels,
                       const std::string& workload_namespace) {
  (void)workload_namespace;  // Istio's default: a Gateway selects pods in every namespace
  return std::any_of(policy.gateways.begin(), policy.gateways.end(), [&](const policy::Gateway& gateway) {
    return !gateway.selector.empty() && selectorMatches(gateway.selector, labels);
  });
}

GatewayRouting evaluateGatewayRouting(const policy::PolicySnapshot& policy, const std::string& workload_namespace,
                                      const std::map<std::string, std::string>& workload_labels,
                                      const policy::Sidecar* selected_sidecar) {
  GatewayRouting out;
  if (isGatewayWorkload(policy, workload_labels, workload_namespace)) return out;
  // Routes and issues come only from VirtualServices bound to the mesh: with
  // none, skip listing the listeners (a scan of every ServiceEntry, per
  // workload, that dominated a recompile at 10,000 entries).
  if (std::none_of(policy.virtual_services.begin(), policy.virtual_services.end(),
                   [](const policy::VirtualService& vs) { return vs.boundToMesh(); })) {
    return out;
  }
  Evaluator eval(policy, workload_namespace, workload_labels);
  std::map<std::tuple<std::string, uint16_t>, std::string> decided;  // (host, port) -> VirtualService
  for (const Listener& listener : listenersFor(policy, workload_namespace, selected_sidecar)) {
    for (const auto& vs : policy.virtual_services) {
      if (!vs.boundToMesh()) continue;
      if (!exportedTo(vs.export_to, policy.mesh.default_virtual_service_export_to, vs.meta.namespace_,
                      workload_namespace)) {
        continue;
      }
      const auto import = sidecarImport(selected_sidecar, workload_namespace, vs.meta.namespace_, vs.hosts);
      if (!import || !import->allows(listener.port)) continue;
      for (const auto& vs_host : vs.hosts) {
        if (!hostsOverlap(vs_host, listener.host)) continue;
        const std::string base = narrower(vs_host, listener.host);
        // Narrower names a route may single out: sniHosts and exact authorities.
        std::vector<std::string> candidates = {base};
        for (const auto& route : vs.tls) {
          for (const auto& m : route.match) {
            for (const auto& sni : m.sni_hosts) {
              if (hostsOverlap(sni, base)) candidates.push_back(narrower(sni, base));
            }
          }
        }
        for (const auto& route : vs.http) {
          for (const auto& m : route.match) {
            if (m.authority && m.authority->kind == policy::StringMatch::Kind::kExact) {
              std::string value = stripDot(m.authority->value.substr(0, m.authority->value.rfind(':')));
              if (isHostSubset(value, base)) candidates.push_back(value);
            }
          }
        }
        for (const auto& host : candidates) {
          const auto key = std::make_tuple(host, listener.port);
          if (auto it = decided.find(key); it != decided.end()) {
            if (it->second != nsName(vs.meta)) {
              eval.issue("VirtualService " + nsName(vs.meta),
                         host + ":" + std::to_string(listener.port) + " is also routed by VirtualService " +
                             it->second + "; Istio uses the oldest, egressd the first by namespace/name");
            }
            continue;
          }
          auto decision = eval.decide(vs, host, listener.port, listener.protocol);
          if (!decision.matched) continue;
          decided.emplace(key, nsName(vs.meta));
          if (!decision.target) {
            for (const auto& reason : decision.unsupported) {
              eval.issue("VirtualService " + nsName(vs.meta),
                         host + ":" + std::to_string(listener.port) + ": " + reason + "; not redirected");
            }
            continue;
          }
          if (decision.service) {
            eval.checkGatewayTls(*decision.service, decision.subset, decision.target->port, decision.unsupported);
          }
          GatewayRoute route{
              host, listener.port, IPPROTO_TCP, decision.kind, *decision.target, nsName(vs.meta), decision.unsupported};
          for (const auto& reason : route.unsupported) {
            eval.issue("VirtualService " + route.virtual_service,
                       host + ":" + std::to_string(route.port) + ": " + reason);
          }
          out.routes.push_back(std::move(route));
        }
      }
    }
  }
  std::sort(out.routes.begin(), out.routes.end(), [](const GatewayRoute& a, const GatewayRoute& b) {
    return std::tie(a.host, a.port) < std::tie(b.host, b.port);
  });
  out.issues = std::move(eval.issues());
  return out;
}

std::vector<GatewayRoute> gatewayRoutesForWorkload(const policy::PolicySnapshot& policy,
                                                   const std::string& workload_namespace,
                                                   const std::map<std::string, std::string>& workload_labels,
                                                   const policy::Sidecar* selected_sidecar) {
  return evaluateGatewayRouting(policy, workload_namespace, workload_labels, selected_sidecar).routes;
}

std::vector<RoutingIssue> routingIssues(const policy::PolicySnapshot& policy) {
  std::vector<RoutingIssue> out;
  for (const auto& workload : policy.workloads) {
    std::vector<std::string> ignored;  // Sidecar choice warnings are the compiler's to report
    const policy::Sidecar* sidecar = selectSidecar(policy, workload, ignored);
    for (auto& issue : evaluateGatewayRouting(policy, workload.meta.namespace_, workload.meta.labels, sidecar).issues) {
      if (std::find(out.begin(), out.end(), issue) == out.end()) out.push_back(std::move(issue));
    }
  }
  return out;
}

std::string describe(const RoutingIssue& issue) { return issue.object + ": " + issue.message; }

}  // namespace egressd::compiler
