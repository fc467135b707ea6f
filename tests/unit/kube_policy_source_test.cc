// The Kubernetes policy source against an in-memory API server (real
// threads): objects of every watched resource go through the policy parser,
// discovery picks the version, a missing CRD is an empty set until it is
// installed, and the store keeps an object's last valid version.
#include <gtest/gtest.h>

#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "kube/policy_source.h"
#include "policy/describe.h"
#include "policy/policy_store.h"

namespace egressd::kube {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// Serves lists by path and watch streams that deliver what push() queued.
class FakeApiServer : public Transport {
 public:
  void serve(const std::string& path, json body) {
    std::lock_guard lock(mutex_);
    gets_[path] = std::move(body);
  }
  void forget(const std::string& path) {
    std::lock_guard lock(mutex_);
    gets_.erase(path);
  }
  void push(const std::string& path, const std::string& type, const json& object) {
    std::lock_guard lock(mutex_);
    events_[path].push_back(json{{"type", type}, {"object", object}}.dump());
  }
  std::vector<std::string> paths() {
    std::lock_guard lock(mutex_);
    return requested_;
  }
  // The query of every request (list or watch) to `path`.
  std::vector<std::vector<std::pair<std::string, std::string>>> queries(const std::string& path) {
    std::lock_guard lock(mutex_);
    return queries_[path];
  }

  Result<Response> get(const Request& request, const CancelCheck&) override {
    std::lock_guard lock(mutex_);
    requested_.push_back(request.path);
    queries_[request.path].push_back(request.query);
    auto it = gets_.find(request.path);
    if (it == gets_.end()) return Response{404, R"({"kind":"Status","code":404,"reason":"NotFound"})"};
    return Response{200, it->second.dump()};
  }

  Result<Response> stream(const Request& request, const LineHandler& on_line, const CancelCheck& cancelled) override {
    {
      std::lock_guard lock(mutex_);
      queries_[request.path].push_back(request.query);
      if (gets_.count(request.path) == 0) return Response{404, "{}"};
    }
    while (!cancelled()) {
      std::deque<std::string> lines;
      {
        std::lock_guard lock(mutex_);
        lines.swap(events_[request.path]);
      }
      for (const std::string& line : lines) on_line(line);
      std::this_thread::sleep_for(2ms);
    }
    return fail("cancelled");
  }

 private:
  std::mutex mutex_;
  std::map<std::string, json> gets_;
  std::map<std::string, std::deque<std::string>> events_;
  std::vector<std::string> requested_;
  std::map<std::string, std::vector<std::vector<std::pair<std::string, std::string>>>> queries_;
};

json list(std::vector<json> items) {
  return json{{"kind", "List"}, {"metadata", {{"resourceVersion", "1"}}}, {"items", items}};
}

json serviceEntry(const std::string& name, const std::string& host, int port, const std::string& version = "2") {
  return json{{"apiVersion", "networking.istio.io/v1"},
              {"kind", "ServiceEntry"},
              {"metadata", {{"name", name}, {"namespace", "prod"}, {"resourceVersion", version}}},
              {"spec",
               {{"hosts", {host}},
                {"location", "MESH_EXTERNAL"},
                {"resolution", "DNS"},
                {"ports", {{{"number", port}, {"name", "https"}, {"protocol", "TLS"}}}}}}};
}

json meshConfigMap(const std::string& name, const std::string& mode) {
  // Typed list items have no kind: the reflector adds it.
  return json{{"metadata", {{"name", name}, {"namespace", "istio-system"}, {"resourceVersion", "3"}}},
              {"data", {{"mesh", "outboundTrafficPolicy:\n  mode: " + mode + "\n"}}}};
}

json group(const std::vector<std::string>& versions) {
  json out = json::array();
  for (const auto& v : versions) out.push_back({{"version", v}});
  return {{"versions", out}};
}

json resources(const std::vector<std::pair<std::string, std::string>>& name_kind) {
  json out = json::array();
  for (const auto& [name, kind] : name_kind) out.push_back({{"name", name}, {"kind", kind}});
  return {{"resources", out}};
}

class KubePolicySourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = std::make_unique<FakeApiServer>();
    server_ = server.get();
    server_->serve("/api/v1/namespaces", list({json{{"metadata", {{"name", "prod"}, {"labels", {{"egressd.io/audit", "true"}}}}}}}));
    server_->serve("/api/v1/services", list({}));
    transport_ = std::move(server);
  }

  void start(PolicySourceOptions options = {}) {
    options.discovery_interval = 50ms;
    source_ = std::make_unique<KubePolicySource>(std::move(transport_), options);
    source_->start();
  }

  // Reads until `done` holds for what was read (or 5 s pass).
  policy::ParsedDocuments readUntil(const std::function<bool(const policy::ParsedDocuments&)>& done) {
    policy::ParsedDocuments parsed;
    for (int i = 0; i < 500; ++i) {
      source_->waitForChange(10ms);
      parsed = source_->read();
      if (source_->synced() && done(parsed)) return parsed;
    }
    ADD_FAILURE() << "timed out";
    return parsed;
  }

  std::unique_ptr<Transport> transport_;
  FakeApiServer* server_ = nullptr;
  std::unique_ptr<KubePolicySource> source_;
};

