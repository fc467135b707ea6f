#include "agent/agent.h"

#include <bpf/bpf.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <chrono>
#include <filesystem>
#include <set>

#include "agent/api_routes.h"
#include "agent/option_checks.h"
#include "agent/workload_cgroups.h"
#include "bpf/bpffs.h"
#include "kube/pod_cgroups.h"
#include "policy/describe.h"
#include "policy/parser.h"
#include "sources/dir_watcher.h"
#include "sources/resolv_conf.h"
#include "sync/map_sync.h"

namespace egressd::agent {
namespace {

using Clock = std::chrono::steady_clock;

// While a workload's cgroup does not exist yet, look again this often.
constexpr auto kUnresolvedRetry = std::chrono::milliseconds(1000);
// Workload processes, network namespaces and interfaces come and go without
// a policy change: the TC attachments are checked this often.
constexpr auto kTcRecheck = std::chrono::milliseconds(1000);
// After a workload's first process appears, its network namespace may still
// change (a runtime moves it into the cgroup, then into the pod's
// namespace): look again this often for a while.
constexpr auto kTcRecheckFast = std::chrono::milliseconds(50);
constexpr auto kTcFastFor = std::chrono::milliseconds(3000);

bpf::TcMode tcModeFromOption(const std::string& mode) {
  if (mode == "tcx") return bpf::TcMode::kTcx;
  if (mode == "clsact") return bpf::TcMode::kClsact;
  return bpf::TcMode::kAuto;
}

}  // namespace

Agent::Agent(AgentOptions options) : options_(std::move(options)), policy_reader_(options_.policy_dir) {
  std::vector<std::string> dns = options_.dns_servers;
  if (dns.empty()) dns = sources::nameserversFromResolvConf();
  for (const auto& text : dns) {
    // Flags were checked at start (checkAgentOptions); a resolv.conf entry
    // that is not an IP (a scoped fe80::1%eth0) is left out, saying so.
    if (auto server = parseDnsServerFlag(text); server)
      compile_options_.dns_servers.push_back(*server);
    else
      spdlog::error("resolv.conf nameserver {}: not an IP address; ignored", text);
  }
  compile_options_.cluster_cidrs = options_.cluster_cidrs;
  compile_options_.audit = options_.audit;
  compile_options_.exclude_namespaces = options_.exclude_namespaces;
  compile_options_.own_pod = options_.own_pod;
}

Agent::~Agent() {
  recent_events_.close();  // long polls return before the admin server stops
  admin_.stop();
  punt_reader_.reset();  // before the datapath it reads
  flow_reader_.reset();
}

Status Agent::start() {
  Status started = startSteps();
  if (!started) undoFailedStart();
  return started;
}

// What a start attached it takes back when it fails: a fresh attach is
// undone (detached, unpinned); a previous agent's adopted state keeps
// enforcing, untouched; an upgrade's staged maps are removed while the old
// programs keep enforcing on theirs.
void Agent::undoFailedStart() {
  admin_.stop();
  kube_source_.reset();
  punt_reader_.reset();
  flow_reader_.reset();
  tc_.reset();
  if (!datapath_) return;
  const bool staged = datapath_->staged();  // still staged: the old programs are live
  const bool fresh = start_attached_fresh_;
  maps_.reset();
  datapath_.reset();
  if (staged) {
    if (Status s = bpf::removePinDir(bpf::stagingDir(options_.bpffs)); !s)
      spdlog::error("failed start: staged upgrade not removed: {}", s.error());
    else
      spdlog::info("failed start: staged upgrade removed; the running programs keep enforcing");
  } else if (fresh) {
    if (Status s = bpf::unpinAll(options_.bpffs); !s)
      spdlog::error("failed start: could not detach what it attached: {} (egressd --uninstall removes it)", s.error());
    else
      spdlog::info("failed start: detached the programs it attached and removed their pins");
  } else {
    spdlog::info("failed start: the programs and maps in place keep enforcing");
  }
}

Status Agent::startSteps() {
  // Pods are found by their cgroup v2 directory: a v1 node is refused here,
  // with its reason, rather than by the datapath's attach.
  if (kubeMode()) {
    const std::string root = options_.cgroup_root.empty() ? bpf::cgroup2MountRoot() : options_.cgroup_root;
    if (Status s = kube::checkPodCgroupRootIsV2(root); !s) return s;
  }
  // A taken admin port fails the start before anything is attached.
  if (Status s = admin_.bind(options_.admin_addr); !s) return s;
  bpf::DatapathOptions datapath_options;
  datapath_options.bpffs_dir = options_.bpffs;
  datapath_options.cgroup_root = options_.cgroup_root;
  datapath_options.dns_min_ttl_s = options_.dns_min_ttl_s;
  datapath_options.dns_max_ttl_s = options_.dns_max_ttl_s;
  datapath_options.flow_stats = options_.flow_stats;
  // An upgrade goes live only after the first sync below has filled its maps.
  datapath_options.stage_upgrade = true;
  datapath_options.raw_socket_gate = options_.tc_mode != "off";
  datapath_options.fail_open = options_.fail_mode == "open";
  if (datapath_options.fail_open)
    spdlog::warn("--fail-mode open: a workload whose state is missing is audited (allowed, recorded), not denied");
  auto datapath = bpf::Datapath::open(datapath_options);
  if (!datapath) return fail(datapath.error());
  datapath_ = std::move(datapath.value());
  start_attached_fresh_ = !datapath_->adopted() && !datapath_->staged();
  maps_ = std::make_unique<MirroredMapBackend>(datapath_->maps());
  spdlog::info("datapath {} at {} (cgroup root {})", datapath_->adopted() ? "adopted" : "attached",
               options_.bpffs, options_.cgroup_root.empty() ? bpf::cgroup2MountRoot() : options_.cgroup_root);

  describeMetrics();
  registerRoutes();
  auto reader = DnsPuntReader::start(*datapath_, state_, {options_.dns_min_ttl_s, options_.dns_max_ttl_s}, punt_stats_,
                                     answer_observations_);
  if (!reader) return fail(reader.error());
  punt_reader_ = std::move(*reader);
  auto log = AccessLog::open(options_.access_log, options_.access_log_rate);
  if (!log) return fail(log.error());
  access_log_ = std::move(*log);
  auto events = FlowEventReader::start(*datapath_, state_, *access_log_, recent_events_);
  if (!events) return fail(events.error());
  flow_reader_ = std::move(*events);
  // Program run counts and run time for /metrics, only when asked: the
  // kernel keeps them on while this fd is open, for every BPF program on the
  // node (two clock reads and a per-CPU update per run, tens of ns each).
  if (options_.bpf_run_stats) {
    bpf_stats_fd_ = bpf::UniqueFd(bpf_enable_stats(BPF_STATS_RUN_TIME));
    if (!bpf_stats_fd_.valid()) spdlog::warn("BPF run-time stats unavailable: {}", std::strerror(errno));
  }
  endpoint_resolver_ = std::make_unique<EndpointResolver>();
  if (options_.tc_mode != "off")
    tc_ = std::make_unique<TcAttachments>(*datapath_, options_.bpffs, tcModeFromOption(options_.tc_mode));
  if (auto watcher = sources::CgroupWatcher::open(); watcher)
    cgroup_watcher_ = std::make_unique<sources::CgroupWatcher>(std::move(*watcher));
  else
    spdlog::warn("cgroup watcher: {}; workload cgroups are looked at once a second", watcher.error());
  admin_.serve();
  spdlog::info("admin API on http://{}", options_.admin_addr);
  if (kubeMode() && options_.unknown_pods == "deny" && !options_.own_pod_uid.empty()) {
    // Before the first list names this agent's pod, its cgroup is below a
    // pods parent adopted from the previous agent: without this entry its
    // own requests to the API would be denied as an unknown workload's.
    const std::string root = options_.cgroup_root.empty() ? bpf::cgroup2MountRoot() : options_.cgroup_root;
    auto own = kube::findPodCgroup(root, options_.own_pod_uid, kube::PodQos::kUnknown);
    auto id = !own ? Result<uint64_t>(fail(own.error()))
              : own->path.empty() ? Result<uint64_t>(fail("no pod cgroup for POD_UID " + options_.own_pod_uid))
                                  : bpf::cgroupIdOf(own->path);
    if (id) {
      own_cgroup_id_ = *id;
      if (auto st = datapath_->putCgroupMap(bpf::Datapath::CgroupMap::kPodsParents, EGRESSD_PODS_EXCLUDED_KEY(*id),
                                            EGRESSD_PODS_EXCLUDED);
          !st)
        spdlog::error("{}", st.error());
    } else {
      spdlog::warn("this agent's own pod cgroup: {}; it is left alone once its Pod is listed", id.error());
    }
  }
  if (Status s = startKubeSource(); !s) return s;
  waitForKubeSync();  // the first apply should hold the API's state, not wait for the loop

  reload();
  if (datapath_->staged()) {
    // Going live on maps that lack part of the policy would be the window
    // this staging exists to close: the old programs keep enforcing instead,
    // and the next start tries again.
    auto applied = state_.current();
    if (!applied)
      return fail("upgrade stopped before its programs went live: no policy reached the new maps (the Kubernetes "
                  "API not listed yet, or the live maps unreadable); the old programs keep enforcing");
    if (!applied->sync_errors.empty())
      return fail("upgrade stopped before its programs went live: the new maps could not be filled (see the map "
                  "sync errors above); the old programs keep enforcing");
    if (auto st = datapath_->goLive(); !st) return fail("upgrade: " + st.error());
  }
  // From the API: ready once every resource was listed and that state applied.
  ready_ = !kube_source_ || api_state_applied_;
  return Ok{};
}

void Agent::run(const std::atomic<bool>& stop) {
  auto watcher = options_.policy_dir.empty() ? Result<sources::DirWatcher>(fail("no policy dir"))
                                             : sources::DirWatcher::open(options_.policy_dir);
  if (!watcher && !options_.policy_dir.empty())
    spdlog::error("policy dir {}: {}; changes will be noticed by polling", options_.policy_dir, watcher.error());
  auto last_retry = Clock::now();
  auto last_tc = Clock::now();
  auto tc_fast_until = Clock::now();
  while (!stop) {
    bool changed = false;
    const bool tc_fast = Clock::now() < tc_fast_until;
    const int wait_ms = tc_fast ? static_cast<int>(kTcRecheckFast.count()) : 200;
    // Policy files, the API and workload cgroups, whichever speaks first. The
    // API source has no fd: it is waited on, in short steps, before a poll
    // that then only collects.
    if (kube_source_) {
      changed = kube_source_->waitForChange(std::chrono::milliseconds(cgroup_watcher_ ? 20 : wait_ms));
      refreshKubeMetrics();
    }
    // Then the attached workloads' address watches (agent/tc_attachments.h).
    std::vector<pollfd> fds = {{watcher ? watcher->fd() : -1, POLLIN, 0},
                               {cgroup_watcher_ ? cgroup_watcher_->fd() : -1, POLLIN, 0}};
    if (tc_)
      for (int fd : tc_->addressWatchFds()) fds.push_back({fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), kube_source_ ? 0 : wait_ms) < 0 && errno != EINTR)
      spdlog::warn("poll: {}", std::strerror(errno));
    const bool addresses_changed =
        std::any_of(fds.begin() + 2, fds.end(), [](const pollfd& p) { return (p.revents & POLLIN) != 0; });
    if (watcher && (fds[0].revents & POLLIN)) {
      auto waited = watcher->waitForChange(std::chrono::milliseconds(0));
      if (!waited) spdlog::warn("{}", waited.error());
      changed = changed || (waited && *waited);
    }
    sources::CgroupWatcher::Changes cgroup_changes;
    if (cgroup_watcher_ && (fds[1].revents & POLLIN)) cgroup_changes = cgroup_watcher_->drain();
    // A workload's cgroup created, removed or created again: a new id to write.
    if (cgroup_changes.directories && !changed) onCgroupDirectories();
    // Workloads whose cgroup was missing are retried: pods' cgroups appear late.
    bool retry = has_unresolved_workloads_ && Clock::now() - last_retry >= kUnresolvedRetry;
    // Hostname endpoints resolved to new addresses: recompile with them.
    if (endpoint_resolver_ && endpoint_resolver_->takeChanged()) changed = true;
    // A workload's first process (cgroup.events: populated): its backstop now.
    if (cgroup_changes.files) tc_fast_until = Clock::now() + kTcFastFor;
    if (changed) {
      reload();
    } else if (retry) {
      // Cheap: the cgroups are resolved again, the policy recompiled only
      // if one appeared (as for inotify's news).
      last_retry = Clock::now();
      onCgroupDirectories();
    } else if (cgroup_changes.files || addresses_changed ||
               Clock::now() - last_tc >= (tc_fast ? kTcRecheckFast : kTcRecheck)) {
      last_tc = Clock::now();
      reconcileTc();
    }
  }
}

