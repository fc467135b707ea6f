// Gateway rules, following Istio's ValidateGateway / validateServer.
#include <map>

#include "policy/findings.h"
#include "policy/hosts.h"
#include "policy/protocols.h"
#include "policy/validation.h"

namespace egressd::policy {
namespace {

using findings::at;
using findings::error;
using findings::quoted;
using findings::warn;

// Server hosts are "namespace/dnsName" or (old style) "dnsName"; namespace is
// "*", "." or a namespace name; dnsName is "*", a (wildcard) FQDN or an IP.
void validateServerHost(const std::string& host, const std::string& field, Findings& out) {
  std::string name = host;
  if (const size_t slash = host.find('/'); slash != std::string::npos) {
    const std::string ns = host.substr(0, slash);
    name = host.substr(slash + 1);
    if (ns.empty() || name.empty()) {
      error(out, field, quoted(host) + ": namespace and dnsName cannot be empty");
      return;
    }
    if (ns != "*" && ns != "." && !isNamespaceName(ns)) {
      error(out, field, quoted(host) + ": " + quoted(ns) + " must be \"*\", \".\" or a namespace name");
    }
  }
  if (name == "*" || isIpAddress(name)) return;
  if (name.find('.') == std::string::npos) {
    error(out, field, quoted(host) + ": short names (non FQDN) are not allowed");
  } else if (auto err = checkWildcardHost(name); !err.empty()) {
    error(out, field, err);
  }
}

void validateServerTls(const GatewayServer& server, const std::string& field, Findings& out) {
  const auto protocol = parseProtocol(server.port_protocol);
  const bool tls_port = protocol && isTlsFamily(*protocol);
  if (!server.tls) {
    if (tls_port) error(out, field + ".tls", "is required for " + server.port_protocol + " ports");
    return;
  }
  const ServerTls& tls = *server.tls;
  if (!tls_port) {
    // As Istio: on an HTTP port only a passthrough tls block without
    // certificates (httpsRedirect) is allowed; on other ports none.
    const bool passthrough = tls.mode == ServerTlsMode::kPassthrough || tls.mode == ServerTlsMode::kAutoPassthrough;
    const bool http_redirect_only = protocol && isHttpFamily(*protocol) && passthrough &&
                                    tls.server_certificate.empty() && tls.private_key.empty() &&
                                    tls.ca_certificates.empty();
    if (!http_redirect_only) {
      error(out, field + ".tls",
            "cannot be set on a " +
                (server.port_protocol.empty() ? std::string("protocol-less") : server.port_protocol) +
                " port (only HTTPS/TLS, or httpsRedirect on HTTP)");
    }
    return;
  }
  if (tls.https_redirect) warn(out, field + ".tls.httpsRedirect", "should only be used with HTTP servers");
  switch (tls.mode) {
    case ServerTlsMode::kIstioMutual:
      if (!tls.server_certificate.empty() || !tls.private_key.empty() || !tls.ca_certificates.empty() ||
          !tls.credential_name.empty()) {
        error(out, field + ".tls", "ISTIO_MUTUAL cannot have a certificate, key, CA bundle or credentialName");
      }
      break;
    case ServerTlsMode::kSimple:
    case ServerTlsMode::kMutual:
    case ServerTlsMode::kOptionalMutual:
      if (tls.credential_name.empty() && (tls.server_certificate.empty() || tls.private_key.empty())) {
        error(out, field + ".tls", "mode needs credentialName, or serverCertificate and privateKey");
      }
      if (tls.mode != ServerTlsMode::kSimple && tls.credential_name.empty() && tls.ca_certificates.empty()) {
        error(out, field + ".tls.caCertificates", "is required for MUTUAL without credentialName");
      }
      break;
    case ServerTlsMode::kPassthrough:
    case ServerTlsMode::kAutoPassthrough:
      if (!tls.server_certificate.empty() || !tls.private_key.empty() || !tls.ca_certificates.empty() ||
          !tls.credential_name.empty()) {
        warn(out, field + ".tls", "certificates are ignored in PASSTHROUGH mode");
      }
      break;
  }
}

void validateServer(const GatewayServer& server, const std::string& field, Findings& out) {
  if (server.hosts.empty()) error(out, field + ".hosts", "must list at least one host");
  for (size_t h = 0; h < server.hosts.size(); ++h) validateServerHost(server.hosts[h], at(field + ".hosts", h), out);
  const bool unix_bind = server.bind.rfind(kUnixPrefix, 0) == 0;
  if ((server.port_number != 0 || !unix_bind) && (server.port_number < 1 || server.port_number > 65535)) {
    error(out, field + ".port.number", "must be between 1 and 65535, got " + std::to_string(server.port_number));
  }
  if (server.port_target != 0) error(out, field + ".port.targetPort", "has no effect on a Gateway; remove it");
  if (unix_bind) {
    if (auto err = checkUnixAddress(server.bind); !err.empty()) error(out, field + ".bind", err);
    if (server.port_number != 0) error(out, field + ".port.number", "must be 0 with a unix:// bind address");
  }
  if (server.port_name.empty()) error(out, field + ".port.name", "is required");
  const auto protocol = parseProtocol(server.port_protocol);
  if (server.port_protocol.empty()) {
    error(out, field + ".port.protocol", "is required (" + std::string(kKnownProtocols) + ")");
  } else if (!protocol) {
    error(out, field + ".port.protocol",
          quoted(server.port_protocol) + " is not a valid protocol (" + std::string(kKnownProtocols) + ")");
  } else if (*protocol == PortProtocol::kUdp) {
    warn(out, field + ".port.protocol", "UDP: egressd never routes UDP through a gateway");
  }
  if (!server.bind.empty() && !isIpAddress(server.bind) && !unix_bind) {
    error(out, field + ".bind", quoted(server.bind) + " is not a valid IP address or unix:// path");
  }
  validateServerTls(server, field, out);
}

}  // namespace

Findings validateGateway(const Gateway& gateway) {
  Findings out = validateMeta(gateway.meta);
  // Istio refers to gateways as "ns/name": the name must be a DNS label.
  if (!gateway.meta.name.empty() && gateway.meta.name.find('.') != std::string::npos) {
    error(out, "metadata.name", quoted(gateway.meta.name) + " is not a valid gateway name (DNS-1123 label, no dots)");
  }
  for (const auto& [key, value] : gateway.selector) {
    if (key.empty()) error(out, "selector", "has an empty key");
    if (key.find('*') != std::string::npos || value.find('*') != std::string::npos) {
      error(out, "selector." + key, "wildcards are not supported in selectors (" + key + "=" + value + ")");
    }
  }
  if (gateway.selector.empty()) {
    // Istio would pick every gateway pod; egressd cannot tell gateway pods
    // from applications, so it exempts none for this Gateway.
    warn(out, "selector", "is empty: egressd exempts no workload for this Gateway (it cannot tell gateway pods apart)");
  }
  if (gateway.servers.empty()) error(out, "servers", "must list at least one server");
  std::map<std::string, size_t> names;
  for (size_t i = 0; i < gateway.servers.size(); ++i) {
    const GatewayServer& server = gateway.servers[i];
    validateServer(server, at("servers", i), out);
    if (server.port_name.empty()) continue;
    if (auto [it, fresh] = names.emplace(server.port_name, i); !fresh) {
      error(out, at("servers", i) + ".port.name",
            quoted(server.port_name) + " is already used by " + at("servers", it->second) +
                " (port names must be unique)");
    }
  }
  return out;
}

}  // namespace egressd::policy
