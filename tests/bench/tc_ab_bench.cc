// tc_ab_bench: what TC programs on one interface cost the traffic through it,
// in short paired windows while one long transfer (iperf3, started by the
// caller) runs. Each cycle puts the interface through three states, in an
// order shuffled per cycle:
//   none     no tcx program on the interface
//   hook     a tcx program that only hands each packet on: the hook's own
//            cost (a static key turned on, a call per packet)
//   egressd  the agent's two TC programs (both directions)
// and measures each state's byte rate on the interface (/proc/net/dev, both
// directions) over a window after a settling pause. Switching updates the
// agent's pinned tcx links in place, or detaches and re-creates them (the
// agent stopped, its maps and programs kept by their pins), so a cycle takes
// about a second and the machine's drift (shared vCPUs) hits all three
// states alike. Prints, per cycle, the hook/none and egressd/none ratios and
// their medians with a distribution-free 95% confidence interval; with
// --progs, also the programs' ns per run in the egressd windows.
//
//   tc_ab_bench --netns NS --dev DEV --from-prog-id ID --to-prog-id ID --pin-prefix PATH
//     [--cycles 60] [--settle-ms 150] [--window-ms 300] [--seed 1]
// The caller must run the transfer for cycles * 3 * (settle + window) or more.
#include <fcntl.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_stats.h"
#include "bpf/tc_link.h"
#include "bpf/unique_fd.h"

namespace {

using namespace egressd::bench;
using egressd::bpf::TcAttachRequest;
using egressd::bpf::TcHook;
using egressd::bpf::TcMode;
using egressd::bpf::UniqueFd;
using Clock = std::chrono::steady_clock;

enum class State : uint8_t { kNone = 0, kHook = 1, kEgressd = 2 };

// A SCHED_CLS program that returns TCX_NEXT (-1): hands every packet on.
UniqueFd loadPassThrough() {
  const bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = -1},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  return UniqueFd(bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "tc_pass", "GPL", insns, 2, nullptr));
}

// Bytes through DEV both ways, from the calling thread's network namespace.
uint64_t deviceBytes(const std::string& dev) {
  std::ifstream in("/proc/self/net/dev");
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto name_start = line.find_first_not_of(' ');
    if (line.substr(name_start, colon - name_start) != dev) continue;
    std::istringstream fields(line.substr(colon + 1));
    uint64_t v[9] = {};
    for (auto& x : v) fields >> x;
    return v[0] + v[8];  // rx_bytes, tx_bytes
  }
  std::fprintf(stderr, "no interface %s in /proc/self/net/dev\n", dev.c_str());
  std::exit(1);
}

class Interface {
 public:
  Interface(uint32_t ifindex, std::string pin_prefix, int from_fd, int to_fd, int pass_fd)
      : ifindex_(ifindex), pin_prefix_(std::move(pin_prefix)), from_fd_(from_fd), to_fd_(to_fd), pass_fd_(pass_fd) {}

  void set(State s) {
    if (s == State::kNone) {
      for (TcHook h : {TcHook::kIngress, TcHook::kEgress}) check(egressd::bpf::detachTc(request(h, -1), TcMode::kTcx));
      return;
    }
    // Attaches, or updates the pinned link in place when it is there.
    check(egressd::bpf::attachOrAdoptTc(request(TcHook::kIngress, s == State::kHook ? pass_fd_ : from_fd_)));
    check(egressd::bpf::attachOrAdoptTc(request(TcHook::kEgress, s == State::kHook ? pass_fd_ : to_fd_)));
  }