TEST_F(KubePolicySourceTest, EveryResourceGoesThroughTheParserAtTheDiscoveredVersion) {
  server_->serve("/apis/networking.istio.io", group({"v1beta1", "v1alpha3"}));
  server_->serve("/apis/networking.istio.io/v1beta1", resources({{"serviceentries", "ServiceEntry"}}));
  server_->serve("/apis/networking.istio.io/v1alpha3", resources({{"serviceentries", "ServiceEntry"}, {"sidecars", "Sidecar"}}));
  json bad = serviceEntry("bad", "bad.example.com", 443);
  bad["spec"]["ports"][0]["number"] = 70000;
  server_->serve("/apis/networking.istio.io/v1beta1/serviceentries",
                 list({serviceEntry("api", "api.example.com", 443), bad}));
  server_->serve("/apis/networking.istio.io/v1alpha3/sidecars",
                 list({json{{"metadata", {{"name", "default"}, {"namespace", "prod"}}},
                            {"spec", {{"egress", {{{"hosts", {"./*"}}}}}}}}}));
  server_->serve("/api/v1/namespaces/mesh-ns/configmaps", list({meshConfigMap("istio-canary", "REGISTRY_ONLY")}));
  PolicySourceOptions options;
  options.istio_namespace = "mesh-ns";
  options.istio_revision = "canary";
  start(options);

  auto parsed = readUntil([](const auto& p) { return p.mesh && !p.sidecars.empty() && !p.service_entries.empty(); });
  ASSERT_EQ(parsed.service_entries.size(), 1u);
  EXPECT_EQ(parsed.service_entries[0].hosts, std::vector<std::string>{"api.example.com"});
  EXPECT_EQ(parsed.sidecars.size(), 1u);
  ASSERT_EQ(parsed.namespaces.size(), 1u);
  EXPECT_EQ(parsed.namespaces[0].meta.name, "prod");
  EXPECT_EQ(parsed.mesh->outbound_mode, policy::OutboundMode::kRegistryOnly);
  // A rejection names kind, namespace/name, field and reason; there is no file:line.
  ASSERT_EQ(parsed.rejected.size(), 1u);
  const std::string why = policy::describe(parsed.rejected[0]);
  EXPECT_EQ(why.rfind("ServiceEntry prod/bad: ports[0].number", 0), 0u) << why;
  EXPECT_EQ(why.find("("), std::string::npos) << why;

  const auto paths = server_->paths();
  EXPECT_NE(std::find(paths.begin(), paths.end(), "/apis/networking.istio.io/v1beta1/serviceentries"), paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), "/api/v1/namespaces/mesh-ns/configmaps"), paths.end());
  EXPECT_TRUE(source_->synced());
}

