#include "kube/policy_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "kube/pod_workload.h"

namespace egressd::kube {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

// Discovery errors retry sooner than the periodic check, up to it.
constexpr milliseconds kDiscoveryRetryMin{1000};

}  // namespace

KubePolicySource::KubePolicySource(std::unique_ptr<Transport> transport, PolicySourceOptions options,
                                   Callbacks callbacks)
    : transport_(std::move(transport)),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      mesh_config_map_(options_.istio_revision.empty() ? "istio" : "istio-" + options_.istio_revision) {}

KubePolicySource::~KubePolicySource() { stop(); }

ResourceSpec podsOfNode(const std::string& node_name) {
  return {"pods", "v1", "Pod", "/api/v1/pods", {{"fieldSelector", "spec.nodeName=" + node_name}}};
}

void KubePolicySource::start() {
  if (!options_.node_name.empty()) startReflector(podsOfNode(options_.node_name));
  startReflector({"namespaces", "v1", "Namespace", "/api/v1/namespaces", {}});
  startReflector({"services", "v1", "Service", "/api/v1/services", {}});
  startReflector({"configmaps", "v1", "ConfigMap", "/api/v1/namespaces/" + options_.istio_namespace + "/configmaps",
                  {{"fieldSelector", "metadata.name=" + mesh_config_map_}}});
  discovery_thread_ = std::thread([this] { discoveryLoop(); });
}

void KubePolicySource::stop() {
  {
    std::lock_guard lock(stop_mutex_);
    if (stop_.exchange(true) && !discovery_thread_.joinable() && running_.empty()) return;
  }
  stop_cv_.notify_all();
  if (discovery_thread_.joinable()) discovery_thread_.join();
  std::map<std::string, Running> running;
  {
    std::lock_guard lock(mutex_);
    running.swap(running_);
  }
  for (auto& [name, r] : running) r.reflector->stop();
  for (auto& [name, r] : running) {
    if (r.thread.joinable()) r.thread.join();
  }
}

void KubePolicySource::notify() {
  {
    std::lock_guard lock(change_mutex_);
    changed_ = true;
  }
  change_cv_.notify_all();
}

bool KubePolicySource::waitForChange(milliseconds timeout) {
  std::unique_lock lock(change_mutex_);
  change_cv_.wait_for(lock, timeout, [this] { return changed_; });
  const bool changed = changed_;
  changed_ = false;
  return changed;
}

void KubePolicySource::startReflector(const ResourceSpec& spec) {
  const std::string resource = spec.name;
  Reflector::Callbacks callbacks;
  callbacks.changed = [this] { notify(); };
  callbacks.error = [this, resource](const std::string& reason) {
    if (callbacks_.error) callbacks_.error(resource, reason);
  };
  callbacks.in_sync = [this, resource] {
    std::lock_guard lock(mutex_);
    last_sync_[resource] = std::chrono::system_clock::now();
  };
  Running running;
  running.reflector = std::make_unique<Reflector>(*transport_, spec, options_.reflector, std::move(callbacks));
  Reflector* reflector = running.reflector.get();
  running.thread = std::thread([reflector] { reflector->run(); });
  spdlog::info("kube {}: watching {}", resource, spec.path);
  std::lock_guard lock(mutex_);
  running_[resource] = std::move(running);
}

void KubePolicySource::stopReflector(const std::string& resource) {
  Running running;
  {
    std::lock_guard lock(mutex_);
    auto it = running_.find(resource);
    if (it == running_.end()) return;
    running = std::move(it->second);
    running_.erase(it);
    last_sync_.erase(resource);
  }
  running.reflector->stop();
  if (running.thread.joinable()) running.thread.join();
}

void KubePolicySource::applyDiscovery(const ServedVersions& served) {
  bool changed = false;
  for (const IstioKind& kind : kIstioKinds) {
    auto found = served.find(kind.kind);
    const std::string version = found == served.end() ? "" : found->second;
    bool first = false;  // the first answer about this kind: say what it is, even "not installed"
    std::string current;
    {
      std::lock_guard lock(mutex_);
      auto known = istio_versions_.find(kind.kind);
      first = known == istio_versions_.end();
      if (!first) current = known->second;
    }
    if (!first && version == current) continue;
    changed = changed || version != current;
    stopReflector(kind.resource);
    if (version.empty()) {
      spdlog::info("kube {}: {}.{} is not served (CRD not installed): no {} objects", kind.resource, kind.kind,
                   kIstioNetworkingGroup, kind.kind);
    } else {
      const std::string group_version = std::string(kIstioNetworkingGroup) + "/" + version;
      startReflector({kind.resource, group_version, kind.kind, "/apis/" + group_version + "/" + kind.resource, {}});
    }
    std::lock_guard lock(mutex_);
    istio_versions_[kind.kind] = version;
  }
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    first = !discovered_;
    discovered_ = true;
  }
  if (changed || first) notify();
}

