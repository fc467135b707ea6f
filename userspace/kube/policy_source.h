#pragma once
// The Kubernetes API as a policy source: one Reflector per resource egressd
// reads (Namespaces, Services, the mesh ConfigMap, and the networking.istio.io
// kinds at the version discovery finds), their objects parsed by the same
// parser and validation as policy files (an object's JSON is YAML), and
// handed to the same store and compiler by the agent.
//
// The node's pods (with a node name) are one more ResourceSpec: their
// reflector, sync state, errors and change notification are the others';
// each Pod becomes a policy Workload (pod_workload.h) instead of going
// through the YAML parser.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kube/discovery.h"
#include "kube/reflector.h"
#include "kube/transport.h"
#include "policy/parser.h"

namespace egressd::kube {

struct PolicySourceOptions {
  std::string istio_namespace = "istio-system";
  std::string istio_revision;  // the mesh ConfigMap is "istio-<rev>" when set
  // The node whose pods are watched (fieldSelector spec.nodeName); empty:
  // pods are not watched.
  std::string node_name;
  std::chrono::milliseconds discovery_interval{std::chrono::seconds(30)};
  ReflectorOptions reflector;
};

struct ResourceState {
  std::string resource;  // "serviceentries"
  std::string path;      // what is watched ("" for an Istio kind not installed)
  bool synced = false;
  size_t objects = 0;
  std::chrono::system_clock::time_point last_sync{};  // zero: never
};

class KubePolicySource {
 public:
  struct Callbacks {
    std::function<void(const std::string& resource, const std::string& reason)> error;
  };

  KubePolicySource(std::unique_ptr<Transport> transport, PolicySourceOptions options, Callbacks callbacks = {});
  ~KubePolicySource();
  KubePolicySource(const KubePolicySource&) = delete;
  KubePolicySource& operator=(const KubePolicySource&) = delete;

  // Starts discovery and the reflectors, each on its own thread.
  void start();
  void stop();

  // Waits up to `timeout` for any change since the last call; true if one came.
  bool waitForChange(std::chrono::milliseconds timeout);
  // Every object now in the caches, parsed (an object not changed since the
  // last read is not parsed again).
  policy::ParsedDocuments read();
  // Discovery answered once and every reflector listed once.
  bool synced() const;
  std::vector<ResourceState> states() const;

  const std::string& meshConfigMapName() const { return mesh_config_map_; }

 private:
  struct Running {
    std::unique_ptr<Reflector> reflector;
    std::thread thread;
  };
  struct CachedObject {
    std::shared_ptr<const std::string> text;
    policy::ParsedDocuments parsed;
  };

  void startReflector(const ResourceSpec& spec);
  void stopReflector(const std::string& resource);
  void discoveryLoop();
  void applyDiscovery(const ServedVersions& served);
  void notify();
  policy::ParsedDocuments parseObject(const std::string& resource, const std::string& text);
  static policy::ParsedDocuments parsePod(const std::string& text);

  std::unique_ptr<Transport> transport_;
  PolicySourceOptions options_;
  Callbacks callbacks_;
  std::string mesh_config_map_;

  mutable std::mutex mutex_;  // running_, istio_versions_, last_sync_, discovered_
  std::map<std::string, Running> running_;                 // by resource name
  std::map<std::string, std::string> istio_versions_;      // kind -> version being watched
  std::map<std::string, std::chrono::system_clock::time_point> last_sync_;
  bool discovered_ = false;

  std::mutex change_mutex_;
  std::condition_variable change_cv_;
  bool changed_ = false;

  std::map<std::string, CachedObject> parsed_;  // "resource key" -> parse; read() only

  std::atomic<bool> stop_{false};
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  std::thread discovery_thread_;
};

// The pods of one node: the collection and its field selector.
ResourceSpec podsOfNode(const std::string& node_name);

// The resources watched for one kind of networking.istio.io object.
struct IstioKind {
  const char* kind;
  const char* resource;
};
inline constexpr IstioKind kIstioKinds[] = {{"ServiceEntry", "serviceentries"},
                                            {"Sidecar", "sidecars"},
                                            {"Gateway", "gateways"},
                                            {"VirtualService", "virtualservices"},
                                            {"DestinationRule", "destinationrules"}};

}  // namespace egressd::kube
