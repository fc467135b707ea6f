#include "policy/validation.h"

#include <cctype>
#include <cmath>
#include <map>
#include <string>
#include <utility>

#include "policy/findings.h"
#include "policy/hosts.h"

namespace egressd::policy {
namespace {

using findings::at;
using findings::error;
using findings::quoted;
using findings::warn;

}  // namespace

void validateSelector(const std::optional<std::map<std::string, std::string>>& selector, Findings& out) {
  if (!selector) return;
  if (selector->empty()) {
    warn(out, "workloadSelector", "has no labels: it selects every workload in the namespace");
  }
  for (const auto& [key, value] : *selector) {
    if (key.empty()) error(out, "workloadSelector.labels", "has an empty key");
    if (key.find('*') != std::string::npos || value.find('*') != std::string::npos) {
      error(out, "workloadSelector.labels." + key,
            "wildcards are not supported in selectors (" + key + "=" + value + ")");
    }
  }
}

Findings validateMeta(const ObjectMeta& meta) {
  Findings out;
  if (meta.name.empty()) {
    error(out, "metadata.name", "is required");
  } else if (!isObjectName(meta.name)) {
    error(out, "metadata.name", quoted(meta.name) + " is not a valid name (lower-case DNS-1123 subdomain)");
  }
  if (!isNamespaceName(meta.namespace_)) {
    error(out, "metadata.namespace", quoted(meta.namespace_) + " is not a valid namespace name");
  }
  return out;
}

void validateExportTo(const std::string& own_namespace, const std::vector<std::string>& export_to,
                      const std::string& field, Findings& out, ExportToNone none) {
  std::map<std::string, std::string> seen;  // namespace it names -> entry as written
  for (size_t i = 0; i < export_to.size(); ++i) {
    const std::string& entry = export_to[i];
    const std::string key = entry == "." ? own_namespace : entry;
    if (auto [it, fresh] = seen.emplace(key, entry); !fresh) {
      if (it->second != entry) {
        error(out, at(field, i), "\".\" and the own namespace " + quoted(own_namespace) + " are the same entry");
      } else {
        error(out, at(field, i), quoted(entry) + " is listed twice");
      }
      continue;
    }
    if (entry == "~" && none == ExportToNone::kRejected) {
      error(out, at(field, i), "\"~\" (no one) is allowed in a ServiceEntry's exportTo only");
    } else if (entry != "." && entry != "*" && entry != "~" && !isNamespaceName(entry)) {
      error(out, at(field, i), quoted(entry) + " must be \".\", \"*\", \"~\" or a namespace name");
    }
  }
  if (export_to.size() > 1 && seen.count("*") != 0) {
    error(out, field, "\"*\" (everyone) cannot be combined with other entries");
  }
  if (export_to.size() > 1 && seen.count("~") != 0) {
    error(out, field, "\"~\" (no one) cannot be combined with other entries");
  }
}

namespace {

// kAuditLabel takes "true" or "false"; anything else is a typo to report.
bool auditLabelValid(const ObjectMeta& meta) {
  auto it = meta.labels.find(kAuditLabel);
  return it == meta.labels.end() || it->second == "true" || it->second == "false";
}

std::string auditLabelProblem(const ObjectMeta& meta) {
  return quoted(meta.labels.at(kAuditLabel)) + " is not \"true\" or \"false\"";
}

}  // namespace

Findings validateWorkload(const Workload& workload) {
  Findings out = validateMeta(workload.meta);
  if (workload.cgroup.empty()) error(out, "spec.cgroup", "is required (absolute, or relative to --cgroup-root)");
  // A warning, not a rejection: rejecting the Workload would leave it
  // unenforced; the label reads as not set (its Namespace, or --audit, decide).
  if (!auditLabelValid(workload.meta)) {
    warn(out, std::string("metadata.labels.") + kAuditLabel, auditLabelProblem(workload.meta) + ": ignored");
  }
  return out;
}

Findings validateNamespace(const Namespace& ns) {
  Findings out;
  if (ns.meta.name.empty()) {
    error(out, "metadata.name", "is required");
  } else if (!isNamespaceName(ns.meta.name)) {
    error(out, "metadata.name", quoted(ns.meta.name) + " is not a valid namespace name");
  }
  // Rejected: the namespace's previous valid version (or no audit) stays.
  if (!auditLabelValid(ns.meta)) error(out, std::string("metadata.labels.") + kAuditLabel, auditLabelProblem(ns.meta));
  return out;
}

Findings validateMeshConfig(const MeshConfig& mesh) {
  Findings out;
  if (!isNamespaceName(mesh.root_namespace)) {
    error(out, "rootNamespace", quoted(mesh.root_namespace) + " is not a valid namespace name");
  }
  const std::pair<const char*, const std::vector<std::string>*> defaults[] = {
      {"defaultServiceExportTo", &mesh.default_service_export_to},
      {"defaultVirtualServiceExportTo", &mesh.default_virtual_service_export_to},
      {"defaultDestinationRuleExportTo", &mesh.default_destination_rule_export_to}};
  for (const auto& [field, list] : defaults) {
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string& entry = (*list)[i];
      if (entry != "." && entry != "*" && entry != "~" && !isNamespaceName(entry)) {
        error(out, at(field, i), quoted(entry) + " must be \".\", \"*\", \"~\" or a namespace name");
      }
    }
  }
  return out;
}

}  // namespace egressd::policy

