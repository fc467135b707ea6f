// libFuzzer over the Kubernetes JSON the agent decodes: a LIST page and a
// WATCH stream through the reflector (as the API server would send them),
// then each cached object as the policy source reads it (a Pod through
// podWorkload(), anything else through parseYaml, JSON being YAML). Input:
// the list page's body, a NUL byte, the watch stream's lines. Seeded from the
// objects under tests/kube/testdata (scripts/fuzz.sh). Besides ASan/UBSan and
// no escaping exception it checks:
//  - the cache holds only JSON objects, each under its "namespace/name";
//  - podWorkload() names a workload only for a Pod with a name.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "kube/pod_workload.h"
#include "kube/reflector.h"
#include "kube/transport.h"
#include "policy/parser.h"

namespace {

using namespace egressd;
using json = nlohmann::json;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

// One list answer, one watch answer, then the reflector is stopped.
class ScriptedTransport : public kube::Transport {
 public:
  ScriptedTransport(std::string page, std::vector<std::string_view> lines)
      : page_(std::move(page)), lines_(std::move(lines)) {}
  void attach(kube::Reflector& reflector) { reflector_ = &reflector; }

  Result<kube::Response> get(const kube::Request&, const kube::CancelCheck&) override {
    if (gets_++ > 0) return end();
    return kube::Response{200, page_};
  }
  Result<kube::Response> stream(const kube::Request&, const kube::LineHandler& on_line,
                                const kube::CancelCheck& cancelled) override {
    if (streams_++ > 0) return end();
    for (const auto line : lines_) {
      on_line(line);
      if (cancelled()) break;
    }
    return kube::Response{200, ""};
  }

 private:
  Result<kube::Response> end() {
    reflector_->stop();
    return fail("end of script");
  }
  std::string page_;
  std::vector<std::string_view> lines_;
  kube::Reflector* reflector_ = nullptr;
  int gets_ = 0, streams_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string page(input.substr(0, nul));
  std::vector<std::string_view> lines;
  if (nul != std::string_view::npos) {
    std::string_view rest = input.substr(nul + 1);
    while (!rest.empty()) {
      const size_t end = rest.find('\n');
      lines.push_back(rest.substr(0, end));
      if (end == std::string_view::npos) break;
      rest.remove_prefix(end + 1);
    }
  }

  ScriptedTransport transport(page, lines);
  kube::ReflectorEnv::Clock::time_point now{};
  kube::ReflectorEnv env{[&now] { return now += std::chrono::milliseconds(1); }, [] { return 0.5; },
                         [&now](std::chrono::milliseconds d) { now += d; }};
  kube::Reflector reflector(transport, {"pods", "v1", "Pod", "/api/v1/pods", {}}, {}, {}, env);
  transport.attach(reflector);
  reflector.run();

  for (const auto& [key, text] : reflector.objects()) {
    const json object = json::parse(*text, nullptr, false);
    check(object.is_object(), "cached object is a JSON object");
    const json& meta = object.contains("metadata") && object["metadata"].is_object() ? object["metadata"] : json();
    const std::string ns = meta.is_object() && meta.contains("namespace") && meta["namespace"].is_string()
                               ? meta["namespace"].get<std::string>()
                               : "";
    const std::string name =
        meta.is_object() && meta.contains("name") && meta["name"].is_string() ? meta["name"].get<std::string>() : "";
    check(key == (ns.empty() ? name : ns + "/" + name), "cached under namespace/name");

    // As the policy source reads it.
    auto workload = kube::podWorkload(object);
    if (workload && *workload) check(!(*workload)->meta.name.empty(), "a workload has a name");
    (void)kube::istioWorkloadName(object);
    const policy::ParsedDocuments parsed = policy::parseYaml(*text, "", "istio");
    for (const auto& r : parsed.rejected) check(!r.reason.empty(), "rejection says why");
  }
  return 0;
}