TEST_F(KubePolicySourceTest, IstioInstalledLaterIsPickedUp) {
  start();  // no networking.istio.io at all
  auto before = readUntil([](const auto&) { return true; });
  EXPECT_TRUE(before.service_entries.empty());
  bool all_synced = true;
  for (const auto& state : source_->states()) all_synced = all_synced && state.synced;
  EXPECT_TRUE(all_synced);

  server_->serve("/apis/networking.istio.io/v1/serviceentries", list({serviceEntry("api", "api.example.com", 443)}));
  server_->serve("/apis/networking.istio.io/v1", resources({{"serviceentries", "ServiceEntry"}}));
  server_->serve("/apis/networking.istio.io", group({"v1"}));
  auto after = readUntil([](const auto& p) { return !p.service_entries.empty(); });
  ASSERT_EQ(after.service_entries.size(), 1u);
}

TEST_F(KubePolicySourceTest, AnInvalidUpdateKeepsThePreviousVersionInTheStore) {
  const std::string path = "/apis/networking.istio.io/v1/serviceentries";
  server_->serve("/apis/networking.istio.io", group({"v1"}));
  server_->serve("/apis/networking.istio.io/v1", resources({{"serviceentries", "ServiceEntry"}}));
  server_->serve(path, list({serviceEntry("api", "api.example.com", 443)}));
  server_->serve("/api/v1/namespaces/istio-system/configmaps", list({meshConfigMap("istio", "REGISTRY_ONLY")}));
  start();
  policy::PolicyStore store;
  store.apply(readUntil([](const auto& p) { return !p.service_entries.empty() && p.mesh; }));
  ASSERT_EQ(store.snapshot().service_entries.size(), 1u);

  json broken = serviceEntry("api", "api.example.com", 443, "5");
  broken["spec"]["ports"][0]["number"] = 0;
  server_->push(path, "MODIFIED", broken);
  json bad_mesh = meshConfigMap("istio", "SOMETIMES");
  bad_mesh["kind"] = "ConfigMap";
  bad_mesh["apiVersion"] = "v1";
  server_->push("/api/v1/namespaces/istio-system/configmaps", "MODIFIED", bad_mesh);
  auto parsed = readUntil([](const auto& p) { return p.rejected.size() == 2; });
  const auto report = store.apply(parsed);
  ASSERT_EQ(store.snapshot().service_entries.size(), 1u);
  EXPECT_EQ(store.snapshot().service_entries[0].ports[0].number, 443u);
  EXPECT_EQ(store.snapshot().mesh.outbound_mode, policy::OutboundMode::kRegistryOnly)
      << "a rejected mesh ConfigMap must not fall back to ALLOW_ANY";
  bool kept = false;
  for (const auto& r : report.rejected) {
    if (r.kind == "ServiceEntry") {
      kept = r.reason.find("(the previous valid version stays in force)") != std::string::npos;
    }
  }
  EXPECT_TRUE(kept);

  // Deleted in the API: gone from the next read and the store.
  server_->push(path, "DELETED", broken);
  store.apply(readUntil([](const auto& p) { return p.service_entries.empty() && p.rejected.size() == 1; }));
  EXPECT_TRUE(store.snapshot().service_entries.empty());
}

json podObject(const std::string& name, const std::string& phase) {
  // As a typed list item: no kind (the reflector adds it).
  return json{{"metadata",
               {{"name", name},
                {"namespace", "prod"},
                {"uid", "uid-" + name},
                {"generateName", "web-7d4b9c8f6-"},
                {"labels", {{"app", "web"}, {"pod-template-hash", "7d4b9c8f6"}}},
                {"ownerReferences", {{{"kind", "ReplicaSet"}, {"name", "web-7d4b9c8f6"}, {"controller", true}}}},
                {"resourceVersion", "4"}}},
              {"spec", {{"nodeName", "node-1"}}},
              {"status", {{"phase", phase}, {"qosClass", "BestEffort"}}}};
}