void Agent::reload() {
  const auto started = Clock::now();
  auto applied = std::make_shared<AppliedPolicy>();

  // Until every resource was listed once, the API's view is partial: keep
  // what the maps hold (adopted from a previous run) rather than apply it.
  const bool from_api = kube_source_ != nullptr;
  if (from_api && !kube_source_->synced()) return;
  policy::ParsedDocuments parsed = options_.policy_dir.empty() ? policy::ParsedDocuments{} : policy_reader_.read();
  if (from_api) policy::mergeDocuments(parsed, kube_source_->read());
  const auto parsed_at = Clock::now();
  policy::PolicyStore::ApplyReport report = store_.apply(parsed);
  for (const auto& rejection : report.rejected) spdlog::error("rejected {}", policy::describe(rejection));
  for (const auto& warning : report.warnings) spdlog::warn("{}", policy::describe(warning));
  applied->snapshot = store_.snapshot();
  applied->rejected = report.rejected;
  applied->warnings = report.warnings;

  WorkloadCgroups cgroups = resolveWorkloadCgroups(applied->snapshot.workloads, options_.cgroup_root, kubeMode());
  has_unresolved_workloads_ = !cgroups.unresolved.empty();
  applied->unresolved_workloads = cgroups.unresolved;
  applied->cgroup_paths = cgroups.paths;
  for (const auto& workload : applied->snapshot.workloads)
    applied->source_workloads[workload.meta.namespace_ + "/" + workload.meta.name] = policy::telemetryName(workload);

  const auto stored_at = Clock::now();
  auto live = maps_->live();
  if (!live) {
    spdlog::error("reading live maps: {}; policy not applied", live.error());
    return;
  }
  endpoint_resolver_->setNames(compiler::endpointHostnames(applied->snapshot));
  compile_options_.resolved_endpoints = endpoint_resolver_->addresses();
  auto admitted = compiler::compileWithinCapacity(applied->snapshot, cgroups.resolved, compile_options_,
                                                  compiler::scopeIdsFromLive(**live),
                                                  compiler::gatewayIdsFromLive(**live),
                                                  compiler::classIdsFromLive(**live), {}, &entry_cache_);
  applied->compiled = std::move(admitted.compiled);
  applied->not_enforced = std::move(admitted.not_enforced);
  for (const auto& warning : applied->compiled.warnings) spdlog::warn("{}", warning);
  for (const auto& error : applied->compiled.errors) spdlog::error("{}", error);
  for (const auto& issue : applied->compiled.gateway_issues) spdlog::warn("gateway routing: {}", compiler::describe(issue));
  applied->workload_cgroups = applied->compiled.workload_cgroups;
  // Excluded pods leave the unresolved list: waiting or not, they are left alone.
  for (const auto& [name, why] : applied->compiled.excluded_pods) applied->unresolved_workloads.erase(name);
  for (const auto& [workload, why] : applied->unresolved_workloads) {
    auto before = cgroups_.unresolved.find(workload);  // said once per reason, not on every apply
    if (before == cgroups_.unresolved.end() || before->second != why)
      spdlog::warn("workload {} not enforced yet: {}", workload, why);
  }

  const auto compiled_at = Clock::now();
  // Each enforced workload's pods_parents entry before its `workloads` entry:
  // one that does not get the latter is denied, never untouched.
  for (const auto& name : syncPodsParents(cgroups, applied->compiled.excluded_pods))
    applied->not_enforced.push_back({"Workload", name, "pods_parents", EGRESSD_MAX_PODS_PARENTS,
                                     "untouched unless its workloads entry is written"});
  logNotEnforced(applied->not_enforced);
  for (const auto& n : applied->not_enforced)
    if (auto it = cgroups.resolved.find(n.name); n.kind != "ServiceEntry" && it != cgroups.resolved.end())
      applied->not_enforced_cgroups[n.name] = it->second;
  SyncReport sync = syncMaps(*maps_, applied->compiled.desired);
  logSyncErrors(sync.errors);
  for (const auto& warning : sync.warnings) spdlog::warn("map sync: {}", warning);
  applied->sync_errors = sync.errors;
  warnOfFullMaps();

  applied->generation = ++generation_;
  applied->applied_at = std::chrono::system_clock::now();
  applied->sync_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  spdlog::info("policy generation {} applied in {:.1f} ms: {} objects, {} rejected, {} scopes, {} workloads; "
               "maps +{} ~{} -{}; {} workloads changed scope, {} learned entries carried, {} dropped",
               applied->generation, applied->sync_seconds * 1e3, report.objects, report.rejected.size(),
               applied->compiled.scopes.size(), applied->workload_cgroups.size(), sync.added, sync.changed,
               sync.removed, sync.moved_workloads, sync.learned_copied, sync.learned_removed);
  auto ms = [](auto from, auto to) { return std::chrono::duration<double, std::milli>(to - from).count(); };
  spdlog::debug("apply phases: parse {:.1f} ms ({} files changed), store+workloads {:.1f} ms, read live+compile {:.1f} ms, sync {:.1f} ms",
                ms(started, parsed_at), policy_reader_.lastParsedFiles(), ms(parsed_at, stored_at), ms(stored_at, compiled_at), ms(compiled_at, Clock::now()));
  recordApply(*applied);
  tc_workloads_.clear();
  std::set<std::string> host_network;  // pods with no interface of their own: no backstop to attach
  for (const auto& workload : applied->snapshot.workloads)
    if (workload.pod && workload.pod->host_network)
      host_network.insert(workload.meta.namespace_ + "/" + workload.meta.name);
  for (const auto& [name, cgroup_id] : applied->workload_cgroups)
    if (!host_network.count(name)) tc_workloads_.push_back({name, cgroup_id, cgroups.paths[name]});
  state_.publish(std::move(applied));
  followCgroups(cgroups);
  if (from_api) api_state_applied_ = true;
  if (from_api && !ready_ && !datapath_->staged()) {
    spdlog::info("Kubernetes API state applied: ready");
    ready_ = true;
  }
  reconcileTc();
}

