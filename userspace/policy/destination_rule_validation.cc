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
using findings::warn;

// Istio's ValidateTLS (client side).
void validateClientTls(const ClientTls& tls, const std::string& field, Findings& out) {
  const bool simple = tls.mode == ClientTlsMode::kSimple;
  const bool mutual = tls.mode == ClientTlsMode::kMutual;
  if (tls.insecure_skip_verify) {
    if (simple && (!tls.ca_certificates.empty() || !tls.credential_name.empty() || !tls.subject_alt_names.empty())) {
      error(out, field + ".insecureSkipVerify",
            "cannot be true with caCertificates, credentialName or subjectAltNames (SIMPLE)");
    }
    if (mutual && (!tls.ca_certificates.empty() || !tls.subject_alt_names.empty())) {
      error(out, field + ".insecureSkipVerify", "cannot be true with caCertificates or subjectAltNames (MUTUAL)");
    }
  }
  if ((simple || mutual) && !tls.credential_name.empty()) {
    if (!tls.client_certificate.empty() || !tls.ca_certificates.empty() || !tls.private_key.empty() ||
        !tls.ca_crl.empty()) {
      error(out, field, "cannot set client certificates, CA certificates or a CA CRL together with credentialName");
    }
    return;
  }
  if (mutual) {
    if (tls.client_certificate.empty()) error(out, field + ".clientCertificate", "is required for MUTUAL");
    if (tls.private_key.empty()) error(out, field + ".privateKey", "is required for MUTUAL");
  }
}

void validateDurations(const std::vector<std::pair<std::string, std::string>>& durations, Findings& out) {
  for (const auto& [name, value] : durations) {
    if (auto err = checkDuration(value); !err.empty()) error(out, name, err);
  }
}

void validateOutlierDetection(const OutlierDetection& outlier, const std::string& field, Findings& out) {
  validateDurations(outlier.durations, out);
  if (outlier.consecutive_errors) {
    warn(out, field + ".consecutiveErrors", "is deprecated: use consecutiveGatewayErrors or consecutive5xxErrors");
  }
  if (!outlier.split_external_local_origin_errors && outlier.consecutive_local_origin_failures > 0) {
    error(out, field + ".consecutiveLocalOriginFailures", "needs splitExternalLocalOriginErrors: true");
  }
  if (outlier.max_ejection_percent > 100) error(out, field + ".maxEjectionPercent", "must be between 0 and 100");
  if (outlier.min_health_percent > 100) error(out, field + ".minHealthPercent", "must be between 0 and 100");
}

bool isPrime(uint64_t x) {
  if (x != 0 && x < 4) return true;
  if ((x & 1) == 0) return false;
  for (uint64_t f = 3; f * f <= x; f += 2) {
    if (x % f == 0) return false;
  }
  return true;
}

void validateLoadBalancer(const LoadBalancer& lb, const std::string& field, Findings& out) {
  const std::string hash = field + ".consistentHash";
  if (lb.http_cookie && lb.http_cookie_name.empty()) error(out, hash + ".httpCookie.name", "is required");
  if (lb.minimum_ring_size) {
    warn(out, hash + ".minimumRingSize", "is deprecated: use ringHash");
    if (lb.hash_algorithm) error(out, hash, "only one of minimumRingSize or maglev/ringHash can be set");
  }
  if (lb.maglev_table_size) {
    const uint32_t size = *lb.maglev_table_size;
    if (size == 0) error(out, hash + ".maglev.tableSize", "must be set");
    if (size >= 5000011) error(out, hash + ".maglev.tableSize", "must be less than 5000011");
    if (!isPrime(size)) error(out, hash + ".maglev.tableSize", "must be a prime number");
  }
  if (lb.locality && lb.zone_aware) error(out, field, "only one of localityLbSetting and zoneAwareLbSetting can be set");
  if (lb.warmup_duration) {
    if (lb.warmup_duration->empty()) {
      error(out, field + ".warmup.duration", "is required");
    } else if (auto err = checkDuration(*lb.warmup_duration); !err.empty()) {
      error(out, field + ".warmup.duration", err);
    }
  }
}

