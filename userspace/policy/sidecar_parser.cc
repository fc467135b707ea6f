#include <limits>

#include "policy/object_parsers.h"

namespace egressd::policy {
namespace {

using R = DocumentReader;
constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();

// SidecarPort: number (0, or absent, for a unix-socket listener), protocol,
// name, targetPort. Returns the number.
uint32_t readSidecarPort(R& reader, const YAML::Node& port, const std::string& field, std::string& name,
                         std::string& protocol, uint32_t& target_port) {
  reader.warnUnknownKeys(port, field, {"number", "protocol", "name", "targetPort"});
  name = reader.string(R::child(port, "name"), field + ".name").value_or("");
  protocol = reader.string(R::child(port, "protocol"), field + ".protocol").value_or("");
  target_port = reader.number(R::child(port, "targetPort"), field + ".targetPort", kMaxU32).value_or(0);
  return reader.number(R::child(port, "number"), field + ".number", kMaxU32).value_or(0);
}

CaptureMode readCaptureMode(R& reader, const YAML::Node& node, const std::string& field) {
  const auto text = reader.string(node, field);
  if (!text || *text == "DEFAULT") return CaptureMode::kDefault;
  if (*text == "IPTABLES") return CaptureMode::kIptables;
  if (*text == "NONE") return CaptureMode::kNone;
  reader.fail(field, "\"" + *text + "\" is not a valid capture mode (DEFAULT, IPTABLES or NONE)", node);
  return CaptureMode::kDefault;
}

SidecarEgress readEgressListener(R& reader, const YAML::Node& item, const std::string& field) {
  SidecarEgress egress;
  reader.warnUnknownKeys(item, field, {"port", "bind", "captureMode", "hosts"});
  const YAML::Node port = R::child(item, "port");
  if (reader.expectMap(port, field + ".port")) {
    // A port map without a number is a unix-socket listener (number 0).
    egress.port = readSidecarPort(reader, port, field + ".port", egress.port_name, egress.port_protocol,
                                  egress.target_port);
  }
  egress.bind = reader.string(R::child(item, "bind"), field + ".bind").value_or("");
  egress.capture_mode = readCaptureMode(reader, R::child(item, "captureMode"), field + ".captureMode");
  egress.hosts = reader.stringList(R::child(item, "hosts"), field + ".hosts");
  return egress;
}

SidecarIngressTls readIngressTls(R& reader, const YAML::Node& tls, const std::string& field) {
  SidecarIngressTls out;
  out.mode = reader.string(R::child(tls, "mode"), field + ".mode").value_or("");
  const YAML::Node redirect = R::child(tls, "httpsRedirect");
  out.https_redirect = redirect.IsDefined() && redirect.IsScalar() && redirect.Scalar() == "true";
  out.credential_name = !reader.string(R::child(tls, "credentialName"), field + ".credentialName").value_or("").empty();
  out.credential_names = !reader.stringList(R::child(tls, "credentialNames"), field + ".credentialNames").empty();
  const YAML::Node certificates = R::child(tls, "tlsCertificates");
  out.tls_certificates = certificates.IsDefined() && certificates.IsSequence() && certificates.size() > 0;
  out.subject_alt_names = !reader.stringList(R::child(tls, "subjectAltNames"), field + ".subjectAltNames").empty();
  const auto set = [&](const char* key) {
    return !reader.string(R::child(tls, key), field + "." + key).value_or("").empty();
  };
  out.server_certificate = set("serverCertificate");
  out.private_key = set("privateKey");
  out.ca_certificates = set("caCertificates");
  return out;
}

SidecarIngress readIngressListener(R& reader, const YAML::Node& item, const std::string& field) {
  SidecarIngress ingress;
  reader.warnUnknownKeys(item, field, {"port", "bind", "captureMode", "defaultEndpoint", "tls", "connectionPool"});
  const YAML::Node port = R::child(item, "port");
  if (reader.expectMap(port, field + ".port")) {
    ingress.port = readSidecarPort(reader, port, field + ".port", ingress.port_name, ingress.port_protocol,
                                   ingress.target_port);
  }
  ingress.bind = reader.string(R::child(item, "bind"), field + ".bind").value_or("");
  readCaptureMode(reader, R::child(item, "captureMode"), field + ".captureMode");
  ingress.default_endpoint = reader.string(R::child(item, "defaultEndpoint"), field + ".defaultEndpoint").value_or("");
  const YAML::Node tls = R::child(item, "tls");
  if (reader.expectMap(tls, field + ".tls")) ingress.tls = readIngressTls(reader, tls, field + ".tls");
  const YAML::Node pool = R::child(item, "connectionPool");
  if (reader.expectMap(pool, field + ".connectionPool")) {
    ingress.connection_pool = readConnectionPool(reader, pool, field + ".connectionPool");
  }
  return ingress;
}

EgressProxy readEgressProxy(R& reader, const YAML::Node& node, const std::string& field) {
  EgressProxy proxy;
  reader.warnUnknownKeys(node, field, {"host", "subset", "port"});
  proxy.host = reader.string(R::child(node, "host"), field + ".host").value_or("");
  proxy.subset = reader.string(R::child(node, "subset"), field + ".subset").value_or("");
  const YAML::Node port = R::child(node, "port");
  if (reader.expectMap(port, field + ".port")) {
    proxy.port = reader.number(R::child(port, "number"), field + ".port.number", kMaxU32).value_or(0);
  }
  return proxy;
}

// Each list item a map; a null item is an error ("may not be null").
template <typename Read>
void readListeners(R& reader, const YAML::Node& list, const std::string& name, Read read) {
  if (!reader.expectList(list, name)) return;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string field = name + "[" + std::to_string(i) + "]";
    if (!reader.expectMap(list[i], field)) {
      if (!R::present(list[i])) reader.fail(field, "must not be empty", list[i]);
      continue;
    }
    read(list[i], field);
  }
}

}  // namespace

