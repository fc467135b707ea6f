// DestinationRule (networking.istio.io): only what decides how a sidecar
// talks to a destination (TLS mode per port and subset) is kept.
#include <limits>
#include <set>

#include "policy/object_parsers.h"

namespace egressd::policy {
namespace {

using R = DocumentReader;
constexpr uint64_t kMaxI32 = std::numeric_limits<int32_t>::max();

bool readBool(const YAML::Node& node) { return node.IsDefined() && node.IsScalar() && node.Scalar() == "true"; }

std::optional<ClientTlsMode> parseClientTlsMode(const std::string& text) {
  if (text == "DISABLE") return ClientTlsMode::kDisable;
  if (text == "SIMPLE") return ClientTlsMode::kSimple;
  if (text == "MUTUAL") return ClientTlsMode::kMutual;
  if (text == "ISTIO_MUTUAL") return ClientTlsMode::kIstioMutual;
  return std::nullopt;
}

ClientTls readClientTls(R& reader, const YAML::Node& node, const std::string& field) {
  ClientTls tls;
  reader.warnUnknownKeys(node, field,
                         {"mode", "clientCertificate", "privateKey", "caCertificates", "credentialName",
                          "subjectAltNames", "sni", "insecureSkipVerify", "caCrl"});
  if (auto text = reader.string(R::child(node, "mode"), field + ".mode")) {
    if (auto mode = parseClientTlsMode(*text)) {
      tls.mode = *mode;
    } else {
      reader.fail(field + ".mode", "\"" + *text + "\" is not a valid mode (DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL)",
                  R::child(node, "mode"));
    }
  }
  tls.sni = reader.string(R::child(node, "sni"), field + ".sni").value_or("");
  tls.credential_name = reader.string(R::child(node, "credentialName"), field + ".credentialName").value_or("");
  tls.client_certificate =
      reader.string(R::child(node, "clientCertificate"), field + ".clientCertificate").value_or("");
  tls.private_key = reader.string(R::child(node, "privateKey"), field + ".privateKey").value_or("");
  tls.ca_certificates = reader.string(R::child(node, "caCertificates"), field + ".caCertificates").value_or("");
  tls.subject_alt_names = reader.stringList(R::child(node, "subjectAltNames"), field + ".subjectAltNames");
  tls.insecure_skip_verify = readBool(R::child(node, "insecureSkipVerify"));
  tls.ca_crl = reader.string(R::child(node, "caCrl"), field + ".caCrl").value_or("");
  return tls;
}

void readDuration(R& reader, const YAML::Node& map, const std::string& key, const std::string& field,
                  std::vector<std::pair<std::string, std::string>>& into) {
  if (auto text = reader.string(R::child(map, key), field + "." + key)) into.emplace_back(field + "." + key, *text);
}

OutlierDetection readOutlierDetection(R& reader, const YAML::Node& node, const std::string& field) {
  OutlierDetection out;
  readDuration(reader, node, "baseEjectionTime", field, out.durations);
  readDuration(reader, node, "interval", field, out.durations);
  out.consecutive_errors = reader.number(R::child(node, "consecutiveErrors"), field + ".consecutiveErrors", kMaxI32)
                               .value_or(0) != 0;
  out.split_external_local_origin_errors = readBool(R::child(node, "splitExternalLocalOriginErrors"));
  out.consecutive_local_origin_failures =
      reader.number(R::child(node, "consecutiveLocalOriginFailures"), field + ".consecutiveLocalOriginFailures", kMaxI32)
          .value_or(0);
  out.max_ejection_percent =
      reader.number(R::child(node, "maxEjectionPercent"), field + ".maxEjectionPercent", kMaxI32).value_or(0);
  out.min_health_percent =
      reader.number(R::child(node, "minHealthPercent"), field + ".minHealthPercent", kMaxI32).value_or(0);
  return out;
}

LoadBalancer readLoadBalancer(R& reader, const YAML::Node& node, const std::string& field) {
  LoadBalancer out;
  const YAML::Node hash = R::child(node, "consistentHash");
  if (reader.expectMap(hash, field + ".consistentHash")) {
    const std::string f = field + ".consistentHash";
    const YAML::Node cookie = R::child(hash, "httpCookie");
    if (reader.expectMap(cookie, f + ".httpCookie")) {
      out.http_cookie = true;
      out.http_cookie_name = reader.string(R::child(cookie, "name"), f + ".httpCookie.name").value_or("");
      // Cookie attribute names: present and unique (Istio's rule; checked
      // here as the model keeps no attributes).
      const YAML::Node attributes = R::child(cookie, "attributes");
      if (reader.expectList(attributes, f + ".httpCookie.attributes")) {
        std::set<std::string> names;
        for (size_t i = 0; i < attributes.size(); ++i) {
          const std::string item = f + ".httpCookie.attributes[" + std::to_string(i) + "]";
          const std::string name = reader.string(R::child(attributes[i], "name"), item + ".name").value_or("");
          if (name.empty()) {
            reader.fail(item + ".name", "is required", attributes[i]);
          } else if (!names.insert(name).second) {
            reader.fail(item + ".name", "\"" + name + "\" is already used by another attribute", attributes[i]);
          }
        }
      }
    }
    out.minimum_ring_size =
        reader.number(R::child(hash, "minimumRingSize"), f + ".minimumRingSize", UINT32_MAX).value_or(0) != 0;
    out.hash_algorithm = R::present(R::child(hash, "ringHash")) || R::present(R::child(hash, "maglev"));
    const YAML::Node maglev = R::child(hash, "maglev");
    if (reader.expectMap(maglev, f + ".maglev")) {
      out.maglev_table_size = reader.number(R::child(maglev, "tableSize"), f + ".maglev.tableSize", UINT32_MAX).value_or(0);
    }
  }
  out.locality = R::present(R::child(node, "localityLbSetting"));
  out.zone_aware = R::present(R::child(node, "zoneAwareLbSetting"));
  const YAML::Node warmup = R::child(node, "warmup");
  if (reader.expectMap(warmup, field + ".warmup")) {
    out.warmup_duration = reader.string(R::child(warmup, "duration"), field + ".warmup.duration").value_or("");
  }
  return out;
}

// The fields a TrafficPolicy and a port-level policy share; true if any is set.
bool readTrafficSettings(R& reader, const YAML::Node& node, const std::string& prefix, TrafficSettings& out) {
  bool any = false;
  const YAML::Node tls = R::child(node, "tls");
  if (reader.expectMap(tls, prefix + "tls")) out.tls = readClientTls(reader, tls, prefix + "tls");
  const YAML::Node pool = R::child(node, "connectionPool");
  if (reader.expectMap(pool, prefix + "connectionPool")) {
    out.connection_pool = readConnectionPool(reader, pool, prefix + "connectionPool");
  }
  const YAML::Node outlier = R::child(node, "outlierDetection");
  if (reader.expectMap(outlier, prefix + "outlierDetection")) {
    out.outlier_detection = readOutlierDetection(reader, outlier, prefix + "outlierDetection");
  }
  const YAML::Node balancer = R::child(node, "loadBalancer");
  if (reader.expectMap(balancer, prefix + "loadBalancer")) {
    out.load_balancer = readLoadBalancer(reader, balancer, prefix + "loadBalancer");
  }
  for (const YAML::Node& n : {tls, pool, outlier, balancer}) any = any || R::present(n);
  return any;
}

TrafficPolicy readTrafficPolicy(R& reader, const YAML::Node& node, const std::string& field) {
  TrafficPolicy policy;
  const std::string prefix = field.empty() ? "" : field + ".";
  reader.warnUnknownKeys(node, field,
                         {"loadBalancer", "connectionPool", "outlierDetection", "tls", "portLevelSettings", "tunnel",
                          "proxyProtocol", "retryBudget"});
  readTrafficSettings(reader, node, prefix, policy);
  const YAML::Node ports = R::child(node, "portLevelSettings");
  policy.port_level_settings_set = R::present(ports) && ports.IsSequence() && ports.size() > 0;
  if (reader.expectList(ports, prefix + "portLevelSettings")) {
    for (size_t i = 0; i < ports.size(); ++i) {
      const std::string item_field = prefix + "portLevelSettings[" + std::to_string(i) + "]";
      if (!reader.expectMap(ports[i], item_field)) {
        if (!R::present(ports[i])) reader.fail(item_field, "must not be empty", ports[i]);
        continue;
      }
      reader.warnUnknownKeys(ports[i], item_field,
                             {"port", "loadBalancer", "connectionPool", "outlierDetection", "tls"});
      PortTrafficPolicy port_policy;
      const YAML::Node port = R::child(ports[i], "port");
      if (reader.expectMap(port, item_field + ".port")) {
        port_policy.port_set = true;
        port_policy.port =
            reader.number(R::child(port, "number"), item_field + ".port.number", std::numeric_limits<uint32_t>::max())
                .value_or(0);
      }
      if (!readTrafficSettings(reader, ports[i], item_field + ".", port_policy)) {
        reader.fail(item_field, "must set at least one of tls, connectionPool, outlierDetection, loadBalancer",
                    ports[i]);
      }
      policy.port_level_settings.push_back(std::move(port_policy));
    }
  }
  const YAML::Node tunnel = R::child(node, "tunnel");
  if (reader.expectMap(tunnel, prefix + "tunnel")) {
    policy.tunnel = true;
    policy.tunnel_protocol = reader.string(R::child(tunnel, "protocol"), prefix + "tunnel.protocol").value_or("");
    policy.tunnel_target_host =
        reader.string(R::child(tunnel, "targetHost"), prefix + "tunnel.targetHost").value_or("");
    policy.tunnel_target_port =
        reader.number(R::child(tunnel, "targetPort"), prefix + "tunnel.targetPort", UINT32_MAX).value_or(0);
  }
  const YAML::Node proxy_protocol = R::child(node, "proxyProtocol");
  if (reader.expectMap(proxy_protocol, prefix + "proxyProtocol")) {
    policy.proxy_protocol_version =
        reader.string(R::child(proxy_protocol, "version"), prefix + "proxyProtocol.version").value_or("V1");
  }
  policy.retry_budget = R::present(R::child(node, "retryBudget"));
  return policy;
}

}  // namespace

DestinationRule readDestinationRule(DocumentReader& reader, const YAML::Node& document) {
  DestinationRule rule;
  rule.meta = readMeta(reader, document);
  const YAML::Node spec = R::child(document, "spec");
  if (!R::present(spec)) {
    reader.fail("spec", "is required", document);
    return rule;
  }
  if (!reader.expectMap(spec, "spec")) return rule;
  reader.warnUnknownKeys(spec, "", {"host", "trafficPolicy", "subsets", "exportTo", "workloadSelector"});
  rule.host = reader.string(R::child(spec, "host"), "host").value_or("");
  rule.export_to = reader.stringList(R::child(spec, "exportTo"), "exportTo");
  const YAML::Node policy = R::child(spec, "trafficPolicy");
  if (reader.expectMap(policy, "trafficPolicy"))
    rule.traffic_policy = readTrafficPolicy(reader, policy, "trafficPolicy");
  const YAML::Node subsets = R::child(spec, "subsets");
  if (reader.expectList(subsets, "subsets")) {
    for (size_t i = 0; i < subsets.size(); ++i) {
      const std::string field = "subsets[" + std::to_string(i) + "]";
      if (!reader.expectMap(subsets[i], field)) {
        if (!R::present(subsets[i])) reader.fail(field, "must not be empty", subsets[i]);
        continue;
      }
      reader.warnUnknownKeys(subsets[i], field, {"name", "labels", "trafficPolicy"});
      Subset subset;
      subset.name = reader.string(R::child(subsets[i], "name"), field + ".name").value_or("");
      subset.labels = reader.stringMap(R::child(subsets[i], "labels"), field + ".labels");
      const YAML::Node subset_policy = R::child(subsets[i], "trafficPolicy");
      if (reader.expectMap(subset_policy, field + ".trafficPolicy")) {
        subset.traffic_policy = readTrafficPolicy(reader, subset_policy, field + ".trafficPolicy");
      }
      rule.subsets.push_back(std::move(subset));
    }
  }
  const YAML::Node selector = R::child(spec, "workloadSelector");
  if (reader.expectMap(selector, "workloadSelector")) {
    rule.workload_selector = reader.stringMap(R::child(selector, "matchLabels"), "workloadSelector.matchLabels");
  }
  return rule;
}

}  // namespace egressd::policy
