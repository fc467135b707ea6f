// VirtualService rules, following Istio's ValidateVirtualService.
#include <map>

#include "policy/findings.h"
#include "policy/hosts.h"
#include "policy/validation.h"

namespace egressd::policy {
namespace {

using findings::at;
using findings::error;
using findings::quoted;
using findings::warn;

bool validPort(uint32_t port) { return port >= 1 && port <= 65535; }

// "mesh", "ns/name", or a bare name (legacy "name.ns" gets a warning).
void validateGatewayNames(const std::vector<std::string>& names, const std::string& field, Findings& out) {
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    const std::string item = at(field, i);
    if (name == "mesh") continue;
    const size_t slash = name.find('/');
    if (slash == std::string::npos) {
      if (auto err = checkFqdn(name); !err.empty()) {
        error(out, item, err);
      } else if (const size_t dot = name.find('.'); dot != std::string::npos) {
        warn(out, item,
             "uses the legacy gateway name format " + quoted(name) + "; prefer namespace/name (" +
                 quoted(name.substr(dot + 1, name.find('.', dot + 1) - dot - 1) + "/" + name.substr(0, dot)) + ")");
      }
      continue;
    }
    const std::string ns = name.substr(0, slash);
    const std::string gw = name.substr(slash + 1);
    if (ns.empty() || gw.empty()) {
      error(out, item, quoted(name) + ": namespace and gateway name cannot be empty");
    } else if (!isNamespaceName(ns)) {
      error(out, item, quoted(name) + ": " + quoted(ns) + " is not a valid namespace name");
    } else if (!isDns1123Label(gw, true)) {
      error(out, item, quoted(name) + ": " + quoted(gw) + " is not a valid gateway name");
    }
  }
}

void validateLabels(const std::map<std::string, std::string>& labels, const std::string& field, Findings& out) {
  for (const auto& [key, value] : labels) {
    if (key.empty()) error(out, field, "has an empty key");
  }
}

void validateDestinations(const std::vector<RouteDestination>& route, const std::string& field, Findings& out) {
  int64_t total = 0;
  for (size_t i = 0; i < route.size(); ++i) {
    const RouteDestination& d = route[i];
    const std::string item = at(field, i);
    if (d.host.empty()) {
      error(out, item + ".destination.host", "is required");
    } else if (d.host == "*") {
      error(out, item + ".destination.host", "\"*\" is not a valid destination host");
    } else if (auto err = checkWildcardHost(d.host); !err.empty()) {
      error(out, item + ".destination.host", err);
    }
    if (!d.subset.empty() && !isDns1123Label(d.subset, true)) {
      error(out, item + ".destination.subset", quoted(d.subset) + " is not a valid subset name (DNS-1123 label)");
    }
    if (d.port && !validPort(*d.port)) {
      error(out, item + ".destination.port.number", "must be between 1 and 65535, got " + std::to_string(*d.port));
    }
    total += d.weight.value_or(0);
  }
  if (route.size() > 1 && total == 0) {
    error(out, field, "has " + std::to_string(route.size()) + " destinations and a total weight of 0");
  } else if (route.size() > 1 && total != 100) {
    // Istio once required 100; it now normalizes. Say so: it is usually a typo.
    warn(out, field, "weights sum to " + std::to_string(total) + ", not 100: Istio scales them proportionally");
  }
}

void validateMatchCommon(const std::vector<std::string>& gateways, std::optional<uint32_t> port,
                         const std::map<std::string, std::string>& source_labels, const std::string& source_namespace,
                         const std::string& field, Findings& out) {
  validateGatewayNames(gateways, field + ".gateways", out);
  if (port && !validPort(*port))
    error(out, field + ".port", "must be between 1 and 65535, got " + std::to_string(*port));
  validateLabels(source_labels, field + ".sourceLabels", out);
  if (!source_namespace.empty() && !isNamespaceName(source_namespace)) {
    error(out, field + ".sourceNamespace", quoted(source_namespace) + " is not a valid namespace name");
  }
}

void validateL4Match(const L4Match& match, bool tls, const VirtualService& service, const std::string& field,
                     Findings& out) {
  validateMatchCommon(match.gateways, match.port, match.source_labels, match.source_namespace, field, out);
  for (size_t s = 0; s < match.destination_subnets.size(); ++s) {
    if (!isIpOrCidr(match.destination_subnets[s])) {
      error(out, at(field + ".destinationSubnets", s),
            quoted(match.destination_subnets[s]) + " is not a valid IP or CIDR");
    }
  }
  if (!tls) return;
  if (match.sni_hosts.empty()) error(out, field + ".sniHosts", "must list at least one SNI host");
  for (size_t s = 0; s < match.sni_hosts.size(); ++s) {
    const std::string& sni = match.sni_hosts[s];
    const std::string item = at(field + ".sniHosts", s);
    if (isIpAddress(sni)) {
      warn(out, item, quoted(sni) + " is an IP address: SNI cannot carry one and most clients never send it");
      continue;
    }
    const bool generated = !service.boundToMeshGateway() && isGeneratedSniHost(sni);
    if (auto err = checkWildcardHost(sni); !err.empty() && !generated) {
      error(out, item, err);
      continue;
    }
    bool covered = false;
    for (const std::string& host : service.hosts) covered = covered || isHostSubset(sni, host);
    if (!covered) error(out, item, quoted(sni) + " is not a subset of any of the VirtualService hosts");
  }
}

void validateL4Routes(const std::vector<L4Route>& routes, bool tls, const VirtualService& service, Findings& out) {
  const std::string kind = tls ? "tls" : "tcp";
  for (size_t i = 0; i < routes.size(); ++i) {
    const std::string field = at(kind, i);
    if (tls && routes[i].match.empty()) error(out, field + ".match", "must list at least one match (with sniHosts)");
    for (size_t m = 0; m < routes[i].match.size(); ++m) {
      validateL4Match(routes[i].match[m], tls, service, at(field + ".match", m), out);
    }
    if (routes[i].route.empty()) error(out, field + ".route", "must list at least one destination");
    validateDestinations(routes[i].route, field + ".route", out);
  }
}

void validateHttpRoutes(const VirtualService& service, Findings& out) {
  for (size_t i = 0; i < service.http.size(); ++i) {
    const HttpRoute& route = service.http[i];
    const std::string field = at("http", i);
    for (size_t m = 0; m < route.match.size(); ++m) {
      const HttpMatch& match = route.match[m];
      const std::string match_field = at(field + ".match", m);
      validateMatchCommon(match.gateways, match.port, match.source_labels, match.source_namespace, match_field, out);
      if (match.authority && match.authority->kind != StringMatch::Kind::kRegex && match.authority->value.empty()) {
        error(out, match_field + ".authority", "must not be empty");
      }
    }
    if (route.sets_authority_header && route.rewrites_authority) {
      error(out, field, "cannot set :authority in both headers.request.set and rewrite.authority");
    }
    if (service.boundToMesh()) {
      for (size_t m = 0; m < route.match.size(); ++m) {
        if (route.match[m].jwt_claim) {
          error(out, at(field + ".match", m) + ".headers",
                "JWT claim based routing (@request.auth.claims) is only supported on gateways, not the mesh");
        }
      }
    }
    if (route.redirect && !route.route.empty()) error(out, field, "cannot have both route and redirect");
    if (!route.redirect && !route.direct_response && route.route.empty()) {
      error(out, field + ".route", "is required (or redirect / directResponse)");
    }
    validateDestinations(route.route, field + ".route", out);
  }
}

void validateHosts(const VirtualService& service, Findings& out) {
  if (service.hosts.empty()) {
    // A delegate: only reachable through another VirtualService's delegate.
    if (!service.gateways.empty()) error(out, "gateways", "must be empty in a delegate VirtualService (no hosts)");
    if (!service.tls.empty()) error(out, "tls", "must be empty in a delegate VirtualService (no hosts)");
    if (!service.tcp.empty()) error(out, "tcp", "must be empty in a delegate VirtualService (no hosts)");
    warn(out, "hosts",
         "is empty: a delegate VirtualService; egressd does not follow delegation, so its routes are not enforced");
  }
  bool all_valid = true;
  const bool gateways_only = !service.boundToMesh();
  bool sni = false;
  for (const auto& route : service.tls) {
    for (const auto& match : route.match) sni = sni || !match.sni_hosts.empty();
  }
  for (size_t i = 0; i < service.hosts.size(); ++i) {
    const std::string& host = service.hosts[i];
    if (host == "*") {
      if (service.boundToMesh()) {
        error(out, at("hosts", i), "\"*\" is not allowed for VirtualServices bound to the mesh gateway");
        all_valid = false;
      }
    } else if (auto err = checkWildcardHost(host); !err.empty() && !isIpAddress(host) &&
                                                   !(gateways_only && sni && isGeneratedSniHost(host))) {
      error(out, at("hosts", i), err);
      all_valid = false;
    }
  }
  if (!all_valid) return;
  for (size_t i = 0; i < service.hosts.size(); ++i) {
    for (size_t j = i + 1; j < service.hosts.size(); ++j) {
      const std::string& a = service.hosts[i];
      const std::string& b = service.hosts[j];
      if (isHostSubset(a, b) || isHostSubset(b, a)) {
        error(out, at("hosts", j), quoted(b) + " duplicates " + quoted(a) + " (" + at("hosts", i) + ")");
      }
    }
  }
}

}  // namespace

Findings validateVirtualService(const VirtualService& service) {
  Findings out = validateMeta(service.meta);
  validateHosts(service, out);
  validateGatewayNames(service.gateways, "gateways", out);
  if (service.http.empty() && service.tls.empty() && service.tcp.empty()) {
    error(out, "", "spec must have http, tls or tcp routes");
  }
  validateHttpRoutes(service, out);
  validateL4Routes(service.tls, true, service, out);
  validateL4Routes(service.tcp, false, service, out);
  validateExportTo(service.meta.namespace_, service.export_to, "exportTo", out);
  return out;
}

}  // namespace egressd::policy
