// Sidecar rules, following Istio's ValidateSidecar. egressd enforces the
// egress side; ingress listeners, connection pools and the egress proxy are
// validated as Istio does and accepted with a warning that they are not
// enforced.
#include <arpa/inet.h>

#include <charconv>
#include <map>
#include <set>

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

// Sidecar egress hosts are "[~]namespace/dnsName": namespace is "*", ".",
// or a namespace name (with "~", also empty: "~/host" excludes host from
// every namespace); dnsName is "*" or a (wildcard) FQDN.
void validateEgressHost(const std::string& host, const std::string& field, Findings& out) {
  const size_t slash = host.find('/');
  if (slash == std::string::npos) {
    error(out, field, quoted(host) + " must be of the form namespace/dnsName (e.g. \"./*\", \"istio-system/*\")");
    return;
  }
  std::string ns = host.substr(0, slash);
  const std::string name = host.substr(slash + 1);
  if (ns.empty() || name.empty()) {
    error(out, field, quoted(host) + ": namespace and dnsName cannot be empty");
    return;
  }
  if (ns.front() == '~') ns.erase(0, 1);
  if (!ns.empty() && ns != "*" && ns != "." && !isNamespaceName(ns)) {
    error(out, field,
          quoted(host) + ": " + quoted(host.substr(0, slash)) +
              " must be \"*\", \".\" or a namespace name, optionally prefixed by \"~\" to exclude");
  }
  if (name == "*") return;
  if (name.find('.') == std::string::npos) {
    error(out, field, quoted(host) + ": short names are not allowed; use a fully qualified name (" + name +
                          ".<namespace>.svc.cluster.local)");
  } else if (auto err = checkWildcardHost(name); !err.empty()) {
    error(out, field, err);
  }
}

void validatePortName(const std::string& name, const std::string& field, Findings& out) {
  if (!name.empty() && !isDns1123Label(name, true)) {
    error(out, field, quoted(name) + " is not a valid port name (lower-case DNS-1123 label)");
  }
}

void validateProtocolName(const std::string& protocol, const std::string& field, Findings& out) {
  if (!parseProtocol(protocol)) {
    error(out, field, quoted(protocol) + " is not a known protocol (" + std::string(kKnownProtocols) + ")");
  }
}

void validatePortNumber(uint32_t number, const std::string& field, Findings& out) {
  if (number < 1 || number > 65535) error(out, field, "must be between 1 and 65535, got " + std::to_string(number));
}

void validateEgressPort(const SidecarEgress& egress, const std::string& field, Findings& out) {
  validatePortName(egress.port_name, field + ".port.name", out);
  validateProtocolName(egress.port_protocol, field + ".port.protocol", out);
  if (egress.target_port != 0) error(out, field + ".port.targetPort", "has no effect on a Sidecar; remove it");
  if (*egress.port == 0) {
    if (egress.bind.rfind(kUnixPrefix, 0) != 0) {
      error(out, field + ".port.number", "0 is only allowed with a unix:// bind address");
    } else if (auto err = checkUnixAddress(egress.bind); !err.empty()) {
      error(out, field + ".bind", err);
    }
    if (egress.capture_mode == CaptureMode::kIptables) {
      error(out, field + ".captureMode", "must be DEFAULT or NONE for a unix domain socket listener");
    }
    return;
  }
  validatePortNumber(*egress.port, field + ".port.number", out);
  if (!egress.bind.empty() && !isIpAddress(egress.bind)) {
    error(out, field + ".bind", quoted(egress.bind) + " is not a valid IP address");
  }
}

// As Istio: hosts already covered by another entry of the same listener are
// harmless but probably a mistake. Exclusions ("~...") are not imports.
void warnDuplicateHosts(const std::vector<std::string>& hosts, const std::string& own_namespace,
                        const std::string& field, Findings& out) {
  std::map<std::string, std::set<std::string>> by_namespace;
  for (size_t i = 0; i < hosts.size(); ++i) {
    const size_t slash = hosts[i].find('/');
    if (slash == std::string::npos || hosts[i].front() == '~') continue;
    std::string ns = hosts[i].substr(0, slash);
    const std::string name = hosts[i].substr(slash + 1);
    if (ns == ".") ns = own_namespace;
    std::set<std::string>& names = by_namespace[ns];
    const bool covered = name == "*" ? !names.empty() : (names.count(name) != 0 || names.count("*") != 0);
    if (covered) warn(out, at(field, i), quoted(hosts[i]) + " duplicates another host of this listener");
    names.insert(name);
  }
  if (by_namespace.size() > 1 && by_namespace.count("*") != 0 && by_namespace["*"].count("*") != 0) {
    warn(out, field, "\"*/*\" already selects every host; the other entries add nothing");
  }
}

