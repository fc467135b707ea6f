// VirtualService (networking.istio.io): the parts that decide where a
// sidecar sends a connection. HTTP request-level matches are recorded by
// name only: the kernel routes per connection and cannot see them.
#include <limits>

#include "policy/object_parsers.h"

namespace egressd::policy {
namespace {

using R = DocumentReader;
constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();

std::string at(const std::string& field, size_t i) { return field + "[" + std::to_string(i) + "]"; }

std::optional<uint32_t> readPortNumber(R& reader, const YAML::Node& node, const std::string& field) {
  return reader.number(node, field, kMaxU32);
}

std::optional<StringMatch> readStringMatch(R& reader, const YAML::Node& node, const std::string& field) {
  if (!reader.expectMap(node, field)) return std::nullopt;
  reader.warnUnknownKeys(node, field, {"exact", "prefix", "regex"});
  const std::pair<const char*, StringMatch::Kind> kinds[] = {{"exact", StringMatch::Kind::kExact},
                                                             {"prefix", StringMatch::Kind::kPrefix},
                                                             {"regex", StringMatch::Kind::kRegex}};
  std::optional<StringMatch> out;
  for (const auto& [key, kind] : kinds) {
    if (auto value = reader.string(R::child(node, key), field + "." + key)) {
      if (out) {
        reader.fail(field, "must set only one of exact, prefix or regex", node);
        return out;
      }
      out = StringMatch{kind, *value};
    }
  }
  return out;
}

std::vector<RouteDestination> readDestinations(R& reader, const YAML::Node& node, const std::string& field) {
  std::vector<RouteDestination> out;
  if (!reader.expectList(node, field)) return out;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string item_field = at(field, i);
    const YAML::Node item = node[i];
    if (!reader.expectMap(item, item_field)) {
      if (!R::present(item)) reader.fail(item_field, "must not be empty", item);
      continue;
    }
    reader.warnUnknownKeys(item, item_field, {"destination", "weight", "headers"});
    RouteDestination destination;
    const YAML::Node dest = R::child(item, "destination");
    if (reader.expectMap(dest, item_field + ".destination")) {
      reader.warnUnknownKeys(dest, item_field + ".destination", {"host", "subset", "port"});
      destination.host = reader.string(R::child(dest, "host"), item_field + ".destination.host").value_or("");
      destination.subset = reader.string(R::child(dest, "subset"), item_field + ".destination.subset").value_or("");
      const YAML::Node port = R::child(dest, "port");
      if (reader.expectMap(port, item_field + ".destination.port")) {
        reader.warnUnknownKeys(port, item_field + ".destination.port", {"number"});
        destination.port = readPortNumber(reader, R::child(port, "number"), item_field + ".destination.port.number");
      }
    } else if (!R::present(dest)) {
      reader.fail(item_field + ".destination", "is required", item);
    }
    if (auto weight = reader.number(R::child(item, "weight"), item_field + ".weight", kMaxU32)) {
      destination.weight = *weight;
    }
    out.push_back(std::move(destination));
  }
  return out;
}

L4Match readL4Match(R& reader, const YAML::Node& item, const std::string& field, bool tls) {
  L4Match match;
  if (tls) {
    reader.warnUnknownKeys(item, field,
                           {"sniHosts", "destinationSubnets", "port", "sourceLabels", "gateways", "sourceNamespace"});
  } else {
    reader.warnUnknownKeys(
        item, field, {"destinationSubnets", "port", "sourceLabels", "gateways", "sourceNamespace", "sourceSubnet"});
  }
  match.gateways = reader.stringList(R::child(item, "gateways"), field + ".gateways");
  match.port = readPortNumber(reader, R::child(item, "port"), field + ".port");
  if (tls) match.sni_hosts = reader.stringList(R::child(item, "sniHosts"), field + ".sniHosts");
  match.destination_subnets = reader.stringList(R::child(item, "destinationSubnets"), field + ".destinationSubnets");
  match.source_labels = reader.stringMap(R::child(item, "sourceLabels"), field + ".sourceLabels");
  match.source_namespace = reader.string(R::child(item, "sourceNamespace"), field + ".sourceNamespace").value_or("");
  return match;
}

std::vector<L4Route> readL4Routes(R& reader, const YAML::Node& node, const std::string& field, bool tls) {
  std::vector<L4Route> routes;
  if (!reader.expectList(node, field)) return routes;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string route_field = at(field, i);
    if (!reader.expectMap(node[i], route_field)) {
      if (!R::present(node[i])) reader.fail(route_field, "must not be empty", node[i]);
      continue;
    }
    reader.warnUnknownKeys(node[i], route_field, {"match", "route"});
    L4Route route;
    const YAML::Node matches = R::child(node[i], "match");
    if (reader.expectList(matches, route_field + ".match")) {
      for (size_t m = 0; m < matches.size(); ++m) {
        const std::string match_field = at(route_field + ".match", m);
        if (!reader.expectMap(matches[m], match_field)) {
          if (!R::present(matches[m])) reader.fail(match_field, "must not be empty", matches[m]);
          continue;
        }
        route.match.push_back(readL4Match(reader, matches[m], match_field, tls));
      }
    }
    route.route = readDestinations(reader, R::child(node[i], "route"), route_field + ".route");
    routes.push_back(std::move(route));
  }
  return routes;
}

