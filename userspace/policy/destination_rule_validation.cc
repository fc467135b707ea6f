// DestinationRule rules, following Istio's ValidateDestinationRule.
#include <map>

#include "policy/findings.h"
#include "policy/hosts.h"
#include "policy/validation.h"

namespace egressd::policy {
namespace {

using findings::at;
using findings::error;
using findings::quoted;

void validateClientTls(const ClientTls& tls, const std::string& field, Findings& out) {
  if (tls.mode == ClientTlsMode::kIstioMutual) {
    if (!tls.client_certificate.empty() || !tls.private_key.empty() || !tls.ca_certificates.empty() ||
        !tls.credential_name.empty()) {
      error(out, field, "ISTIO_MUTUAL cannot have a client certificate, key, CA bundle or credentialName");
    }
  } else if (tls.mode == ClientTlsMode::kMutual && tls.credential_name.empty()) {
    if (tls.client_certificate.empty())
      error(out, field + ".clientCertificate", "is required for MUTUAL without credentialName");
    if (tls.private_key.empty()) error(out, field + ".privateKey", "is required for MUTUAL without credentialName");
  }
}

void validateTrafficPolicy(const TrafficPolicy& policy, const std::string& field, Findings& out) {
  const std::string prefix = field.empty() ? "" : field + ".";
  if (policy.tls) validateClientTls(*policy.tls, prefix + "tls", out);
  std::map<uint32_t, size_t> ports;
  for (size_t i = 0; i < policy.port_level_settings.size(); ++i) {
    const PortTrafficPolicy& port = policy.port_level_settings[i];
    const std::string item = at(prefix + "portLevelSettings", i);
    if (port.port < 1 || port.port > 65535) {
      error(out, item + ".port.number", "must be between 1 and 65535, got " + std::to_string(port.port));
    } else if (auto [it, fresh] = ports.emplace(port.port, i); !fresh) {
      error(out, item + ".port.number",
            std::to_string(port.port) + " is already used by " + at(prefix + "portLevelSettings", it->second));
    }
    if (port.tls) validateClientTls(*port.tls, item + ".tls", out);
  }
}

}  // namespace

Findings validateDestinationRule(const DestinationRule& rule) {
  Findings out = validateMeta(rule.meta);
  if (rule.host.empty()) {
    error(out, "host", "is required");
  } else if (rule.host != "*") {
    if (auto err = checkWildcardHost(rule.host); !err.empty()) error(out, "host", err);
  }
  if (rule.traffic_policy) validateTrafficPolicy(*rule.traffic_policy, "trafficPolicy", out);
  std::map<std::string, size_t> names;
  for (size_t i = 0; i < rule.subsets.size(); ++i) {
    const Subset& subset = rule.subsets[i];
    const std::string field = at("subsets", i);
    if (subset.name.empty()) {
      error(out, field + ".name", "is required");
    } else if (!isDns1123Label(subset.name, true)) {
      error(out, field + ".name", quoted(subset.name) + " is not a valid subset name (DNS-1123 label)");
    } else if (auto [it, fresh] = names.emplace(subset.name, i); !fresh) {
      error(out, field + ".name", quoted(subset.name) + " is already used by " + at("subsets", it->second));
    }
    for (const auto& [key, value] : subset.labels) {
      if (key.empty()) error(out, field + ".labels", "has an empty key");
    }
    if (subset.traffic_policy) validateTrafficPolicy(*subset.traffic_policy, field + ".trafficPolicy", out);
  }
  if (rule.workload_selector) {
    for (const auto& [key, value] : *rule.workload_selector) {
      if (key.empty()) error(out, "workloadSelector.matchLabels", "has an empty key");
    }
  }
  validateExportTo(rule.meta.namespace_, rule.export_to, "exportTo", out);
  return out;
}

}  // namespace egressd::policy