void validateSettings(const TrafficSettings& settings, const std::string& prefix, Findings& out) {
  if (settings.tls) validateClientTls(*settings.tls, prefix + "tls", out);
  if (settings.connection_pool) validateConnectionPool(*settings.connection_pool, prefix + "connectionPool", out);
  if (settings.outlier_detection) validateOutlierDetection(*settings.outlier_detection, prefix + "outlierDetection", out);
  if (settings.load_balancer) validateLoadBalancer(*settings.load_balancer, prefix + "loadBalancer", out);
  for (const auto& [set, name] : {std::pair{settings.connection_pool.has_value(), "connectionPool"},
                                  std::pair{settings.outlier_detection.has_value(), "outlierDetection"},
                                  std::pair{settings.load_balancer.has_value(), "loadBalancer"}}) {
    if (set) {
      warn(out, prefix + name,
           "is not enforced by egressd (it decides at connect() which destinations a workload may reach)");
    }
  }
}

void validateTrafficPolicy(const TrafficPolicy& policy, const std::string& field, Findings& out) {
  const std::string prefix = field.empty() ? "" : field + ".";
  if (!policy.tls && !policy.connection_pool && !policy.outlier_detection && !policy.load_balancer &&
      !policy.port_level_settings_set && !policy.tunnel && !policy.proxy_protocol_version && !policy.retry_budget) {
    error(out, field, "must set at least one field");
    return;
  }
  if (policy.tunnel && policy.proxy_protocol_version) {
    error(out, field, "tunnel and proxyProtocol cannot both be set");
    return;
  }
  validateSettings(policy, prefix, out);
  std::map<uint32_t, size_t> ports;
  for (size_t i = 0; i < policy.port_level_settings.size(); ++i) {
    const PortTrafficPolicy& port = policy.port_level_settings[i];
    const std::string item = at(prefix + "portLevelSettings", i);
    if (!port.port_set) {
      error(out, item + ".port", "is required");
    } else if (port.port < 1 || port.port > 65535) {
      error(out, item + ".port.number", "must be between 1 and 65535, got " + std::to_string(port.port));
    } else if (auto [it, fresh] = ports.emplace(port.port, i); !fresh) {
      error(out, item + ".port.number",
            std::to_string(port.port) + " is already used by " + at(prefix + "portLevelSettings", it->second));
    }
    validateSettings(port, item + ".", out);
  }
  if (policy.tunnel) {
    if (!policy.tunnel_protocol.empty() && policy.tunnel_protocol != "CONNECT" && policy.tunnel_protocol != "POST") {
      error(out, prefix + "tunnel.protocol", "must be CONNECT or POST");
    }
    if (!checkFqdn(policy.tunnel_target_host).empty() && !isIpAddress(policy.tunnel_target_host)) {
      error(out, prefix + "tunnel.targetHost", quoted(policy.tunnel_target_host) + " is not an FQDN or IP address");
    }
    if (policy.tunnel_target_port < 1 || policy.tunnel_target_port > 65535) {
      error(out, prefix + "tunnel.targetPort", "must be between 1 and 65535");
    }
  }
  if (policy.proxy_protocol_version && *policy.proxy_protocol_version != "V1" &&
      *policy.proxy_protocol_version != "V2") {
    error(out, prefix + "proxyProtocol.version", quoted(*policy.proxy_protocol_version) + " is not V1 or V2");
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
    if (rule.workload_selector->empty()) {
      warn(out, "workloadSelector", "has no labels: it selects every workload in the namespace");
    }
    for (const auto& [key, value] : *rule.workload_selector) {
      if (key.empty()) error(out, "workloadSelector.matchLabels", "has an empty key");
    }
  }
  validateExportTo(rule.meta.namespace_, rule.export_to, "exportTo", out);
  // As Istio: a rule with a workloadSelector applies in its own namespace only.
  if (rule.workload_selector) {
    for (size_t i = 0; i < rule.export_to.size(); ++i) {
      const std::string& target = rule.export_to[i];
      if (target != "." && target != rule.meta.namespace_) {
        error(out, at("exportTo", i),
              quoted(target) + ": a DestinationRule with a workloadSelector can only be exported to its own "
                               "namespace (\".\")");
      }
    }
  }
  return out;
}

}  // namespace egressd::policy