HttpMatch readHttpMatch(R& reader, const YAML::Node& item, const std::string& field) {
  HttpMatch match;
  constexpr std::string_view kRequestLevel[] = {"uri",         "headers",        "method",        "scheme",
                                                "queryParams", "withoutHeaders", "ignoreUriCase", "statPrefix"};
  reader.warnUnknownKeys(item, field,
                         {"name", "uri", "scheme", "method", "authority", "headers", "port", "sourceLabels", "gateways",
                          "queryParams", "ignoreUriCase", "withoutHeaders", "sourceNamespace", "statPrefix"});
  match.name = reader.string(R::child(item, "name"), field + ".name").value_or("");
  match.gateways = reader.stringList(R::child(item, "gateways"), field + ".gateways");
  match.port = readPortNumber(reader, R::child(item, "port"), field + ".port");
  match.authority = readStringMatch(reader, R::child(item, "authority"), field + ".authority");
  match.source_labels = reader.stringMap(R::child(item, "sourceLabels"), field + ".sourceLabels");
  match.source_namespace = reader.string(R::child(item, "sourceNamespace"), field + ".sourceNamespace").value_or("");
  for (const char* key : {"headers", "withoutHeaders"}) {
    const YAML::Node headers = R::child(item, key);
    if (!headers.IsDefined() || !headers.IsMap()) continue;
    for (const auto& header : headers) {
      if (header.first.IsScalar() && header.first.Scalar().rfind("@request.auth.claims", 0) == 0) {
        match.jwt_claim = true;
      }
    }
  }
  for (std::string_view key : kRequestLevel) {
    // statPrefix names the stats only; it does not change routing.
    if (key != "statPrefix" && R::present(R::child(item, std::string(key)))) {
      match.request_conditions.emplace_back(key);
      reader.remember(field + "." + std::string(key), R::child(item, std::string(key)));
    }
  }
  return match;
}

std::vector<HttpRoute> readHttpRoutes(R& reader, const YAML::Node& node) {
  std::vector<HttpRoute> routes;
  if (!reader.expectList(node, "http")) return routes;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string field = at("http", i);
    const YAML::Node item = node[i];
    if (!reader.expectMap(item, field)) {
      if (!R::present(item)) reader.fail(field, "must not be empty", item);
      continue;
    }
    reader.warnUnknownKeys(
        item, field,
        {"name", "match", "route", "redirect", "directResponse", "delegate", "rewrite", "timeout", "retries", "fault",
         "mirror", "mirrors", "mirrorPercent", "mirrorPercentage", "corsPolicy", "headers"});
    HttpRoute route;
    route.name = reader.string(R::child(item, "name"), field + ".name").value_or("");
    const YAML::Node matches = R::child(item, "match");
    if (reader.expectList(matches, field + ".match")) {
      for (size_t m = 0; m < matches.size(); ++m) {
        const std::string match_field = at(field + ".match", m);
        if (!reader.expectMap(matches[m], match_field)) {
          if (!R::present(matches[m])) reader.fail(match_field, "must not be empty", matches[m]);
          continue;
        }
        route.match.push_back(readHttpMatch(reader, matches[m], match_field));
      }
    }
    route.route = readDestinations(reader, R::child(item, "route"), field + ".route");
    const YAML::Node authority = R::child(R::child(R::child(R::child(item, "headers"), "request"), "set"), ":authority");
    route.sets_authority_header = R::present(authority);
    route.rewrites_authority =
        !reader.string(R::child(R::child(item, "rewrite"), "authority"), field + ".rewrite.authority").value_or("").empty();
    route.redirect = R::present(R::child(item, "redirect"));
    route.direct_response = R::present(R::child(item, "directResponse"));
    if (R::present(R::child(item, "delegate"))) {
      reader.fail(field + ".delegate", "delegate VirtualServices are not supported by egressd",
                  R::child(item, "delegate"));
    }
    routes.push_back(std::move(route));
  }
  return routes;
}

}  // namespace

VirtualService readVirtualService(DocumentReader& reader, const YAML::Node& document) {
  VirtualService service;
  service.meta = readMeta(reader, document);
  const YAML::Node spec = R::child(document, "spec");
  if (!R::present(spec)) {
    reader.fail("spec", "is required", document);
    return service;
  }
  if (!reader.expectMap(spec, "spec")) return service;
  reader.warnUnknownKeys(spec, "", {"hosts", "gateways", "http", "tls", "tcp", "exportTo"});
  service.hosts = reader.stringList(R::child(spec, "hosts"), "hosts");
  service.gateways = reader.stringList(R::child(spec, "gateways"), "gateways");
  service.export_to = reader.stringList(R::child(spec, "exportTo"), "exportTo");
  service.http = readHttpRoutes(reader, R::child(spec, "http"));
  service.tls = readL4Routes(reader, R::child(spec, "tls"), "tls", true);
  service.tcp = readL4Routes(reader, R::child(spec, "tcp"), "tcp", false);
  return service;
}

}  // namespace egressd::policy
