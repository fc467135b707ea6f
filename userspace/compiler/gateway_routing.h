#pragma once
// Egress gateway routing: which (host, port) flows of a workload Istio's
// sidecar would send to the egress gateway, and where that gateway is.
// Pure: the kernel redirect is compiled from these routes elsewhere.
//
// A flow (workload, host, port) is gateway-bound exactly when:
//  * a ServiceEntry visible to the workload (exportTo, Sidecar import)
//    declares the host and port: without it Istio's sidecar has no listener
//    and no route (so a VirtualService alone never redirects); UDP ports are
//    never routed (Istio does not proxy UDP);
//  * a VirtualService bound to "mesh" (explicitly, or by default when
//    `gateways` is empty), exported to the workload's namespace (exportTo,
//    else the mesh's defaultVirtualServiceExportTo, else "*") and imported by
//    its Sidecar (egress hosts "ns/host", port-scoped listeners only for their
//    port) has a host overlapping the ServiceEntry host;
//  * the FIRST route of that VirtualService matching the flow targets the
//    egress gateway Service. Route kinds follow the port's protocol: HTTP
//    family -> http routes; HTTPS/TLS -> tls routes, then tcp; TCP/MONGO ->
//    tcp; unset (sniffed) -> tls, then http, then tcp. A match applies when
//    its gateways include "mesh" (or it has none and the VirtualService is
//    bound to mesh), its port is unset or equal, its sourceLabels and
//    sourceNamespace fit the workload, and (tls) one sniHost covers the host
//    or (http) its authority covers it.
//  * "the egress gateway Service" is a core Service whose selector contains
//    some Gateway's selector (its pods are gateway pods). Destination hosts
//    resolve as name (relative to the VirtualService's namespace), name.ns,
//    name.ns.svc, name.ns.svc.cluster.local (cluster domain cluster.local).
//    The gateway port is the destination's port.number, else the Service's
//    only port, else the flow's port if the Service has it.
//
// Route hosts are as the workload addresses them: the narrower of the
// VirtualService host, the ServiceEntry host and (tls) the sniHost / (http)
// the exact authority, so "*.wikipedia.org" routes every subdomain through
// one gateway. When several VirtualServices route the same (host, port) the
// first by namespace/name wins (Istio picks the oldest) and it is reported.
//
// What the kernel cannot follow faithfully, and the documented safe choice
// (each recorded in GatewayRoute::unsupported and in routingIssues()):
//  * TLS between pod and gateway (DestinationRule for the gateway host with
//    tls mode ISTIO_MUTUAL / SIMPLE / MUTUAL for that port or subset, or a
//    Gateway server expecting ISTIO_MUTUAL on that port): still redirected.
//    The app's own bytes reach a gateway expecting mTLS and are refused:
//    fail closed, never around the gateway.
//  * Weighted split across different destinations: all connections take the
//    highest-weight destination (first on a tie); redirected only if that one
//    is the gateway. Splits among subsets of the same gateway Service and
//    port are the same address to the kernel and are not reported.
//  * HTTP matches on uri, headers, method, query... (and regex/prefix
//    authorities on wildcard hosts): the kernel routes a connection, not a
//    request. Redirected (to the first such route's target) only if every
//    route that may match, and the fall-through, go to the same gateway
//    target; otherwise not redirected, and reported.
//  * destinationSubnets on tls/tcp matches: ignored (routes are per host);
//    reported.
//  * Gateway workloads (selected by any Gateway's non-empty selector, in any
//    namespace as Istio's default PILOT_SCOPE_GATEWAY_TO_NAMESPACE=false) get
//    no routes: their own upstream connections must not loop back. An empty
//    selector exempts no one (egressd cannot tell gateway pods apart).
// Istio's auto-mTLS towards the gateway is not modelled: the tasks this
// follows use PASSTHROUGH servers, which never carry mTLS from the sidecar.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "policy/model.h"

namespace egressd::compiler {

struct GatewayTarget {
  std::string service;                 // "ns/name" of the gateway Service
  std::vector<std::string> addresses;  // its cluster IPs
  uint16_t port = 0;                   // Service port the route targets

  bool operator==(const GatewayTarget&) const = default;
};

enum class RouteKind { kTls, kTcp, kHttp };

struct GatewayRoute {
  std::string host;  // as the workload addresses it: exact or wildcard
  uint16_t port = 0;
  uint8_t l4_protocol = 0;  // IPPROTO_TCP
  RouteKind kind = RouteKind::kTls;
  GatewayTarget target;
  std::string virtual_service;  // "ns/name"
  // Why the kernel cannot follow Istio faithfully here (empty: it can).
  std::vector<std::string> unsupported;
};

// A problem for apply-time logs, egressctl and egressd_gateway_routing_issues.
struct RoutingIssue {
  std::string object;  // "VirtualService ns/name", "Service ns/name", ...
  std::string message;

  bool operator==(const RoutingIssue&) const = default;
};

struct GatewayRouting {
  std::vector<GatewayRoute> routes;  // ordered by host, port
  std::vector<RoutingIssue> issues;  // including each route's unsupported reasons
};

// Everything about one workload; `selected_sidecar` as selectSidecar() picks it.
GatewayRouting evaluateGatewayRouting(const policy::PolicySnapshot& policy, const std::string& workload_namespace,
                                      const std::map<std::string, std::string>& workload_labels,
                                      const policy::Sidecar* selected_sidecar);

std::vector<GatewayRoute> gatewayRoutesForWorkload(const policy::PolicySnapshot& policy,
                                                   const std::string& workload_namespace,
                                                   const std::map<std::string, std::string>& workload_labels,
                                                   const policy::Sidecar* selected_sidecar);

// Selected by any Gateway's (non-empty) selector: exempt and never redirected.
bool isGatewayWorkload(const policy::PolicySnapshot& policy, const std::map<std::string, std::string>& labels,
                       const std::string& workload_namespace);

// The issues of every Workload of the snapshot, without repeats.
std::vector<RoutingIssue> routingIssues(const policy::PolicySnapshot& policy);

std::string describe(const RoutingIssue& issue);  // "VirtualService ns/x: message"

}  // namespace egressd::compiler
