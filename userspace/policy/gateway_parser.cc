// Gateway (networking.istio.io): which pods are the gateway, and its servers.
#include <limits>

#include "policy/object_parsers.h"

namespace egressd::policy {
namespace {

using R = DocumentReader;

std::optional<ServerTlsMode> parseServerTlsMode(const std::string& text) {
  if (text == "PASSTHROUGH") return ServerTlsMode::kPassthrough;
  if (text == "SIMPLE") return ServerTlsMode::kSimple;
  if (text == "MUTUAL") return ServerTlsMode::kMutual;
  if (text == "ISTIO_MUTUAL") return ServerTlsMode::kIstioMutual;
  if (text == "AUTO_PASSTHROUGH") return ServerTlsMode::kAutoPassthrough;
  if (text == "OPTIONAL_MUTUAL") return ServerTlsMode::kOptionalMutual;
  return std::nullopt;
}

ServerTls readServerTls(R& reader, const YAML::Node& node, const std::string& field) {
  ServerTls tls;
  reader.warnUnknownKeys(
      node, field,
      {"httpsRedirect", "mode", "serverCertificate", "privateKey", "caCertificates", "credentialName",
       "credentialNames", "tlsCertificates", "subjectAltNames", "verifyCertificateSpki", "verifyCertificateHash",
       "minProtocolVersion", "maxProtocolVersion", "cipherSuites", "caCrl"});
  if (auto text = reader.string(R::child(node, "mode"), field + ".mode")) {
    if (auto mode = parseServerTlsMode(*text)) {
      tls.mode = *mode;
    } else {
      reader.fail(field + ".mode",
                  "\"" + *text +
                      "\" is not a valid mode (PASSTHROUGH, SIMPLE, MUTUAL, ISTIO_MUTUAL, AUTO_PASSTHROUGH, "
                      "OPTIONAL_MUTUAL)",
                  R::child(node, "mode"));
    }
  }
  if (auto text = reader.string(R::child(node, "httpsRedirect"), field + ".httpsRedirect")) {
    if (*text == "true") {
      tls.https_redirect = true;
    } else if (*text != "false") {
      reader.fail(field + ".httpsRedirect", "must be true or false", R::child(node, "httpsRedirect"));
    }
  }
  tls.credential_name = reader.string(R::child(node, "credentialName"), field + ".credentialName").value_or("");
  tls.server_certificate =
      reader.string(R::child(node, "serverCertificate"), field + ".serverCertificate").value_or("");
  tls.private_key = reader.string(R::child(node, "privateKey"), field + ".privateKey").value_or("");
  tls.ca_certificates = reader.string(R::child(node, "caCertificates"), field + ".caCertificates").value_or("");
  return tls;
}

GatewayServer readServer(R& reader, const YAML::Node& item, const std::string& field) {
  GatewayServer server;
  reader.warnUnknownKeys(item, field, {"port", "bind", "hosts", "tls", "defaultEndpoint", "name"});
  const YAML::Node port = R::child(item, "port");
  if (reader.expectMap(port, field + ".port")) {
    reader.warnUnknownKeys(port, field + ".port", {"number", "protocol", "name", "targetPort"});
    server.port_number =
        reader.number(R::child(port, "number"), field + ".port.number", std::numeric_limits<uint32_t>::max())
            .value_or(0);
    server.port_name = reader.string(R::child(port, "name"), field + ".port.name").value_or("");
    server.port_protocol = reader.string(R::child(port, "protocol"), field + ".port.protocol").value_or("");
    server.port_target =
        reader.number(R::child(port, "targetPort"), field + ".port.targetPort", std::numeric_limits<uint32_t>::max())
            .value_or(0);
  } else if (!R::present(port)) {
    reader.fail(field + ".port", "is required", item);
  }
  server.hosts = reader.stringList(R::child(item, "hosts"), field + ".hosts");
  const YAML::Node tls = R::child(item, "tls");
  if (reader.expectMap(tls, field + ".tls")) server.tls = readServerTls(reader, tls, field + ".tls");
  server.bind = reader.string(R::child(item, "bind"), field + ".bind").value_or("");
  server.name = reader.string(R::child(item, "name"), field + ".name").value_or("");
  return server;
}

}  // namespace

Gateway readGateway(DocumentReader& reader, const YAML::Node& document) {
  Gateway gateway;
  gateway.meta = readMeta(reader, document);
  const YAML::Node spec = R::child(document, "spec");
  if (!R::present(spec)) {
    reader.fail("spec", "is required", document);
    return gateway;
  }
  if (!reader.expectMap(spec, "spec")) return gateway;
  reader.warnUnknownKeys(spec, "", {"servers", "selector"});
  gateway.selector = reader.stringMap(R::child(spec, "selector"), "selector");
  const YAML::Node servers = R::child(spec, "servers");
  if (reader.expectList(servers, "servers")) {
    for (size_t i = 0; i < servers.size(); ++i) {
      const std::string field = "servers[" + std::to_string(i) + "]";
      if (!reader.expectMap(servers[i], field)) {
        if (!R::present(servers[i])) reader.fail(field, "must not be empty", servers[i]);
        continue;
      }
      gateway.servers.push_back(readServer(reader, servers[i], field));
    }
  }
  return gateway;
}

}  // namespace egressd::policy
