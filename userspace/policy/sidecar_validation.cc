// Sidecar rules, following Istio's ValidateSidecar.
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

// Sidecar egress hosts are "namespace/dnsName": namespace is "*", ".", "~"
// or a namespace name; dnsName is "*" or a (wildcard) host name.
void validateEgressHost(const std::string& host, const std::string& field, Findings& out) {
  const size_t slash = host.find('/');
  if (slash == std::string::npos) {
    error(out, field, quoted(host) + " must be of the form namespace/dnsName (e.g. \"./*\", \"istio-system/*\")");
    return;
  }
  const std::string ns = host.substr(0, slash);
  const std::string name = host.substr(slash + 1);
  if (ns.empty() || name.empty()) {
    error(out, field, quoted(host) + ": namespace and dnsName cannot be empty");
    return;
  }
  if (ns != "*" && ns != "." && ns != "~" && !isNamespaceName(ns)) {
    error(out, field, quoted(host) + ": " + quoted(ns) + " must be \"*\", \".\", \"~\" or a namespace name");
  }
  if (name == "*") return;
  if (auto err = checkWildcardHost(name); !err.empty()) error(out, field, err);
}

void validateEgressPort(const SidecarEgress& egress, const std::string& field, Findings& out) {
  if (!egress.port_name.empty() && !isDns1123Label(egress.port_name, true)) {
    error(out, field + ".port.name", quoted(egress.port_name) + " is not a valid port name (lower-case DNS-1123 label)");
  }
  if (!parseProtocol(egress.port_protocol)) {
    error(out, field + ".port.protocol",
          quoted(egress.port_protocol) + " is not a known protocol (" + std::string(kKnownProtocols) + ")");
  }
  const bool unix_bind = egress.bind.rfind(kUnixPrefix, 0) == 0;
  if (*egress.port == 0) {
    if (!unix_bind) {
      error(out, field + ".port.number", "0 is only allowed with a unix:// bind address");
    } else if (auto err = checkUnixAddress(egress.bind); !err.empty()) {
      error(out, field + ".bind", err);
    }
    return;
  }
  if (*egress.port > 65535) {
    error(out, field + ".port.number", "must be between 1 and 65535, got " + std::to_string(*egress.port));
  }
  if (!egress.bind.empty() && !isIpAddress(egress.bind)) {
    error(out, field + ".bind", quoted(egress.bind) + " is not a valid IP address");
  }
}

// As Istio: hosts already covered by another entry of the same listener are
// harmless but probably a mistake.
void warnDuplicateHosts(const std::vector<std::string>& hosts, const std::string& own_namespace,
                        const std::string& field, Findings& out) {
  std::map<std::string, std::set<std::string>> by_namespace;
  for (size_t i = 0; i < hosts.size(); ++i) {
    const size_t slash = hosts[i].find('/');
    if (slash == std::string::npos) continue;
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

}  // namespace

Findings validateSidecar(const Sidecar& sidecar) {
  Findings out = validateMeta(sidecar.meta);
  validateSelector(sidecar.workload_selector, out);
  std::set<uint32_t> ports;
  std::set<std::string> unix_binds;
  bool catch_all_seen = false;
  for (size_t i = 0; i < sidecar.egress.size(); ++i) {
    const SidecarEgress& egress = sidecar.egress[i];
    const std::string field = "egress[" + std::to_string(i) + "]";
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
  return out;
}

}  // namespace egressd::policy