namespace egressd::policy {
namespace {

// A duration as Istio's CRDs take it (Go's time.ParseDuration: "1.5s",
// "100ms", "1h30m"), in nanoseconds; nullopt if it does not parse.
std::optional<long double> parseDuration(const std::string& text) {
  static const std::pair<const char*, long double> kUnits[] = {
      {"ns", 1}, {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  if (i == text.size()) return std::nullopt;
  if (text.substr(i) == "0") return 0;
  long double total = 0;
  while (i < text.size()) {
    const size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    const long double value = std::stold(text.substr(start, i - start));
    size_t best = 0;
    long double scale = 0;
    for (const auto& [unit, ns] : kUnits) {
      const size_t n = std::char_traits<char>::length(unit);
      if (text.compare(i, n, unit) == 0 && n > best) {
        best = n;
        scale = ns;
      }
    }
    if (best == 0) return std::nullopt;
    total += value * scale;
    i += best;
  }
  return negative ? -total : total;
}

}  // namespace

std::string checkDuration(const std::string& text) {
  const auto ns = parseDuration(text);
  if (!ns) return quoted(text) + " is not a duration (e.g. \"1s\", \"100ms\")";
  if (*ns < 1e6) return quoted(text) + ": duration must be at least 1ms";
  if (std::fmod(*ns, 1e6L) != 0) return quoted(text) + ": only durations to ms precision are supported";
  return {};
}

void validateConnectionPool(const ConnectionPool& pool, const std::string& field, Findings& out) {
  if (!pool.http && !pool.tcp) error(out, field, "must set http or tcp (connection pool must have at least one field)");
  for (const auto& [name, value] : pool.durations) {
    if (auto err = checkDuration(value); !err.empty()) error(out, name, err);
  }
  if (pool.h2_upgrade && pool.use_client_protocol) {
    error(out, field + ".http.useClientProtocol", "must not be true when h2UpgradePolicy is UPGRADE");
  }
  if (pool.http2_keepalive) {
    for (const auto& [name, value] : {std::pair<std::string, std::string>{"interval", pool.http2_keepalive_interval},
                                      {"timeout", pool.http2_keepalive_timeout}}) {
      const std::string f = field + ".http.http2KeepAlive." + name;
      if (value.empty()) {
        error(out, f, "is required");
      } else if (auto err = checkDuration(value); !err.empty()) {
        error(out, f, err);
      }
    }
  }
}

}  // namespace egressd::policy