// The node's pods: listed and watched with the field selector of this node
// only, each a Workload; one that ran to completion is none; no node name,
// no pods watched.
TEST_F(KubePolicySourceTest, PodsOfThisNodeOnlyBecomeWorkloads) {
  server_->serve("/api/v1/pods", list({podObject("web-7d4b9c8f6-a", "Running"), podObject("web-7d4b9c8f6-b", "Succeeded")}));
  PolicySourceOptions options;
  options.node_name = "node-1";
  start(options);
  auto parsed = readUntil([](const auto& p) { return !p.workloads.empty(); });
  ASSERT_EQ(parsed.workloads.size(), 1u);
  const policy::Workload& w = parsed.workloads[0];
  EXPECT_EQ(w.meta.namespace_ + "/" + w.meta.name, "prod/web-7d4b9c8f6-a");
  ASSERT_TRUE(w.pod);
  EXPECT_EQ(w.pod->uid, "uid-web-7d4b9c8f6-a");
  EXPECT_EQ(w.pod->istio_workload, "web");
  EXPECT_TRUE(parsed.rejected.empty());

  // Every list and watch of pods carries the selector; nothing else does.
  for (int i = 0; i < 200 && server_->queries("/api/v1/pods").size() < 2; ++i) std::this_thread::sleep_for(5ms);
  const auto queries = server_->queries("/api/v1/pods");
  ASSERT_GE(queries.size(), 2u) << "a list and a watch";
  for (const auto& query : queries) {
    const auto selector = std::find_if(query.begin(), query.end(), [](const auto& kv) { return kv.first == "fieldSelector"; });
    ASSERT_NE(selector, query.end());
    EXPECT_EQ(selector->second, "spec.nodeName=node-1");
  }
  const bool watched = std::any_of(queries.begin(), queries.end(), [](const auto& query) {
    return std::find(query.begin(), query.end(), std::pair<std::string, std::string>{"watch", "true"}) != query.end();
  });
  EXPECT_TRUE(watched);
  for (const auto& query : server_->queries("/api/v1/namespaces"))
    for (const auto& [key, value] : query) EXPECT_NE(key, "fieldSelector");

  // Deleted: gone from the next read.
  server_->push("/api/v1/pods", "DELETED", podObject("web-7d4b9c8f6-a", "Running"));
  auto after = readUntil([](const auto& p) { return p.workloads.empty(); });
  EXPECT_TRUE(after.workloads.empty());
  EXPECT_EQ(podsOfNode("node-2").selectors,
            (std::vector<std::pair<std::string, std::string>>{{"fieldSelector", "spec.nodeName=node-2"}}));
}

TEST_F(KubePolicySourceTest, WithoutANodeNameNoPodsAreWatched) {
  start();
  readUntil([](const auto&) { return true; });
  const auto paths = server_->paths();
  EXPECT_EQ(std::find(paths.begin(), paths.end(), "/api/v1/pods"), paths.end());
  for (const auto& state : source_->states()) EXPECT_NE(state.resource, "pods");
}

TEST_F(KubePolicySourceTest, NotSyncedUntilEveryReflectorListed) {
  server_->forget("/api/v1/services");
  // A collection that answers 404 counts as an empty, synced set; one that
  // never answers keeps the source unsynced: use a server error for services.
  class Failing : public Transport {
   public:
    explicit Failing(std::unique_ptr<Transport> inner) : inner_(std::move(inner)) {}
    Result<Response> get(const Request& r, const CancelCheck& c) override {
      if (r.path == "/api/v1/services") return Response{503, "{}"};
      return inner_->get(r, c);
    }
    Result<Response> stream(const Request& r, const LineHandler& l, const CancelCheck& c) override {
      return inner_->stream(r, l, c);
    }
    std::unique_ptr<Transport> inner_;
  };
  transport_ = std::make_unique<Failing>(std::move(transport_));
  start();
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(source_->synced());
  for (const auto& state : source_->states()) {
    if (state.resource == "services") {
      EXPECT_FALSE(state.synced);
    } else if (state.resource == "namespaces") {
      EXPECT_TRUE(state.synced);
    }
  }
}

}  // namespace
}  // namespace egressd::kube
