#pragma once
// The agent: opens the datapath, serves the admin API, and keeps the kernel
// maps equal to the compiled policy of --policy-dir, reloading on change.
#include <atomic>
#include <memory>
#include <set>

#include "admin/admin_server.h"
#include "admin/metrics.h"
#include "agent/agent_state.h"
#include "agent/access_log.h"
#include "agent/dns_punt_reader.h"
#include "agent/flow_event_reader.h"
#include "agent/flow_view.h"
#include "agent/endpoint_resolver.h"
#include "agent/options.h"
#include "agent/tc_attachments.h"
#include "agent/workload_cgroups.h"
#include "bpf/datapath.h"
#include "bpf/unique_fd.h"
#include "common/result.h"
#include "compiler/compiler.h"
#include "compiler/entry_cache.h"
#include "kube/policy_source.h"
#include "policy/parser.h"
#include "policy/policy_store.h"
#include "sources/cgroup_watcher.h"
#include "sync/mirrored_map_backend.h"

namespace egressd::agent {

class Agent {
 public:
  explicit Agent(AgentOptions options);
  ~Agent();

  // Attaches the programs, serves the admin API and applies the policy once.
  Status start();
  // Reloads on every change of the policy directory until `stop` is set.
  void run(const std::atomic<bool>& stop);

  // Reads the policy directory and brings the maps to it. Public for tests.
  void reload();

 private:
  Status startSteps();
  // After a failed start: the kernel as this start found it (agent.cc).
  void undoFailedStart();
  void registerRoutes();
  void describeMetrics();
  void refreshKernelMetrics();
  void refreshDnsMetrics();
  void refreshFlowMetrics();
  LearnedClasses learnedClasses();
  nlohmann::json flowsJson(const std::map<std::string, std::string>& query);
  nlohmann::json suggestJson();
  void recordApply(const AppliedPolicy& applied);
  void reconcileTc();
  void logSyncErrors(const std::vector<std::string>& errors);
  void warnOfFullMaps();
  bool kubeMode() const { return !options_.kubeconfig.empty() || options_.in_cluster; }
  Status startKubeSource();  // Kubernetes mode only (agent_kube.cc)
  void waitForKubeSync();
  void refreshKubeMetrics();
  // Cgroups (agent.cc): the watcher's set and the kernel's pods parents and
  // backstops follow the workloads' cgroups.
  void onCgroupDirectories();
  void followCgroups(const WorkloadCgroups& cgroups);
  void logNotEnforced(const std::vector<compiler::NotEnforced>& left_out);
  size_t notEnforcedCount() const {
    auto applied = state_.current();
    return applied ? applied->not_enforced.size() : 0;
  }
  std::vector<std::string> syncPodsParents(const WorkloadCgroups& cgroups,
                                           const std::map<std::string, std::string>& excluded);
  void syncBackstops();

  AgentOptions options_;
  compiler::CompileOptions compile_options_;
  compiler::EntryCache entry_cache_;  // unchanged ServiceEntries are not compiled again
  std::unique_ptr<bpf::Datapath> datapath_;
  std::unique_ptr<MirroredMapBackend> maps_;  // the policy maps, as last written
  policy::PolicyDirReader policy_reader_;
  policy::PolicyStore store_;
  AgentState state_;
  admin::MetricsRegistry metrics_;
  admin::AdminServer admin_;
  dns::PuntStats punt_stats_;
  dns::AnswerObservations answer_observations_;  // audit workloads' unregistered names, for suggest
  std::unique_ptr<DnsPuntReader> punt_reader_;
  std::unique_ptr<EndpointResolver> endpoint_resolver_;
  std::unique_ptr<AccessLog> access_log_;
  RecentEvents recent_events_;  // for egressctl observe
  std::unique_ptr<FlowEventReader> flow_reader_;
  std::unique_ptr<TcAttachments> tc_;  // null with --tc-mode off
  std::vector<TcWorkload> tc_workloads_;
  std::unique_ptr<sources::CgroupWatcher> cgroup_watcher_;  // null if inotify failed: polling only
  WorkloadCgroups cgroups_;  // as last applied
  bpf::UniqueFd bpf_stats_fd_;  // keeps kernel BPF run-time stats on while held
  // Monotonic connection counters over an LRU map whose entries come and go:
  // the last value seen per flow, and the running totals per label set.
  std::mutex flow_metrics_mutex_;
  std::map<std::string, egressd_flow_value> flow_last_;
  std::map<admin::Labels, double> connection_totals_;
  std::map<admin::Labels, double> istio_opened_;
  std::map<admin::Labels, double> istio_closed_;
  std::atomic<bool> ready_{false};
  uint64_t generation_ = 0;
  bool has_unresolved_workloads_ = false;
  // Kubernetes mode: the pod cgroup this agent runs in (from POD_UID), left
  // alone from the start (EGRESSD_PODS_EXCLUDED), before its own Pod is
  // listed: its own requests to the API must not be an unknown workload's.
  // 0: none.
  uint64_t own_cgroup_id_ = 0;
  // Kubernetes mode: the API source (null with only --policy-dir). Last, so
  // its threads stop before the metrics they report to go away.
  std::unique_ptr<kube::KubePolicySource> kube_source_;
  bool api_state_applied_ = false;
  bool start_attached_fresh_ = false;
  std::set<std::string> full_maps_;  // maps at 80% or more, said once  // no earlier agent's pins: a failed start detaches all
};

}  // namespace egressd::agent
