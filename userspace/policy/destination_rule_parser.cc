// DestinationRule (networking.istio.io): only what decides how a sidecar
// talks to a destination (TLS mode per port and subset) is kept.
#include <limits>

#include "policy/object_parsers.h"

namespace egressd::policy {
namespace {

using R = DocumentReader;

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
  return tls;
}

TrafficPolicy readTrafficPolicy(R& reader, const YAML::Node& node, const std::string& field) {
  TrafficPolicy policy;
  const std::string prefix = field.empty() ? "" : field + ".";
  reader.warnUnknownKeys(node, field,
                         {"loadBalancer", "connectionPool", "outlierDetection", "tls", "portLevelSettings", "tunnel",
                          "proxyProtocol", "retryBudget"});
  const YAML::Node tls = R::child(node, "tls");
  if (reader.expectMap(tls, prefix + "tls")) policy.tls = readClientTls(reader, tls, prefix + "tls");
  const YAML::Node ports = R::child(node, "portLevelSettings");
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
        port_policy.port =
            reader.number(R::child(port, "number"), item_field + ".port.number", std::numeric_limits<uint32_t>::max())
                .value_or(0);
      }
      const YAML::Node port_tls = R::child(ports[i], "tls");
      if (reader.expectMap(port_tls, item_field + ".tls")) {
        port_policy.tls = readClientTls(reader, port_tls, item_field + ".tls");
      }
      policy.port_level_settings.push_back(std::move(port_policy));
    }
  }
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
