// The agent's Prometheus metrics: declared once, policy metrics updated at
// each apply, kernel-derived ones read when /metrics is scraped.
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <cstring>

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
  metrics_.describe("egressd_gateway_route_issues", Type::kGauge,
                    "Egress gateway routes the kernel cannot follow faithfully, by kind of object.");
  metrics_.describe("egressd_policy_warnings", Type::kGauge, "Accepted objects with analyzer warnings, by kind.");
  metrics_.describe("egressd_workloads", Type::kGauge, "Workloads (local ones and pods) by state: enforced, unresolved (waiting for a cgroup) or excluded "
                    "(pods left alone).");
  metrics_.describe("egressd_scopes", Type::kGauge, "Policy scopes (namespace + Sidecar) in the kernel.");
  metrics_.describe("egressd_tc_interfaces", Type::kGauge,
                    "Workload host-side interfaces with the TC backstop attached, or pending (no process, host network).");
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
  metrics_.describe("egressd_objects_not_enforced", Type::kGauge,
                    "Objects left out of a full map in the last apply, by kind and map (older objects keep their "
                    "place; egressctl status names them).");
  metrics_.describe("egressd_bpf_map_fill_ratio", Type::kGauge, "Map pressure: entries / capacity per map.");
  metrics_.describe("egressd_connections_total", Type::kCounter,
                    "connect()/sendmsg() decisions per workload and destination; destination_host is the "
                    "ServiceEntry or learned host, else PassthroughCluster (allowed) or BlackHoleCluster (denied).");
  metrics_.describe("egressd_flow_bytes_total", Type::kCounter,
                    "Bytes per workload and destination host counted by TC, by direction.");
  metrics_.describe("egressd_backstop_dropped_packets_total", Type::kCounter,
                    "Packets the TC backstop dropped per workload: raw/packet-socket traffic to denied destinations.");
  metrics_.describe("egressd_flows_evictions_estimate", Type::kGauge,
                    "Flows pushed out of the full LRU map: flows created minus flows present.");
  metrics_.describe("egressd_flow_events_total", Type::kCounter,
                    "Kernel flow events: submitted, dropped (ring full), rate_limited; TC backstop drops and audits.");
  metrics_.describe("egressd_gateway_redirect_fallbacks_total", Type::kCounter,
                    "Redirects whose socket-cookie slot another socket held: state kept in the LRU map (slower connect).");
  metrics_.describe("egressd_udp_connect_slot_fallbacks_total", Type::kCounter,
                    "Allowed UDP connects whose socket-cookie slot another socket held: recorded at connect, not at the first send.");
  metrics_.describe("egressd_access_log_lines_total", Type::kCounter, "Access-log lines written or suppressed by the rate limit.");
  if (options_.bpf_run_stats) {
    metrics_.describe("egressd_bpf_program_runs_total", Type::kCounter, "Program runs (kernel BPF stats).");
    metrics_.describe("egressd_bpf_program_run_seconds_total", Type::kCounter,
                      "Time spent in each program (kernel BPF stats).");
  }
  if (options_.istio_metrics) {
    metrics_.describe("istio_tcp_connections_opened_total", Type::kCounter,
                      "TCP connections opened, as Istio's sidecar reports them (reporter=source).");
    metrics_.describe("istio_tcp_connections_closed_total", Type::kCounter,
                      "TCP connections closed (sockets released), as Istio's sidecar reports them.");
    metrics_.describe("istio_tcp_sent_bytes_total", Type::kCounter,
                      "Bytes sent on TCP flows (IP bytes counted by TC), as Istio's sidecar reports them.");
    metrics_.describe("istio_tcp_received_bytes_total", Type::kCounter,
                      "Bytes received on TCP flows (IP bytes counted by TC), as Istio's sidecar reports them.");
  }
}