// Once per apply, however many writes failed (a full map fails one write per
// entry that does not fit): how many, and the first few.
void Agent::logSyncErrors(const std::vector<std::string>& errors) {
  if (errors.empty()) return;
  constexpr size_t kShown = 3;
  std::string first;
  for (size_t i = 0; i < errors.size() && i < kShown; ++i) first += (i ? "; " : "") + errors[i];
  spdlog::error("map sync: {} write(s) failed in this apply (egressd_map_sync_errors; egressctl -o json status lists "
                "them): {}{}",
                errors.size(), first, errors.size() > kShown ? "; ..." : "");
}

// Once per apply: how many objects the full maps left out, by the rule of
// compiler/admission.h, and the first few (egressctl status lists them all).
void Agent::logNotEnforced(const std::vector<compiler::NotEnforced>& left_out) {
  if (left_out.empty()) return;
  constexpr size_t kShown = 3;
  std::string first;
  for (size_t i = 0; i < left_out.size() && i < kShown; ++i)
    first += (i ? "; " : "") + left_out[i].kind + " " + left_out[i].name + " (" + left_out[i].map + ", capacity " +
             std::to_string(left_out[i].capacity) + ")";
  spdlog::error("{} object(s) not enforced: no room in the maps; older objects keep their place "
                "(egressd_objects_not_enforced; egressctl status lists them): {}{}",
                left_out.size(), first, left_out.size() > kShown ? "; ..." : "");
}