 private:
  TcAttachRequest request(TcHook hook, int prog_fd) const {
    return {prog_fd, ifindex_, hook, TcMode::kTcx, pin_prefix_ + egressd::bpf::tcHookName(hook)};
  }
  template <typename R>
  static void check(const R& r) {
    if (!r) {
      std::fprintf(stderr, "%s\n", r.error().c_str());
      std::exit(1);
    }
  }
  uint32_t ifindex_;
  std::string pin_prefix_;
  int from_fd_, to_fd_, pass_fd_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"TC programs' cost on an interface's throughput, in short paired windows"};
  std::string netns, dev, pin_prefix;
  uint32_t from_id = 0, to_id = 0;
  int cycles = 60, settle_ms = 150, window_ms = 300;
  unsigned seed = 1;
  app.add_option("--netns", netns, "network namespace of the interface (/run/netns/NAME)")->required();
  app.add_option("--dev", dev, "the workload's host-side interface")->required();
  app.add_option("--from-prog-id", from_id, "egressd_tc_from_pod's id")->required();
  app.add_option("--to-prog-id", to_id, "egressd_tc_to_pod's id")->required();
  app.add_option("--pin-prefix", pin_prefix, "the agent's pinned tcx links, less the hook name (<bpffs>/links/tc-<cgroup id>-)")->required();
  app.add_option("--cycles", cycles);
  app.add_option("--settle-ms", settle_ms);
  app.add_option("--window-ms", window_ms);
  app.add_option("--seed", seed);
  CLI11_PARSE(app, argc, argv);

  const int ns = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "cannot enter netns %s: %s\n", netns.c_str(), std::strerror(errno));
    return 1;
  }
  close(ns);
  const uint32_t ifindex = if_nametoindex(dev.c_str());
  UniqueFd from(bpf_prog_get_fd_by_id(from_id)), to(bpf_prog_get_fd_by_id(to_id)), pass = loadPassThrough();
  if (ifindex == 0 || !from.valid() || !to.valid() || !pass.valid()) {
    std::fprintf(stderr, "need %s in %s and programs %u, %u: %s\n", dev.c_str(), netns.c_str(), from_id, to_id,
                 std::strerror(errno));
    return 1;
  }
  // Run-time stats on, as the agent keeps them: the egressd state pays them
  // as it does in production, and ns/run is readable.
  UniqueFd stats(bpf_enable_stats(BPF_STATS_RUN_TIME));
  const std::vector<Prog> progs{{from_id, from.get()}, {to_id, to.get()}};

  Interface iface(ifindex, pin_prefix, from.get(), to.get(), pass.get());
  std::mt19937 rng(seed);
  std::array<State, 3> order{State::kNone, State::kHook, State::kEgressd};
  std::vector<double> hook_ratio, egressd_ratio, from_ns, to_ns, none_gbps;
  std::printf("cycle  %-8s %-8s %-8s Gbit/s   hook/none egressd/none\n", "none", "hook", "egressd");
  for (int c = 0; c < cycles; ++c) {
    std::shuffle(order.begin(), order.end(), rng);
    std::array<double, 3> bps{};
    for (State s : order) {
      iface.set(s);
      std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms));
      const auto before_stats = readAll(progs);
      const uint64_t b0 = deviceBytes(dev);
      const auto t0 = Clock::now();
      std::this_thread::sleep_for(std::chrono::milliseconds(window_ms));
      const uint64_t b1 = deviceBytes(dev);
      const auto t1 = Clock::now();
      bps[static_cast<size_t>(s)] = 8.0 * static_cast<double>(b1 - b0) / std::chrono::duration<double>(t1 - t0).count();
      if (s == State::kEgressd) {
        const auto after_stats = readAll(progs);
        from_ns.push_back(perRun(before_stats, after_stats, 0));
        to_ns.push_back(perRun(before_stats, after_stats, 1));
      }
    }
    const double none = bps[0];
    if (none <= 0) {
      std::fprintf(stderr, "cycle %d: no traffic through %s (is the transfer running?)\n", c + 1, dev.c_str());
      return 1;
    }
    none_gbps.push_back(none / 1e9);
    hook_ratio.push_back(bps[1] / none);
    egressd_ratio.push_back(bps[2] / none);
    std::printf("%5d  %-8.2f %-8.2f %-8.2f        %.3f     %.3f\n", c + 1, bps[0] / 1e9, bps[1] / 1e9, bps[2] / 1e9,
                hook_ratio.back(), egressd_ratio.back());
  }
  // Leave the agent's programs attached: the pins are what keeps them (and
  // the agent adopts the links when it starts again).
  iface.set(State::kEgressd);
  const auto show = [](const char* what, const std::vector<double>& v, const char* unit) {
    const Summary s = summarize(v);
    std::printf("  %-28s median %.3f%s [95%% CI %.3f-%.3f] {quartiles %.3f-%.3f}\n", what, s.median, unit, s.lo, s.hi,
                s.q1, s.q3);
  };
  std::printf("%d cycles of %d ms settle + %d ms window per state, states shuffled per cycle:\n", cycles, settle_ms,
              window_ms);
  show("throughput without programs", none_gbps, " Gbit/s");
  show("hook only / none", hook_ratio, "");
  show("egressd / none", egressd_ratio, "");
  show("egressd_tc_from_pod ns/run", from_ns, "");
  show("egressd_tc_to_pod ns/run", to_ns, "");
  return 0;
}
