// libFuzzer over the policy parser and what the agent does with a policy
// file: parseYaml, the store's apply, and the compiler. Seeded from the YAML
// under tests/ and deploy/examples (scripts/fuzz.sh). Besides ASan/UBSan
// (and no exception escaping: parseYaml promises none) it checks:
//  - the same bytes give the same result (objects, rejections, warnings);
//  - an unreadable file defines nothing and says why once, on a real line;
//  - every rejection and warning names the file and a line within it, and
//    a rejection says why;
//  - the store holds no more objects than were accepted.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "compiler/compiler.h"
#include "policy/describe.h"
#include "policy/parser.h"
#include "policy/policy_store.h"

namespace {

using namespace egressd;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

template <typename T>
void addNames(std::string& out, const char* kind, const std::vector<T>& objects) {
  for (const T& o : objects) out += std::string(kind) + " " + o.meta.namespace_ + "/" + o.meta.name + "\n";
}

// What parseYaml made of a text, as one comparable string.
std::string summary(const policy::ParsedDocuments& p) {
  std::string out = p.mesh ? "mesh " + policy::describe(p.mesh_source) + "\n" : "";
  addNames(out, "ServiceEntry", p.service_entries);
  addNames(out, "Sidecar", p.sidecars);
  addNames(out, "Workload", p.workloads);
  addNames(out, "Namespace", p.namespaces);
  addNames(out, "Gateway", p.gateways);
  addNames(out, "VirtualService", p.virtual_services);
  addNames(out, "DestinationRule", p.destination_rules);
  addNames(out, "Service", p.services);
  for (const auto& r : p.rejected) out += "rejected " + policy::describe(r) + "\n";
  for (const auto& w : p.warnings) out += "warning " + policy::describe(w) + "\n";
  for (const auto& f : p.unreadable_files) out += "unreadable " + f + "\n";
  return out;
}

size_t accepted(const policy::ParsedDocuments& p) {
  return p.service_entries.size() + p.sidecars.size() + p.workloads.size() + p.namespaces.size() +
         p.gateways.size() + p.virtual_services.size() + p.destination_rules.size() + p.services.size();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string file = "fuzz.yaml";
  const policy::ParsedDocuments parsed = policy::parseYaml(text, file);
  check(summary(parsed) == summary(policy::parseYaml(text, file)), "deterministic");

  // Lines of the text, and one past its end (an error at EOF).
  const int max_line = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 2;
  if (!parsed.unreadable_files.empty()) {
    check(parsed.unreadable_files == std::vector<std::string>{file}, "unreadable: the file");
    check(accepted(parsed) == 0 && !parsed.mesh && parsed.rejected.empty(), "unreadable file defines nothing");
    check(parsed.warnings.size() == 1 && parsed.warnings[0].kind == "File", "unreadable file says why once");
  }
  for (const auto& r : parsed.rejected) {
    check(r.source.file == file && r.source.line >= 0 && r.source.line <= max_line, "rejection's line");
    check(!r.reason.empty() && !r.kind.empty(), "rejection says why");
  }
  for (const auto& w : parsed.warnings) {
    check(w.source.file == file && w.source.line >= 0 && w.source.line <= max_line, "warning's line");
    check(!w.message.empty(), "warning says what");
  }

  // What the agent does next with a policy file: the store, then the compiler.
  policy::PolicyStore store;
  const auto report = store.apply(parsed);
  check(report.objects <= accepted(parsed), "store holds only accepted objects");
  std::map<std::string, uint64_t> cgroups;
  uint64_t id = 1;
  for (const auto& w : store.snapshot().workloads) cgroups[w.meta.namespace_ + "/" + w.meta.name] = id++;
  const auto compiled = compiler::compilePolicy(store.snapshot(), cgroups, compiler::CompileOptions{}, {});
  check(compiled.workload_cgroups.size() <= cgroups.size(), "compiled only known workloads");
  return 0;
}