void Agent::recordApply(const AppliedPolicy& applied) {
  metrics_.setGauge("egressd_policy_generation", {}, static_cast<double>(applied.generation));
  metrics_.observe("egressd_policy_sync_seconds", {}, applied.sync_seconds);
  // Every kind is always present so dashboards see a zero, not a gap.
  std::map<admin::Labels, double> rejected;
  for (const char* kind : {"ServiceEntry", "Sidecar", "MeshConfig", "Workload"}) rejected[{{"kind", kind}}] = 0;
  for (const auto& r : applied.rejected) rejected[{{"kind", r.kind}}] += 1;
  metrics_.replaceGauges("egressd_rejected_objects", rejected);
  std::map<admin::Labels, double> warned;
  for (const auto& w : applied.warnings) warned[{{"kind", w.kind}}] += 1;
  metrics_.replaceGauges("egressd_policy_warnings", warned);
  std::map<admin::Labels, double> route_issues;
  for (const char* kind : {"VirtualService", "Service", "ServiceEntry", "Workload"}) route_issues[{{"kind", kind}}] = 0;
  for (const auto& i : applied.compiled.gateway_issues)
    route_issues[{{"kind", i.object.substr(0, i.object.find(' '))}}] += 1;
  metrics_.replaceGauges("egressd_gateway_route_issues", route_issues);
  metrics_.setGauge("egressd_workloads", {{"state", "enforced"}}, static_cast<double>(applied.workload_cgroups.size()));
  metrics_.setGauge("egressd_workloads", {{"state", "unresolved"}},
                    static_cast<double>(applied.unresolved_workloads.size()));
  metrics_.setGauge("egressd_workloads", {{"state", "excluded"}},
                    static_cast<double>(applied.compiled.excluded_pods.size()));
  metrics_.setGauge("egressd_scopes", {}, static_cast<double>(applied.compiled.scopes.size()));
  metrics_.setGauge("egressd_map_sync_errors", {}, static_cast<double>(applied.sync_errors.size()));
  std::map<admin::Labels, double> not_enforced;
  for (const char* map : {"dest_prefixes", "dest_ports", "dns_names"}) not_enforced[{{"kind", "ServiceEntry"}, {"map", map}}] = 0;
  for (const char* map : {"workloads", "scopes", "pods_parents"}) not_enforced[{{"kind", "Workload"}, {"map", map}}] = 0;
  for (const auto& n : applied.not_enforced) not_enforced[{{"kind", n.kind}, {"map", n.map}}] += 1;
  metrics_.replaceGauges("egressd_objects_not_enforced", not_enforced);
}