// A map at 80% of its capacity or more is said once, when it gets there
// (again after it went below).
void Agent::warnOfFullMaps() {
  constexpr double kWarnAt = 0.8;
  for (const auto& fill : datapath_->mapFill()) {
    const bool high = fill.capacity && double(fill.entries) >= kWarnAt * fill.capacity;
    if (high && full_maps_.insert(fill.name).second)
      spdlog::warn("map {} is {:.0f}% full ({} of {} entries); docs/LIMITS.md says what happens when it is full",
                   fill.name, 100.0 * fill.entries / fill.capacity, fill.entries, fill.capacity);
    if (!high) full_maps_.erase(fill.name);
  }
}

void Agent::reconcileTc() {
  if (!tc_) return;
  tc_->reconcile(tc_workloads_);
  syncBackstops();
}

// The registered paths' directories changed. Only a workload whose cgroup
// id changed (created, removed, created again) needs a recompile; a parent
// that appeared needs a watch and a pods-parent entry.
void Agent::onCgroupDirectories() {
  auto applied = state_.current();
  if (!applied) return;
  WorkloadCgroups cgroups = resolveWorkloadCgroups(applied->snapshot.workloads, options_.cgroup_root, kubeMode());
  if (!cgroups.sameIds(cgroups_)) {
    spdlog::info("workload cgroups changed: applying");
    reload();
    return;
  }
  followCgroups(cgroups);
}

