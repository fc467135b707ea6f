// The agent's apply path without the kernel: one policy directory of N
// ServiceEntries (the shape scripts/bench/scale.sh writes) and W workloads,
// read, stored, compiled and synced into in-memory maps; then C changes of
// one ServiceEntry each (a file rewritten), each timed phase by phase.
// Prints the start and the per-change percentiles: where an apply's time goes.
//   policy_apply_bench [--entries 10000] [--workloads 250] [--namespaces 50] [--changes 200]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "compiler/compiler.h"
#include "policy/parser.h"
#include "policy/policy_store.h"
#include "sync/map_sync.h"
#include "sync/mirrored_map_backend.h"
#include "unit/fake_map_backend.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;
using namespace egressd;

double msSince(Clock::time_point from) { return std::chrono::duration<double, std::milli>(Clock::now() - from).count(); }

struct Shape {
  int entries = 10000, workloads = 250, namespaces = 50, changes = 200;
};

std::string entryYaml(int i, int namespaces, const std::string& address) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se-%d, namespace: ns-%d}\n"
                "spec:\n  hosts: [svc-%d.example.com]\n  addresses: [%s]\n"
                "  ports: [{number: 443, name: https, protocol: HTTPS}, {number: 8443, name: tls, protocol: TLS}, "
                "{number: 5353, name: udp-sync, protocol: UDP}]\n  exportTo: %s\n",
                i, i % namespaces, i, address.c_str(), i % 10 == 0 ? "[\".\"]" : "[\"*\"]");
  return buf;
}

std::string entryAddress(int i, int version) {
  return version == 0 ? "10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24"
                      : "172." + std::to_string(16 + version % 16) + "." + std::to_string(i % 256) + ".0/24";
}

// Writes file f (entries f*100 .. f*100+99), entry `changed` at `version`.
void writeEntriesFile(const fs::path& dir, const Shape& shape, int f, int changed, int version) {
  std::ofstream out(dir / ("entries-" + std::to_string(f) + ".yaml"));
  for (int i = f * 100; i < (f + 1) * 100 && i < shape.entries; ++i)
    out << entryYaml(i, shape.namespaces, entryAddress(i, i == changed ? version : 0));
}

void writePolicy(const fs::path& dir, const Shape& shape) {
  fs::create_directories(dir);
  std::ofstream(dir / "mesh.yaml") << "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\n"
                                      "spec: {meshConfig: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}}\n";
  for (int f = 0; f < (shape.entries + 99) / 100; ++f) writeEntriesFile(dir, shape, f, -1, 0);
  std::ofstream workloads(dir / "workloads.yaml");
  for (int w = 0; w < shape.workloads; ++w)
    workloads << "---\napiVersion: egressd.io/v1alpha1\nkind: Workload\nmetadata: {name: w-" << w << ", namespace: ns-"
              << w % shape.namespaces << "}\nspec: {cgroup: ns-" << w % shape.namespaces << "/w-" << w << "}\n";
}

struct Phases {
  double read = 0, store = 0, compile = 0, sync = 0;
  double total() const { return read + store + compile + sync; }
};

class ApplyLoop {
 public:
  ApplyLoop(const fs::path& dir, const Shape& shape) : reader_(dir), maps_(kernel_) {
    for (int w = 0; w < shape.workloads; ++w)
      cgroups_["ns-" + std::to_string(w % shape.namespaces) + "/w-" + std::to_string(w)] = 1000 + w;
    options_.dns_servers = {{"192.0.2.53", 53}};
  }

  // One reload as the agent does it (agent.cc reload()), phase by phase.
  Phases apply(size_t& entries) {
    Phases p;
    auto t = Clock::now();
    policy::ParsedDocuments parsed = reader_.read();
    p.read = msSince(t);
    t = Clock::now();
    store_.apply(parsed);
    policy::PolicySnapshot snapshot = store_.snapshot();
    p.store = msSince(t);
    t = Clock::now();
    auto live = maps_.live();
    compiler::CompileOutput compiled =
        compiler::compilePolicy(snapshot, cgroups_, options_, compiler::scopeIdsFromLive(**live),
                                compiler::gatewayIdsFromLive(**live), compiler::classIdsFromLive(**live));
    p.compile = msSince(t);
    t = Clock::now();
    SyncReport report = syncMaps(maps_, compiled.desired);
    p.sync = msSince(t);
    entries = report.added + report.changed + report.removed;
    kernel_.ops.clear();
    return p;
  }

 private:
  policy::PolicyDirReader reader_;
  policy::PolicyStore store_;
  testing::FakeMapBackend kernel_;
  MirroredMapBackend maps_;
  std::map<std::string, uint64_t> cgroups_;
  compiler::CompileOptions options_;
};

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  Shape shape;
  CLI::App app{"Times the agent's apply path (read, store, compile, sync) at scale, without the kernel"};
  app.add_option("--entries", shape.entries, "ServiceEntries");
  app.add_option("--workloads", shape.workloads, "workloads");
  app.add_option("--namespaces", shape.namespaces, "namespaces");
  app.add_option("--changes", shape.changes, "one-entry changes to time");
  CLI11_PARSE(app, argc, argv);

  const fs::path dir = fs::temp_directory_path() / ("egressd-apply-bench-" + std::to_string(::getpid()));
  writePolicy(dir, shape);
  ApplyLoop loop(dir, shape);
  size_t entries = 0;
  const Phases first = loop.apply(entries);
  std::printf("start: %.1f ms (read %.1f, store %.1f, compile %.1f, sync %.1f), %zu map entries\n", first.total(),
              first.read, first.store, first.compile, first.sync, entries);

  std::vector<double> read, store, compile, sync, total;
  for (int c = 0; c < shape.changes; ++c) {
    const int changed = (c * 7919) % shape.entries;  // spread over files and namespaces
    writeEntriesFile(dir, shape, changed / 100, changed, c + 1);
    const Phases p = loop.apply(entries);
    read.push_back(p.read), store.push_back(p.store), compile.push_back(p.compile), sync.push_back(p.sync);
    total.push_back(p.total());
    writeEntriesFile(dir, shape, changed / 100, -1, 0);  // back, so each change is one entry
    loop.apply(entries);
  }
  auto row = [](const char* name, const std::vector<double>& v) {
    std::printf("  %-8s p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms\n", name, percentile(v, 0.5), percentile(v, 0.99),
                percentile(v, 1.0));
  };
  std::printf("one ServiceEntry changed, %d changes:\n", shape.changes);
  row("read", read), row("store", store), row("compile", compile), row("sync", sync), row("total", total);
  fs::remove_all(dir);
}