void Agent::refreshKernelMetrics() {
  for (const auto& fill : datapath_->mapFill()) {
    metrics_.setGauge("egressd_bpf_map_entries", {{"map", fill.name}}, fill.entries);
    metrics_.setGauge("egressd_bpf_map_capacity", {{"map", fill.name}}, fill.capacity);
    metrics_.setGauge("egressd_bpf_map_fill_ratio", {{"map", fill.name}},
                      fill.capacity ? double(fill.entries) / fill.capacity : 0);
  }
  // Without --bpf-run-stats the kernel counts nothing (or only for whoever
  // turned the stats on): no series rather than misleading ones.
  if (options_.bpf_run_stats) {
    for (const auto& p : datapath_->programs()) {
      metrics_.setCounter("egressd_bpf_program_runs_total", {{"program", p.name}}, double(p.run_cnt));
      metrics_.setCounter("egressd_bpf_program_run_seconds_total", {{"program", p.name}},
                          double(p.run_time_ns) / 1e9);
    }
  }
  if (tc_) {
    double attached = 0, pending = 0;
    for (const auto& t : tc_->status()) (t.pending.empty() ? attached : pending) += 1;
    metrics_.setGauge("egressd_tc_interfaces", {{"state", "attached"}}, attached);
    metrics_.setGauge("egressd_tc_interfaces", {{"state", "pending"}}, pending);
  }
  refreshDnsMetrics();
  refreshFlowMetrics();
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

namespace egressd::agent {

LearnedClasses Agent::learnedClasses() {
  return [this](uint32_t scope_id, const uint8_t(&addr)[16]) {
    egressd_dns_learned_key key{};
    key.scope_id = scope_id;
    std::memcpy(key.addr, addr, sizeof(key.addr));
    std::vector<uint32_t> out;
    auto value = datapath_->lookupDnsLearned(key);
    if (value && *value) {
      for (uint32_t id : (*value)->class_ids)
        if (id) out.push_back(id);
    }
    return out;
  };
}

// The flows map is an LRU: entries vanish and reappear with fresh counts. The
// totals add each flow's growth since the last read, so they only go up.
void Agent::refreshFlowMetrics() {
  auto flows = datapath_->readFlows();
  auto counters = datapath_->readFlowCounters();
  if (!flows || !counters) {
    spdlog::warn("reading flows: {}", !flows ? flows.error() : counters.error());
    return;
  }
  auto applied = state_.current();
  const auto learned = learnedClasses();
  std::lock_guard lock(flow_metrics_mutex_);
  std::map<std::string, egressd_flow_value> seen;
  for (const auto& f : *flows) {
    const std::string id(reinterpret_cast<const char*>(&f.key), sizeof(f.key));
    egressd_flow_value prev{};
    if (auto it = flow_last_.find(id); it != flow_last_.end() && it->second.last_seen_ns <= f.value.last_seen_ns &&
                                       it->second.connects_allowed <= f.value.connects_allowed)
      prev = it->second;
    seen[id] = f.value;
    const FlowLabels l = describeFlow(applied.get(), f.key.cgroup_id, f.key.addr, f.key.port, f.key.protocol,
                                      f.value.scope_id, learned);
    const std::pair<egressd_verdict, uint64_t> deltas[] = {
        {EGRESSD_VERDICT_ALLOWED, f.value.connects_allowed - prev.connects_allowed},
        {EGRESSD_VERDICT_DENIED, f.value.connects_denied - prev.connects_denied},
        {EGRESSD_VERDICT_REDIRECTED, f.value.connects_redirected - prev.connects_redirected},
        {EGRESSD_VERDICT_AUDIT, f.value.connects_audited - prev.connects_audited}};
    for (const auto& [verdict, delta] : deltas) {
      if (!delta) continue;
      const std::string host = destinationService(l, verdict);
      connection_totals_[{{"source_namespace", l.namespace_},
                          {"source_workload", l.source_workload},
                          {"destination_host", host},
                          {"destination_port", std::to_string(l.port)},
                          {"protocol", l.protocol},
                          {"verdict", std::string(verdictName(verdict))}}] += double(delta);
      if (options_.istio_metrics && f.key.protocol == IPPROTO_TCP) {
        istio_opened_[{{"reporter", "source"},
                       {"source_workload", l.source_workload},
                       {"source_workload_namespace", l.namespace_},
                       {"destination_service_name", host},
                       {"destination_port", std::to_string(l.port)}}] += double(delta);
      }
    }
    if (options_.istio_metrics && f.key.protocol == IPPROTO_TCP && f.value.closes > prev.closes) {
      const auto verdict = f.value.connects_denied && !f.value.connects_allowed ? EGRESSD_VERDICT_DENIED
                                                                                : EGRESSD_VERDICT_ALLOWED;
      istio_closed_[{{"reporter", "source"},
                     {"source_workload", l.source_workload},
                     {"source_workload_namespace", l.namespace_},
                     {"destination_service_name", destinationService(l, verdict)},
                     {"destination_port", std::to_string(l.port)}}] += double(f.value.closes - prev.closes);
    }
    const std::pair<const char*, uint64_t> bytes[] = {{"out", f.value.bytes_out - prev.bytes_out},
                                                      {"in", f.value.bytes_in - prev.bytes_in}};
    for (const auto& [direction, delta] : bytes) {
      if (!delta) continue;
      metrics_.addCounter("egressd_flow_bytes_total",
                          {{"source_namespace", l.namespace_},
                           {"source_workload", l.source_workload},
                           {"destination_host", destinationService(l, EGRESSD_VERDICT_ALLOWED)},
                           {"direction", direction}},
                          double(delta));
      if (options_.istio_metrics && f.key.protocol == IPPROTO_TCP)
        metrics_.addCounter(std::string(direction) == "out" ? "istio_tcp_sent_bytes_total" : "istio_tcp_received_bytes_total",
                            {{"reporter", "source"},
                             {"source_workload", l.source_workload},
                             {"source_workload_namespace", l.namespace_},
                             {"destination_service_name", destinationService(l, EGRESSD_VERDICT_ALLOWED)},
                             {"destination_port", std::to_string(l.port)}},
                            double(delta));
    }
    if (const uint64_t dropped = f.value.packets_dropped - prev.packets_dropped; dropped)
      metrics_.addCounter("egressd_backstop_dropped_packets_total",
                          {{"source_namespace", l.namespace_}, {"source_workload", l.source_workload}}, double(dropped));
  }
  flow_last_ = std::move(seen);
  for (const auto& [labels, value] : connection_totals_) metrics_.setCounter("egressd_connections_total", labels, value);
  for (const auto& [labels, value] : istio_opened_) metrics_.setCounter("istio_tcp_connections_opened_total", labels, value);
  for (const auto& [labels, value] : istio_closed_) metrics_.setCounter("istio_tcp_connections_closed_total", labels, value);
  // Every flow created is present or was evicted (the agent deletes none).
  const uint64_t created = (*counters)[EGRESSD_FLOW_NEW_ENTRIES];
  metrics_.setGauge("egressd_flows_evictions_estimate", {},
                    created > flows->size() ? double(created - flows->size()) : 0);
  const std::pair<const char*, egressd_flow_counter> events[] = {
      {"submitted", EGRESSD_FLOW_EVENTS}, {"dropped", EGRESSD_FLOW_EVENTS_DROPPED},
      {"rate_limited", EGRESSD_FLOW_EVENTS_LIMITED}, {"tc_dropped", EGRESSD_FLOW_TC_DROPPED},
      {"tc_audited", EGRESSD_FLOW_TC_AUDITED}};
  for (const auto& [name, index] : events)
    metrics_.setCounter("egressd_flow_events_total", {{"event", name}}, double((*counters)[index]));
  metrics_.setCounter("egressd_gateway_redirect_fallbacks_total", {},
                      double((*counters)[EGRESSD_FLOW_REDIRECT_FALLBACK]));
  metrics_.setCounter("egressd_udp_connect_slot_fallbacks_total", {},
                      double((*counters)[EGRESSD_FLOW_UDP_PENDING_FALLBACK]));
  if (access_log_) {
    metrics_.setCounter("egressd_access_log_lines_total", {{"state", "written"}}, double(access_log_->written()));
    metrics_.setCounter("egressd_access_log_lines_total", {{"state", "suppressed"}}, double(access_log_->suppressed()));
  }
}

}  // namespace egressd::agent