// defaultEndpoint: "127.0.0.1:PORT", "0.0.0.0:PORT", "[::1]:PORT",
// "[::]:PORT", ":PORT" or "unix:///path".
void validateDefaultEndpoint(const std::string& endpoint, const std::string& field, Findings& out) {
  if (endpoint.rfind(kUnixPrefix, 0) == 0) {
    if (auto err = checkUnixAddress(endpoint); !err.empty()) error(out, field, err);
    return;
  }
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) {
    error(out, field, quoted(endpoint) + " has no port (HOST:PORT)");
    return;
  }
  std::string host = endpoint.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (!host.empty() && host != "127.0.0.1" && host != "0.0.0.0" && host != "::1" && host != "::") {
    error(out, field,
          quoted(endpoint) + " must be 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT, unix:///path or unset");
  }
  const std::string port = endpoint.substr(colon + 1);
  int number = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size()) {
    error(out, field, quoted(endpoint) + ": port " + quoted(port) + " is not a number");
  } else if (number < 1 || number > 65535) {
    error(out, field, quoted(endpoint) + ": port must be between 1 and 65535");
  }
}

void validateIngressTls(const SidecarIngress& ingress, const std::string& field, Findings& out) {
  const SidecarIngressTls& tls = *ingress.tls;
  if (tls.subject_alt_names) error(out, field + ".subjectAltNames", "is not supported in Sidecar ingress tls");
  if (tls.https_redirect) error(out, field + ".httpsRedirect", "is not supported in Sidecar ingress tls");
  if (tls.credential_name) error(out, field + ".credentialName", "is not supported in Sidecar ingress tls");
  if (tls.credential_names) error(out, field + ".credentialNames", "is not supported in Sidecar ingress tls");
  if (tls.tls_certificates) error(out, field + ".tlsCertificates", "is not supported in Sidecar ingress tls");
  if (tls.mode == "ISTIO_MUTUAL" || tls.mode == "AUTO_PASSTHROUGH") {
    error(out, field + ".mode", tls.mode + " cannot be used in Sidecar ingress tls");
  } else if (!tls.mode.empty() && tls.mode != "PASSTHROUGH" && tls.mode != "SIMPLE" && tls.mode != "MUTUAL" &&
             tls.mode != "OPTIONAL_MUTUAL") {
    error(out, field + ".mode", quoted(tls.mode) + " is not a valid mode");
  }
  const auto protocol = parseProtocol(ingress.port_protocol);
  if (!protocol || !isTlsFamily(*protocol)) error(out, field, "cannot be set on a port that is not HTTPS or TLS");
  if (tls.mode == "SIMPLE" || tls.mode == "MUTUAL" || tls.mode == "OPTIONAL_MUTUAL") {
    if (!tls.server_certificate) error(out, field + ".serverCertificate", "is required for " + tls.mode);
    if (!tls.private_key) error(out, field + ".privateKey", "is required for " + tls.mode);
    if (tls.mode != "SIMPLE" && !tls.ca_certificates) error(out, field + ".caCertificates", "is required for " + tls.mode);
  }
}