Sidecar readSidecar(DocumentReader& reader, const YAML::Node& document) {
  Sidecar sidecar;
  sidecar.meta = readMeta(reader, document);
  const YAML::Node spec = R::child(document, "spec");
  if (!R::present(spec)) {
    reader.fail("spec", "is required", document);
    return sidecar;
  }
  if (!reader.expectMap(spec, "spec")) return sidecar;
  reader.warnUnknownKeys(spec, "", {"workloadSelector", "ingress", "egress", "inboundConnectionPool",
                                    "outboundTrafficPolicy"});
  const YAML::Node selector = R::child(spec, "workloadSelector");
  if (reader.expectMap(selector, "workloadSelector")) {
    sidecar.workload_selector = reader.stringMap(R::child(selector, "labels"), "workloadSelector.labels");
  }
  const YAML::Node ingress = R::child(spec, "ingress");
  readListeners(reader, ingress, "ingress", [&](const YAML::Node& item, const std::string& field) {
    sidecar.ingress.push_back(readIngressListener(reader, item, field));
  });
  const YAML::Node egress = R::child(spec, "egress");
  readListeners(reader, egress, "egress", [&](const YAML::Node& item, const std::string& field) {
    sidecar.egress.push_back(readEgressListener(reader, item, field));
  });
  const YAML::Node pool = R::child(spec, "inboundConnectionPool");
  if (reader.expectMap(pool, "inboundConnectionPool")) {
    sidecar.inbound_connection_pool = readConnectionPool(reader, pool, "inboundConnectionPool");
  }
  const YAML::Node policy = R::child(spec, "outboundTrafficPolicy");
  if (reader.expectMap(policy, "outboundTrafficPolicy")) {
    reader.warnUnknownKeys(policy, "outboundTrafficPolicy", {"mode", "egressProxy"});
    // No mode is Istio's enum default, REGISTRY_ONLY.
    sidecar.outbound_mode = readOutboundMode(reader, R::child(policy, "mode"), "outboundTrafficPolicy.mode",
                                             OutboundModeScope::kSidecar);
    const YAML::Node proxy = R::child(policy, "egressProxy");
    if (reader.expectMap(proxy, "outboundTrafficPolicy.egressProxy")) {
      sidecar.egress_proxy = readEgressProxy(reader, proxy, "outboundTrafficPolicy.egressProxy");
    }
  }
  // Same rule as Istio: a Sidecar must configure something.
  const auto empty = [](const YAML::Node& n) { return !R::present(n) || (n.IsSequence() && n.size() == 0); };
  if (empty(egress) && empty(ingress) && !R::present(policy) && !R::present(pool)) {
    reader.fail("spec", "is empty: set egress, ingress, outboundTrafficPolicy or inboundConnectionPool", spec);
  }
  return sidecar;
}

}  // namespace egressd::policy
