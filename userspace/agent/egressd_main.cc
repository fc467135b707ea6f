// egressd: the node agent. Parses flags, then hands over to Agent.
#include <spdlog/spdlog.h>
#include <sys/utsname.h>

#include <atomic>
#include <csignal>
#include <iostream>

#include "agent/agent.h"
#include "agent/option_checks.h"
#include "bpf/datapath.h"
#include "bpf/kernel_features.h"

namespace {

std::atomic<bool> g_stop{false};  // set from the signal handler only

void onSignal(int) { g_stop = true; }

// The kernel's BPF features before anything is loaded: a kernel that lacks
// one gets a message naming it and the release that brings it, not a
// verifier log. A probe that can't run (no privilege) is left to the load.
bool kernelSupported() {
  utsname uts{};
  const std::string release = ::uname(&uts) == 0 ? uts.release : "(unknown)";
  auto missing = egressd::bpf::missingKernelFeatures();
  if (!missing) {
    spdlog::warn("{}", missing.error());
    return true;
  }
  if (auto supported = egressd::bpf::kernelSupport(release, *missing); !supported) {
    spdlog::critical("{}", supported.error());
    return false;
  }
  if (egressd::bpf::olderThanTested(release))
    spdlog::warn("kernel {} has every feature egressd probes for but is older than the oldest tested kernel ({})",
                 release, egressd::bpf::kOldestTestedKernel);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  auto options = egressd::agent::parseAgentOptions(argc, argv, exit_code);
  if (!options) {
    (exit_code == 0 ? std::cout : std::cerr) << options.error() << "\n";
    return exit_code;
  }
  spdlog::set_level(spdlog::level::from_str(options->log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  if (options->uninstall) {
    auto status = egressd::bpf::unpinAll(options->bpffs);
    if (!status) {
      spdlog::error("uninstall: {}", status.error());
      return 1;
    }
    spdlog::info("detached programs and removed pins under {}", options->bpffs);
    return 0;
  }

  // Every flag and path before the kernel is touched (exit 2, as a bad flag).
  if (auto checked = egressd::agent::checkAgentOptions(*options); !checked) {
    std::cerr << checked.error() << "\n";
    return 2;
  }
  if (!kernelSupported()) return 1;
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  egressd::agent::Agent agent(*options);
  if (auto status = agent.start(); !status) {
    spdlog::critical("{}", status.error());
    return 1;
  }
  agent.run(g_stop);
  // Programs, links and maps stay pinned: enforcement continues while the
  // agent is down, and the next agent adopts them.
  spdlog::info("stopping; enforcement stays in the kernel (egressd --uninstall removes it)");
  return 0;
}
