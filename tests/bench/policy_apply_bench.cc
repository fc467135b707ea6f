// The agent's apply path without the kernel: one policy directory of N
// ServiceEntries (the shape scripts/bench/scale.sh writes) and W workloads,
// read, stored, compiled and synced into in-memory maps; then C changes of
// one ServiceEntry each (a file rewritten), each timed phase by phase, by two
// agents side by side: one compiling with the entry cache and syncing what
// changed (as the agent does), one compiling everything and planning every
// map entry (the reference paths). Prints the start and the per-change
// percentiles of both, and their ratio: where an apply's time goes.
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
#include "compiler/entry_cache.h"
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
  ApplyLoop(const fs::path& dir, const Shape& shape, bool incremental)
      : incremental_(incremental), reader_(dir), maps_(kernel_) {
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
                                compiler::gatewayIdsFromLive(**live), compiler::classIdsFromLive(**live),
                                incremental_ ? &entry_cache_ : nullptr);
    p.compile = msSince(t);
    t = Clock::now();
    SyncReport report = incremental_ ? syncMaps(maps_, compiled.desired) : syncAllMaps(maps_, compiled.desired);
    p.sync = msSince(t);
    entries = report.added + report.changed + report.removed;
    kernel_.ops.clear();
    return p;
  }

 private:
  bool incremental_;
  policy::PolicyDirReader reader_;
  policy::PolicyStore store_;
  testing::FakeMapBackend kernel_;
  MirroredMapBackend maps_;
  compiler::EntryCache entry_cache_;
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
  struct Side {
    const char* name;
    ApplyLoop loop;
    std::vector<double> read, store, compile, sync, total;
  };
  Side sides[] = {{"incremental", ApplyLoop(dir, shape, true), {}, {}, {}, {}, {}},
                  {"full", ApplyLoop(dir, shape, false), {}, {}, {}, {}, {}}};
  size_t entries = 0;
  for (auto& side : sides) {
    const Phases first = side.loop.apply(entries);
    std::printf("%-11s start: %.1f ms (read %.1f, store %.1f, compile %.1f, sync %.1f), %zu map entries\n", side.name,
                first.total(), first.read, first.store, first.compile, first.sync, entries);
  }
  for (int c = 0; c < shape.changes; ++c) {
    const int changed = (c * 7919) % shape.entries;  // spread over files and namespaces
    writeEntriesFile(dir, shape, changed / 100, changed, c + 1);
    for (int k = 0; k < 2; ++k) {  // interleaved: each goes first every other change
      Side& side = sides[(c + k) % 2];
      const Phases p = side.loop.apply(entries);
      side.read.push_back(p.read), side.store.push_back(p.store), side.compile.push_back(p.compile);
      side.sync.push_back(p.sync), side.total.push_back(p.total());
    }
    writeEntriesFile(dir, shape, changed / 100, -1, 0);  // back, so each change is one entry
    for (auto& side : sides) side.loop.apply(entries);
  }
  std::printf("one ServiceEntry changed, %d changes, %d entries, %d workloads:\n", shape.changes, shape.entries,
              shape.workloads);
  auto row = [](const char* name, const std::vector<double>& a, const std::vector<double>& b) {
    std::printf("  %-8s incremental p50 %8.2f p99 %8.2f ms | full p50 %8.2f p99 %8.2f ms | p50 ratio %.3f\n", name,
                percentile(a, 0.5), percentile(a, 0.99), percentile(b, 0.5), percentile(b, 0.99),
                percentile(a, 0.5) / percentile(b, 0.5));
  };
  const Side &inc = sides[0], &full = sides[1];
  row("read", inc.read, full.read), row("store", inc.store, full.store), row("compile", inc.compile, full.compile);
  row("sync", inc.sync, full.sync), row("total", inc.total, full.total);
  fs::remove_all(dir);
}