void validateIngress(const Sidecar& sidecar, Findings& out) {
  std::set<uint32_t> ports;
  for (size_t i = 0; i < sidecar.ingress.size(); ++i) {
    const SidecarIngress& ingress = sidecar.ingress[i];
    const std::string field = at("ingress", i);
    if (!ingress.port) {
      error(out, field + ".port", "is required for ingress listeners");
      continue;
    }
    if (ingress.target_port != 0) error(out, field + ".port.targetPort", "has no effect on a Sidecar; remove it");
    validatePortName(ingress.port_name, field + ".port.name", out);
    validateProtocolName(ingress.port_protocol, field + ".port.protocol", out);
    validatePortNumber(*ingress.port, field + ".port.number", out);
    if (!ingress.bind.empty() && !isIpAddress(ingress.bind)) {
      error(out, field + ".bind", quoted(ingress.bind) + " is not a valid IP address");
    }
    if (!ports.insert(*ingress.port).second) {
      error(out, field + ".port.number", std::to_string(*ingress.port) + " is already used by another ingress listener");
    }
    if (!ingress.default_endpoint.empty()) validateDefaultEndpoint(ingress.default_endpoint, field + ".defaultEndpoint", out);
    if (ingress.tls) validateIngressTls(ingress, field + ".tls", out);
    if (ingress.connection_pool) {
      validateConnectionPool(*ingress.connection_pool, field + ".connectionPool", out);
      const auto protocol = parseProtocol(ingress.port_protocol);
      if (ingress.connection_pool->http && (!protocol || !isHttpFamily(*protocol))) {
        warn(out, field + ".connectionPool.http",
             "port " + std::to_string(*ingress.port) + " is not HTTP: a sidecar applies only the tcp settings");
      }
    }
  }
  if (!sidecar.ingress.empty()) {
    warn(out, "ingress", "inbound listeners are not enforced by egressd (it enforces egress only)");
  }
}

void validateEgressProxy(const Sidecar& sidecar, Findings& out) {
  if (!sidecar.egress_proxy) return;
  const std::string field = "outboundTrafficPolicy.egressProxy";
  if (sidecar.outbound_mode != OutboundMode::kAllowAny) {
    error(out, field, "can only be set with mode ALLOW_ANY");
    return;
  }
  const EgressProxy& proxy = *sidecar.egress_proxy;
  if (auto err = checkFqdn(proxy.host); !err.empty()) error(out, field + ".host", err);
  if (!proxy.port) {
    error(out, field + ".port", "is required");
    return;
  }
  validatePortNumber(*proxy.port, field + ".port.number", out);
  if (!proxy.subset.empty() && !isDns1123Label(proxy.subset)) {
    error(out, field + ".subset", quoted(proxy.subset) + " is not a valid subset name");
  }
  warn(out, field,
       "is not enforced by egressd: under ALLOW_ANY, unknown destinations are reached directly, not through " +
           proxy.host);
}

void validateEgress(const Sidecar& sidecar, Findings& out) {
  std::set<uint32_t> ports;
  std::set<std::string> unix_binds;
  bool catch_all_seen = false;
  for (size_t i = 0; i < sidecar.egress.size(); ++i) {
    const SidecarEgress& egress = sidecar.egress[i];
    const std::string field = at("egress", i);
    if (!egress.port) {
      // Only one listener without a port, and it must come last.
      if (catch_all_seen) {
        error(out, field, "has no port, like an earlier listener: only one egress listener may omit the port");
      } else if (i + 1 != sidecar.egress.size()) {
        error(out, field, "has no port, so it must be the last egress listener");
      }
      catch_all_seen = true;
    } else {
      validateEgressPort(egress, field, out);
      if (*egress.port == 0) {
        if (!unix_binds.insert(egress.bind).second) error(out, field + ".bind", "unix:// bind addresses must be unique");
      } else if (!ports.insert(*egress.port).second) {
        error(out, field + ".port.number", std::to_string(*egress.port) + " is already used by another egress listener");
      }
    }
    if (egress.hosts.empty()) error(out, field + ".hosts", "must list at least one host");
    for (size_t h = 0; h < egress.hosts.size(); ++h) {
      validateEgressHost(egress.hosts[h], at(field + ".hosts", h), out);
    }
    warnDuplicateHosts(egress.hosts, sidecar.meta.namespace_, field + ".hosts", out);
  }
}

}  // namespace

Findings validateSidecar(const Sidecar& sidecar) {
  Findings out = validateMeta(sidecar.meta);
  validateSelector(sidecar.workload_selector, out);
  validateIngress(sidecar, out);
  if (sidecar.inbound_connection_pool) {
    validateConnectionPool(*sidecar.inbound_connection_pool, "inboundConnectionPool", out);
    warn(out, "inboundConnectionPool", "is not enforced by egressd (it enforces egress only)");
  }
  validateEgress(sidecar, out);
  validateEgressProxy(sidecar, out);
  return out;
}

}  // namespace egressd::policy