// After the workloads map has the current ids: the watcher follows the
// current paths, and pods_parents is brought up to date (syncPodsParents()).
void Agent::followCgroups(const WorkloadCgroups& cgroups) {
  cgroups_ = cgroups;
  if (cgroup_watcher_) {
    CgroupWatchSet set = cgroupWatchSet(cgroups);
    cgroup_watcher_->watch(set.dirs, set.event_files);
  }
  auto applied = state_.current();
  syncPodsParents(cgroups, applied ? applied->compiled.excluded_pods : std::map<std::string, std::string>{});
}

// pods_parents (bpf/lib/identity.h), written before map sync so that no
// workload is ever left untouched for want of its entry:
//  - every enforced workload's own cgroup (EGRESSD_PODS_WORKLOAD): a
//    workload whose `workloads` entry is missing (no room, a failed write,
//    no scope slot) is decided with no scope (reason unknown_scope, then
//    --fail-mode), wherever its cgroup sits;
//  - with --unknown-pods deny, the pods parents, so a cgroup created below
//    one before the agent ties it to a workload is denied, not free; and the
//    excluded pods below them, left alone.
// Exclusions first (a new parent never makes an excluded pod unknown, not
// even between two writes), then workloads in name order, then parents;
// stale entries go last; none is the root (podsParents()). Returns the
// workloads whose entry could not be written: those alone could be untouched.
std::vector<std::string> Agent::syncPodsParents(const WorkloadCgroups& cgroups,
                                                const std::map<std::string, std::string>& excluded) {
  std::map<uint64_t, uint32_t> desired;
  std::map<uint64_t, std::string> workload_of;
  for (const auto& [name, id] : cgroups.resolved) {
    if (excluded.count(name)) continue;
    desired[id] = EGRESSD_PODS_WORKLOAD;
    workload_of[id] = name;
  }
  if (options_.unknown_pods == "deny") {
    for (const auto& [path, id] : podsParents(cgroups)) desired.emplace(id, EGRESSD_PODS_PARENT);
    for (const auto& [name, why] : excluded)
      if (auto it = cgroups.resolved.find(name); it != cgroups.resolved.end())
        desired[EGRESSD_PODS_EXCLUDED_KEY(it->second)] = EGRESSD_PODS_EXCLUDED;
    if (own_cgroup_id_) desired[EGRESSD_PODS_EXCLUDED_KEY(own_cgroup_id_)] = EGRESSD_PODS_EXCLUDED;
  }
  std::vector<std::string> unwritten;
  auto live = datapath_->readCgroupMap(bpf::Datapath::CgroupMap::kPodsParents);
  if (!live) {
    spdlog::error("{}", live.error());
    for (const auto& [id, name] : workload_of) unwritten.push_back(name);
    return unwritten;
  }
  CgroupMapDiff diff = diffCgroupMap(desired, *live);
  std::string first_error;
  size_t failed = 0;
  for (const uint32_t kind : {EGRESSD_PODS_EXCLUDED, EGRESSD_PODS_WORKLOAD, EGRESSD_PODS_PARENT})
    for (const auto& [id, value] : diff.put) {
      if (value != kind) continue;
      if (auto st = datapath_->putCgroupMap(bpf::Datapath::CgroupMap::kPodsParents, id, value); !st) {
        if (!failed++) first_error = st.error();
        if (auto w = workload_of.find(id); w != workload_of.end()) unwritten.push_back(w->second);
      }
    }
  for (uint64_t id : diff.remove)
    if (auto st = datapath_->deleteCgroupMap(bpf::Datapath::CgroupMap::kPodsParents, id); !st) {
      if (!failed++) first_error = st.error();
    }
  // Once per sync, however many failed (a full map fails each write).
  if (failed) spdlog::error("pods_parents: {} write(s) failed: {}", failed, first_error);
  return unwritten;
}

