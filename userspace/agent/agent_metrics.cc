// The agent's Prometheus metrics: declared once, policy metrics updated at
// each apply, kernel-derived ones read when /metrics is scraped.
#include <spdlog/spdlog.h>

#include "agent/agent.h"
#include "agent/dns_view.h"
#include "common/abi_names.h"

namespace egressd::agent {

using Type = admin::MetricsRegistry::Type;

void Agent::describeMetrics() {
  metrics_.describe("egressd_policy_generation", Type::kGauge, "Generation of the policy in the kernel maps.");
  metrics_.describe("egressd_policy_sync_seconds", Type::kHistogram,
                    "Time from a policy change being read to the maps holding it.",
                    {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1});
  metrics_.describe("egressd_rejected_objects", Type::kGauge,
                    "Objects rejected by validation in the current policy, by kind.");
  metrics_.describe("egressd_policy_warnings", Type::kGauge, "Accepted objects with analyzer warnings, by kind.");
  metrics_.describe("egressd_workloads", Type::kGauge, "Local workloads by state (enforced or unresolved).");
  metrics_.describe("egressd_scopes", Type::kGauge, "Policy scopes (namespace + Sidecar) in the kernel.");
  metrics_.describe("egressd_bpf_map_entries", Type::kGauge, "Entries in each pinned BPF map.");
  metrics_.describe("egressd_bpf_map_capacity", Type::kGauge, "max_entries of each pinned BPF map.");
  metrics_.describe("egressd_verdicts_total", Type::kCounter,
                    "Kernel decisions at connect()/sendmsg(), by hook, verdict and reason.");
  metrics_.describe("egressd_dns_learned_ips", Type::kGauge,
                    "(scope, IP) pairs learned from DNS answers and not expired.");
  metrics_.describe("egressd_dns_events_total", Type::kCounter,
                    "DNS learning events in the kernel and agent, by event (learned, rejected and why, punted).");
  metrics_.describe("egressd_dns_evictions_estimate", Type::kGauge,
                    "Learned entries pushed out of the full LRU map: entries created minus entries present.");
  metrics_.describe("egressd_map_sync_errors", Type::kGauge, "Map writes that failed in the last apply.");
}

void Agent::recordApply(const AppliedPolicy& applied) {
  metrics_.setGauge("egressd_policy_generation", {}, static_cast<double>(applied.generation));
  metrics_.observe("egressd_policy_sync_seconds", {}, applied.sync_seconds);
  metrics_.clear("egressd_rejected_objects");
  // Every kind is always present so dashboards see a zero, not a gap.
  std::map<std::string, double> rejected{{"ServiceEntry", 0}, {"Sidecar", 0}, {"MeshConfig", 0}, {"Workload", 0}};
  for (const auto& r : applied.rejected) rejected[r.kind] += 1;
  for (const auto& [kind, count] : rejected) metrics_.setGauge("egressd_rejected_objects", {{"kind", kind}}, count);
  metrics_.clear("egressd_policy_warnings");
  std::map<std::string, double> warned;
  for (const auto& w : applied.warnings) warned[w.kind] += 1;
  for (const auto& [kind, count] : warned) metrics_.setGauge("egressd_policy_warnings", {{"kind", kind}}, count);
  metrics_.setGauge("egressd_workloads", {{"state", "enforced"}}, static_cast<double>(applied.workload_cgroups.size()));
  metrics_.setGauge("egressd_workloads", {{"state", "unresolved"}},
                    static_cast<double>(applied.unresolved_workloads.size()));
  metrics_.setGauge("egressd_scopes", {}, static_cast<double>(applied.compiled.scopes.size()));
  metrics_.setGauge("egressd_map_sync_errors", {}, static_cast<double>(applied.sync_errors.size()));
}

void Agent::refreshKernelMetrics() {
  for (const auto& fill : datapath_->mapFill()) {
    metrics_.setGauge("egressd_bpf_map_entries", {{"map", fill.name}}, fill.entries);
    metrics_.setGauge("egressd_bpf_map_capacity", {{"map", fill.name}}, fill.capacity);
  }
  refreshDnsMetrics();
  auto counters = datapath_->readCounters();
  if (!counters) {
    spdlog::warn("reading verdict counters: {}", counters.error());
    return;
  }
  for (const auto& c : *counters) {
    for (auto [verdict, value] : {std::pair{EGRESSD_VERDICT_ALLOWED, c.allowed}, std::pair{EGRESSD_VERDICT_DENIED, c.denied}}) {
      if (value == 0) continue;
      metrics_.setCounter("egressd_verdicts_total",
                          {{"hook", std::string(hookName(c.hook))},
                           {"verdict", std::string(verdictName(verdict))},
                           {"reason", std::string(reasonName(c.reason))}},
                          static_cast<double>(value));
    }
  }
}

}  // namespace egressd::agent

namespace egressd::agent {

void Agent::refreshDnsMetrics() {
  auto learned = datapath_->readDnsLearned();
  auto counters = datapath_->readDnsCounters();
  if (!learned || !counters) {
    spdlog::warn("reading DNS maps: {}", !learned ? learned.error() : counters.error());
    return;
  }
  const uint64_t now = bootTimeNs();
  const auto live = std::count_if(learned->begin(), learned->end(),
                                  [&](const auto& e) { return e.value.expires_ns > now; });
  metrics_.setGauge("egressd_dns_learned_ips", {}, static_cast<double>(live));
  for (uint32_t i = 0; i < EGRESSD_DNS_COUNTER_COUNT; ++i) {
    uint64_t value = (*counters)[i];
    metrics_.setCounter("egressd_dns_events_total", {{"event", std::string(dnsCounterName(static_cast<egressd_dns_counter>(i)))}},
                        static_cast<double>(value));
  }
  for (const auto& [event, value] : punt_stats_.snapshot()) {
    metrics_.setCounter("egressd_dns_events_total", {{"event", event}}, static_cast<double>(value));
  }
  // An LRU evicts silently: every created entry is either present or was
  // evicted (the agent deletes none), so the difference counts evictions.
  const uint64_t created = (*counters)[EGRESSD_DNS_NEW_ENTRIES] + punt_stats_.created();
  const uint64_t present = learned->size();
  metrics_.setGauge("egressd_dns_evictions_estimate", {}, created > present ? static_cast<double>(created - present) : 0);
}

}  // namespace egressd::agent