void KubePolicySource::discoveryLoop() {
  milliseconds retry = kDiscoveryRetryMin;
  bool failing = false;
  while (!stop_) {
    auto served = discoverIstioNetworking(*transport_, [this] { return stop_.load(); });
    milliseconds wait = options_.discovery_interval;
    if (stop_) break;
    if (served) {
      if (failing) spdlog::info("kube discovery of {} answers again", kIstioNetworkingGroup);
      failing = false;
      retry = kDiscoveryRetryMin;
      applyDiscovery(*served);
    } else {
      if (callbacks_.error) callbacks_.error("discovery", "discovery");
      if (!failing) spdlog::warn("kube: {}; retrying", served.error());
      failing = true;
      wait = std::min(retry, options_.discovery_interval);
      retry = std::min(retry * 2, options_.discovery_interval);
    }
    std::unique_lock lock(stop_mutex_);
    stop_cv_.wait_for(lock, wait, [this] { return stop_.load(); });
  }
}

bool KubePolicySource::synced() const {
  std::lock_guard lock(mutex_);
  if (!discovered_) return false;
  return std::all_of(running_.begin(), running_.end(),
                     [](const auto& entry) { return entry.second.reflector->synced(); });
}

std::vector<ResourceState> KubePolicySource::states() const {
  std::lock_guard lock(mutex_);
  std::vector<ResourceState> out;
  for (const auto& [name, running] : running_) {
    ResourceState state{name, running.reflector->spec().path, running.reflector->synced(), 0, {}};
    state.objects = running.reflector->size();
    if (auto sync = last_sync_.find(name); sync != last_sync_.end()) state.last_sync = sync->second;
    out.push_back(state);
  }
  for (const IstioKind& kind : kIstioKinds) {
    if (running_.count(kind.resource) == 0) out.push_back({kind.resource, "", discovered_, 0, {}});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.resource < b.resource; });
  return out;
}

// A Pod is not policy YAML: it becomes a Workload (or nothing once it ran).
policy::ParsedDocuments KubePolicySource::parsePod(const std::string& text) {
  policy::ParsedDocuments parsed;
  const json object = json::parse(text, nullptr, false);
  auto workload = podWorkload(object);
  if (!workload) {
    policy::Rejection rejection{"Pod", "", "", {}, workload.error()};
    if (object.is_object() && object.contains("metadata") && object["metadata"].is_object()) {
      rejection.namespace_ = object["metadata"].value("namespace", "");
      rejection.name = object["metadata"].value("name", "");
    }
    parsed.rejected.push_back(std::move(rejection));
  } else if (*workload) {
    parsed.workloads.push_back(std::move(**workload));
  }
  return parsed;
}

policy::ParsedDocuments KubePolicySource::parseObject(const std::string& resource, const std::string& text) {
  if (resource == "pods") return parsePod(text);
  policy::ParsedDocuments parsed = policy::parseYaml(text, "", mesh_config_map_);
  if (!parsed.unreadable_files.empty()) {
    // JSON is YAML, so this is not expected; if it happens, it is this
    // object's problem: a rejection keeps its previous version, and only its.
    const json object = json::parse(text, nullptr, false);
    policy::Rejection rejection;
    rejection.kind = object.is_object() ? object.value("kind", resource) : resource;
    if (object.is_object() && object.contains("metadata") && object["metadata"].is_object()) {
      rejection.namespace_ = object["metadata"].value("namespace", "");
      rejection.name = object["metadata"].value("name", "");
    }
    rejection.reason = "the object cannot be read";
    for (const auto& warning : parsed.warnings) rejection.reason += ": " + warning.message;
    parsed = {};
    parsed.rejected.push_back(std::move(rejection));
  }
  return parsed;
}

policy::ParsedDocuments KubePolicySource::read() {
  std::vector<std::pair<std::string, ObjectMap>> snapshot;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, running] : running_) snapshot.emplace_back(name, running.reflector->objects());
  }
  policy::ParsedDocuments all;
  std::map<std::string, CachedObject> next;
  for (const auto& [resource, objects] : snapshot) {
    for (const auto& [key, text] : objects) {
      const std::string id = resource + " " + key;
      auto cached = parsed_.find(id);
      if (cached == parsed_.end() || (cached->second.text != text && *cached->second.text != *text)) {
        cached = parsed_.insert_or_assign(id, CachedObject{text, parseObject(resource, *text)}).first;
      }
      policy::ParsedDocuments copy = cached->second.parsed;
      policy::mergeDocuments(all, std::move(copy));
      next.insert(parsed_.extract(cached));
    }
  }
  parsed_ = std::move(next);
  return all;
}

}  // namespace egressd::kube