// Which workloads' raw and packet sockets may be created
// (bpf/lib/sock_create.h): those whose backstop is attached, for the cgroup
// it judges, and those that can have none. Written after the attach, so a
// socket is never let out before its backstop is there.
void Agent::syncBackstops() {
  std::map<std::string, uint64_t> ids;
  for (const auto& workload : tc_workloads_) ids[workload.name] = workload.cgroup_id;
  std::map<uint64_t, uint32_t> desired;
  for (const auto& status : tc_->status()) {
    auto id = ids.find(status.workload);
    if (id == ids.end()) continue;
    if (status.pending.empty() && status.cgroup_id == id->second)
      desired[id->second] = EGRESSD_BACKSTOP_ATTACHED;
    else if (status.none)
      desired[id->second] = EGRESSD_BACKSTOP_NONE;
  }
  auto live = datapath_->readCgroupMap(bpf::Datapath::CgroupMap::kBackstops);
  if (!live) {
    spdlog::error("{}", live.error());
    return;
  }
  CgroupMapDiff diff = diffCgroupMap(desired, *live);
  for (const auto& [id, value] : diff.put)
    if (auto st = datapath_->putCgroupMap(bpf::Datapath::CgroupMap::kBackstops, id, value); !st)
      spdlog::error("{}", st.error());
  for (uint64_t id : diff.remove)
    if (auto st = datapath_->deleteCgroupMap(bpf::Datapath::CgroupMap::kBackstops, id); !st)
      spdlog::error("{}", st.error());
}

}  // namespace egressd::agent
