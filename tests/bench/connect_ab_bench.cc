// connect_ab_bench: connect() cost in two or more variants (a cgroup, and a
// network namespace: A and B, or --variant ...) measured side by side in one
// process tree, for a paired comparison that load drift on a shared machine
// hits equally. One worker process per variant, joined to its cgroup and
// netns, takes its turn running a short batch; the parent decides the order
// (a random permutation per round and connect kind) and waits while a worker
// runs. Run it under `taskset -c CPU` so every worker shares one CPU.
// Each variant is compared with the reference variant (B, or --reference).
//
// Per batch: mean ns of connect() alone, mean ns of the whole
// socket()+connect()+close() cycle, and, from the kernel's BPF run-time stats
// (bpf_prog_info run_cnt / run_time_ns; this process holds them on while it
// runs, only when program ids are given: they cost every program a clock
// read), the mean ns per run of the given programs of that batch's agent.
// Each round gives one variant/reference ratio per figure; the summary is the
// median ratio with a distribution-free 95% confidence interval for it (order
// statistics) and the quartiles. --samples FILE appends every round's values
// (kind, figure, variant, round, ns) for scripts/bench.sh's table.
//
// Connect kinds (interleaved in every round, order shuffled):
//   udp IP:PORT      UDP connect(), no send: the cheapest connect, so the
//                    hooks' share is the largest (the worst case for a ratio);
//                    what getaddrinfo() does to sort addresses
//   udp-send         the same, then one send(): a known flow's datagram
//   tcp IP:PORT      non-blocking TCP connect() to a listener: SYN, SYN-ACK and
//                    ACK are handled in the caller's softirq over a veth, as
//                    a pod sees it; close() aborts (SO_LINGER 0), so no
//                    TIME_WAIT piles up over hundreds of thousands of connects
//   udp-new          UDP connect() to a different destination every call
//                    (198.18.0.0/15, port 1024-61023), no send: an allowed
//                    UDP connect's flow is recorded at its first datagram
//                    (bpf/lib/udp_connect.h), so this is the slot claim alone
//   udp-new-send     the same, then one send(): the new flow's insert (LRU
//                    eviction once full) and event, in cgroup_skb/egress
//   tcp-new          TCP connect() as `tcp`, to a different address every call
//                    (198.18.0.0/15, the listener's port; the far side routes
//                    that range to itself): a new flow on a connect that sends
//                    a packet, as a pod's first call to a host is
//
//   connect_ab_bench --cgroup-a DIR --cgroup-b DIR [--netns NAME] [--label-a on --label-b off]
//     [--progs-a ID,ID] [--progs-b ID,ID] [--rounds 200] [--warmup 5]
//   connect_ab_bench --variant LABEL=CGROUP[@NETNS] ... [--reference LABEL] [--samples FILE] ...
//     [--udp IP:PORT] [--tcp IP:PORT] [--udp-new] [--udp-send] [--udp-new-send] [--tcp-new] [--batch-udp 2000]
//     [--batch-tcp 300] [--seed 1]
#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <bpf/bpf.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_stats.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace egressd::bench;

enum class Kind : uint8_t { kUdp = 0, kTcp = 1, kUdpNew = 2, kTcpNew = 3, kUdpSend = 4, kUdpNewSend = 5 };
constexpr size_t kKinds = 6;

bool sends(Kind k) { return k == Kind::kUdpSend || k == Kind::kUdpNewSend; }

bool isTcp(Kind k) { return k == Kind::kTcp || k == Kind::kTcpNew; }

const char* kindName(Kind k) {
  switch (k) {
    case Kind::kUdp:
      return "UDP connect(), no send, same destination";
    case Kind::kTcp:
      return "TCP connect() (non-blocking, handshake to a listener), same flow";
    case Kind::kUdpNew:
      return "UDP connect(), no send, a new destination every call";
    case Kind::kUdpSend:
      return "UDP connect() and one send(), same flow (the cycle includes the send)";
    case Kind::kTcpNew:
      return "TCP connect() (non-blocking, handshake to a listener), a new flow every call";
    case Kind::kUdpNewSend:
      return "UDP connect() and one send(), a new flow every call (the cycle includes the send)";
  }
  return "?";
}

// A short name for a kind, as in the flags (--samples rows).
const char* kindKey(Kind k) {
  switch (k) {
    case Kind::kUdp:
      return "udp";
    case Kind::kTcp:
      return "tcp";
    case Kind::kUdpNew:
      return "udp-new";
    case Kind::kUdpSend:
      return "udp-send";
    case Kind::kTcpNew:
      return "tcp-new";
    case Kind::kUdpNewSend:
      return "udp-new-send";
  }
  return "?";
}

struct BatchRequest {
  Kind kind;
  uint32_t calls;
};

struct BatchResult {
  double connect_ns = 0;  // sum over the batch
  double cycle_ns = 0;    // socket()+connect()+close(), sum over the batch
  uint32_t failed = 0;
};

bool parseEndpoint(const std::string& text, sockaddr_in& out) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  out = {};
  out.sin_family = AF_INET;
  out.sin_port = htons(static_cast<uint16_t>(std::stoi(text.substr(colon + 1))));
  return inet_pton(AF_INET, text.substr(0, colon).c_str(), &out.sin_addr) == 1;
}

using Clock = std::chrono::steady_clock;

// One worker: joins its cgroup (sockets are charged to the cgroup of the task
// that creates them), then runs batches on request until the pipe closes.
// Then enters the network namespace, if any (after the cgroup: `ip netns
// exec` would hide cgroupfs behind a fresh /sys).
[[noreturn]] void workerLoop(const std::string& cgroup, const std::string& netns, int in_fd, int out_fd,
                             const sockaddr_in& udp, const sockaddr_in& tcp) {
  {
    std::ofstream procs(cgroup + "/cgroup.procs");
    procs << getpid() << std::flush;
    if (!procs) {
      std::fprintf(stderr, "cannot join %s: %s\n", cgroup.c_str(), std::strerror(errno));
      _exit(1);
    }
  }
  if (!netns.empty()) {
    const int ns = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
      std::fprintf(stderr, "cannot enter netns %s: %s\n", netns.c_str(), std::strerror(errno));
      _exit(1);
    }
    close(ns);
  }
  uint64_t new_flow = 0;      // udp-new(-send): a fresh (address, port) per call
  uint64_t new_tcp_flow = 0;  // tcp-new: a fresh address per call
  BatchRequest req{};
  while (read(in_fd, &req, sizeof(req)) == static_cast<ssize_t>(sizeof(req))) {
    BatchResult res;
    for (uint32_t i = 0; i < req.calls; ++i) {
      sockaddr_in addr = isTcp(req.kind) ? tcp : udp;
      if (req.kind == Kind::kUdpNew || req.kind == Kind::kUdpNewSend) {
        const uint64_t n = new_flow++;
        addr.sin_family = AF_INET;  // also without --udp
        addr.sin_addr.s_addr = htonl((198u << 24 | 18u << 16) + static_cast<uint32_t>(n / 60000 % 131072));
        addr.sin_port = htons(static_cast<uint16_t>(1024 + n % 60000));
      } else if (req.kind == Kind::kTcpNew) {
        addr.sin_addr.s_addr = htonl((198u << 24 | 18u << 16) + static_cast<uint32_t>(new_tcp_flow++ % 131072));
      }
      const auto t0 = Clock::now();
      const int fd = isTcp(req.kind) ? socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0) : socket(AF_INET, SOCK_DGRAM, 0);
      if (isTcp(req.kind)) {
        // Abort on close: no TIME_WAIT, so ports never run out.
        linger l{1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
      }
      const auto t1 = Clock::now();
      const int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
      const auto t2 = Clock::now();
      if (rc < 0 && !(isTcp(req.kind) && errno == EINPROGRESS)) ++res.failed;
      if (sends(req.kind) && rc == 0 && send(fd, "x", 1, 0) != 1) ++res.failed;
      close(fd);
      const auto t3 = Clock::now();
      res.connect_ns += static_cast<double>(std::chrono::nanoseconds(t2 - t1).count());
      res.cycle_ns += static_cast<double>(std::chrono::nanoseconds(t3 - t0).count());
    }
    if (write(out_fd, &res, sizeof(res)) != static_cast<ssize_t>(sizeof(res))) _exit(1);
  }
  _exit(0);
}

struct Worker {
  pid_t pid = -1;
  int to = -1;
  int from = -1;
};

Worker spawnWorker(const std::string& cgroup, const std::string& netns, const sockaddr_in& udp, const sockaddr_in& tcp) {
  int down[2], up[2];
  if (pipe(down) != 0 || pipe(up) != 0) {
    std::perror("pipe");
    std::exit(1);
  }
  const pid_t pid = fork();
  if (pid == 0) {
    close(down[1]);
    close(up[0]);
    workerLoop(cgroup, netns, down[0], up[1], udp, tcp);
  }
  close(down[0]);
  close(up[1]);
  return {pid, down[1], up[0]};
}

BatchResult runBatch(const Worker& w, BatchRequest req) {
  BatchResult res;
  if (write(w.to, &req, sizeof(req)) != static_cast<ssize_t>(sizeof(req)) ||
      read(w.from, &res, sizeof(res)) != static_cast<ssize_t>(sizeof(res))) {
    std::fprintf(stderr, "worker %d died\n", w.pid);
    std::exit(1);
  }
  return res;
}

struct Sample {
  double connect_ns, cycle_ns;
  std::vector<double> prog_ns;  // per program
};

// One side of the comparison: where its worker runs, and its agent's programs.
struct Variant {
  std::string label, cgroup, netns;
  std::vector<Prog> progs;
  Worker worker;
  bool run_stats = false;  // kernel BPF run-time stats on during its batches
};

// LABEL=CGROUP[@NETNS]
bool parseVariant(const std::string& text, const std::string& default_netns, Variant& out) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  out.label = text.substr(0, eq);
  const std::string rest = text.substr(eq + 1);
  const auto at = rest.find('@');
  out.cgroup = rest.substr(0, at);
  out.netns = at == std::string::npos ? default_netns : rest.substr(at + 1);
  return !out.cgroup.empty();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"connect() cost in two or more cgroups (and netns), paired batches in one run"};
  std::string netns;
  std::string cg_a, cg_b, label_a = "A", label_b = "B", progs_a, progs_b, udp_ep, tcp_ep, prog_names, reference,
      samples_path;
  std::vector<std::string> variant_args;
  int rounds = 200, warmup = 5;
  uint32_t batch_udp = 2000, batch_tcp = 300;
  bool udp_new = false, tcp_new = false, udp_send = false, udp_new_send = false;
  unsigned seed = 1;
  app.add_option("--cgroup-a", cg_a);
  app.add_option("--cgroup-b", cg_b);
  app.add_option("--variant", variant_args, "LABEL=CGROUP[@NETNS], repeatable (instead of --cgroup-a/-b)");
  std::vector<std::string> variant_progs, stats_on;
  app.add_option("--stats-on", stats_on,
                 "LABEL: the kernel's BPF run-time stats are on during this --variant's batches only (what they cost "
                 "every program), repeatable; not with program ids");
  app.add_option("--progs", variant_progs, "LABEL=ID,ID: a --variant's program ids (same programs, same order)");
  app.add_option("--reference", reference, "the variant the others are divided by (default: B, or the first)");
  app.add_option("--samples", samples_path, "append per-round values here: kind figure variant round ns");
  app.add_option("--netns", netns, "network namespace (ip netns name) the workers connect from");
  app.add_option("--label-a", label_a);
  app.add_option("--label-b", label_b);
  app.add_option("--progs-a", progs_a, "program ids of A's agent, comma-separated");
  app.add_option("--progs-b", progs_b, "the same programs of B's agent, same order");
  app.add_option("--prog-names", prog_names, "their names, comma-separated");
  app.add_option("--rounds", rounds);
  app.add_option("--warmup", warmup, "rounds run first and not counted");
  app.add_option("--udp", udp_ep, "IP:PORT");
  app.add_option("--tcp", tcp_ep, "IP:PORT of a listener");
  app.add_flag("--udp-new", udp_new);
  app.add_flag("--udp-send", udp_send);
  app.add_flag("--udp-new-send", udp_new_send);
  app.add_flag("--tcp-new", tcp_new, "needs --tcp (its port) and 198.18.0.0/15 routed to the listener");
  app.add_option("--batch-udp", batch_udp);
  app.add_option("--batch-tcp", batch_tcp);
  app.add_option("--seed", seed);
  CLI11_PARSE(app, argc, argv);

  sockaddr_in udp{}, tcp{};
  std::vector<Kind> kinds;
  if (!udp_ep.empty()) {
    if (!parseEndpoint(udp_ep, udp)) return 2;
    kinds.push_back(Kind::kUdp);
  }
  if (!tcp_ep.empty()) {
    if (!parseEndpoint(tcp_ep, tcp)) return 2;
    kinds.push_back(Kind::kTcp);
  }
  if (udp_new) kinds.push_back(Kind::kUdpNew);
  if (udp_send) {
    if (udp_ep.empty()) {
      std::fprintf(stderr, "--udp-send needs --udp IP:PORT\n");
      return 2;
    }
    kinds.push_back(Kind::kUdpSend);
  }
  if (udp_new_send) kinds.push_back(Kind::kUdpNewSend);
  if (tcp_new) {
    if (tcp_ep.empty()) {
      std::fprintf(stderr, "--tcp-new needs --tcp IP:PORT (the listener's port)\n");
      return 2;
    }
    kinds.push_back(Kind::kTcpNew);
  }
  if (kinds.empty()) {
    std::fprintf(stderr, "nothing to measure: --udp, --tcp, --udp-new and/or --tcp-new\n");
    return 2;
  }
  std::vector<Variant> variants;
  if (!cg_a.empty() || !cg_b.empty()) {
    if (cg_a.empty() || cg_b.empty() || !variant_args.empty()) {
      std::fprintf(stderr, "--cgroup-a and --cgroup-b go together, and not with --variant\n");
      return 2;
    }
    variants.push_back({label_a, cg_a, netns, openProgs(progs_a), {}});
    variants.push_back({label_b, cg_b, netns, openProgs(progs_b), {}});
    if (reference.empty()) reference = label_b;
  }
  for (const auto& arg : variant_args) {
    Variant v;
    if (!parseVariant(arg, netns, v)) {
      std::fprintf(stderr, "--variant %s: expected LABEL=CGROUP[@NETNS]\n", arg.c_str());
      return 2;
    }
    variants.push_back(std::move(v));
  }
  for (const auto& arg : variant_progs) {
    const auto eq = arg.find('=');
    const auto it = std::find_if(variants.begin(), variants.end(),
                                 [&](const Variant& v) { return eq != std::string::npos && v.label == arg.substr(0, eq); });
    if (it == variants.end()) {
      std::fprintf(stderr, "--progs %s: expected LABEL=ID,ID naming a --variant\n", arg.c_str());
      return 2;
    }
    it->progs = openProgs(arg.substr(eq + 1));
  }
  for (const auto& label : stats_on) {
    const auto it = std::find_if(variants.begin(), variants.end(), [&](const Variant& v) { return v.label == label; });
    if (it == variants.end()) {
      std::fprintf(stderr, "--stats-on %s names no --variant\n", label.c_str());
      return 2;
    }
    it->run_stats = true;
  }
  if (variants.size() < 2) {
    std::fprintf(stderr, "two variants at least: --cgroup-a/-b or --variant twice\n");
    return 2;
  }
  if (reference.empty()) reference = variants.front().label;
  const auto ref_it = std::find_if(variants.begin(), variants.end(), [&](const Variant& v) { return v.label == reference; });
  if (ref_it == variants.end()) {
    std::fprintf(stderr, "--reference %s names no variant\n", reference.c_str());
    return 2;
  }
  const size_t ref = static_cast<size_t>(ref_it - variants.begin());
  std::vector<std::string> names;
  {
    std::stringstream in(prog_names);
    for (std::string n; std::getline(in, n, ',');) names.push_back(n);
  }
  // Programs are compared between the variants that name them.
  size_t nprog = 0;
  for (const auto& v : variants) nprog = std::max(nprog, v.progs.size());
  // Program run time needs the kernel's BPF stats: held on only while a
  // program is measured, since they cost every BPF program on the machine.
  int stats_fd = -1;
  if (nprog > 0 && !stats_on.empty()) {
    std::fprintf(stderr, "--stats-on and program ids exclude each other (program ids hold the stats on)\n");
    return 2;
  }
  if (nprog > 0) {
    stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
    if (stats_fd < 0) std::fprintf(stderr, "BPF run-time stats: %s (program figures missing)\n", std::strerror(errno));
  }

  for (auto& v : variants) v.worker = spawnWorker(v.cgroup, v.netns, udp, tcp);

  std::mt19937 rng(seed);
  // samples[kind][variant][round]
  std::vector<std::vector<std::vector<Sample>>> samples(kKinds, std::vector<std::vector<Sample>>(variants.size()));
  std::vector<size_t> order(variants.size());
  uint64_t failed = 0;
  for (int r = 0; r < warmup + rounds; ++r) {
    std::vector<Kind> kind_order = kinds;
    std::shuffle(kind_order.begin(), kind_order.end(), rng);
    for (Kind k : kind_order) {
      const BatchRequest req{k, isTcp(k) ? batch_tcp : batch_udp};
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::shuffle(order.begin(), order.end(), rng);
      for (size_t vi : order) {
        const auto& v = variants[vi];
        const int batch_stats = v.run_stats ? bpf_enable_stats(BPF_STATS_RUN_TIME) : -1;
        if (v.run_stats && batch_stats < 0) {
          std::fprintf(stderr, "BPF run-time stats: %s\n", std::strerror(errno));
          return 1;
        }
        const auto before = readAll(v.progs);
        const BatchResult res = runBatch(v.worker, req);
        const auto after = readAll(v.progs);
        if (batch_stats >= 0) close(batch_stats);
        Sample out{res.connect_ns / req.calls, res.cycle_ns / req.calls, {}};
        for (size_t i = 0; i < nprog; ++i) out.prog_ns.push_back(i < v.progs.size() ? perRun(before, after, i) : NAN);
        failed += res.failed;
        if (r >= warmup) samples[static_cast<size_t>(k)][vi].push_back(out);
      }
    }
  }
  for (const auto& v : variants) close(v.worker.to);
  for (const auto& v : variants) waitpid(v.worker.pid, nullptr, 0);
  if (stats_fd >= 0) close(stats_fd);

  if (!samples_path.empty()) {
    FILE* f = std::fopen(samples_path.c_str(), "a");
    if (!f) {
      std::fprintf(stderr, "%s: %s\n", samples_path.c_str(), std::strerror(errno));
      return 1;
    }
    for (Kind k : kinds) {
      for (size_t vi = 0; vi < variants.size(); ++vi) {
        const auto& vs = samples[static_cast<size_t>(k)][vi];
        for (size_t r = 0; r < vs.size(); ++r) {
          std::fprintf(f, "%s connect %s %zu %.1f\n", kindKey(k), variants[vi].label.c_str(), r, vs[r].connect_ns);
          std::fprintf(f, "%s cycle %s %zu %.1f\n", kindKey(k), variants[vi].label.c_str(), r, vs[r].cycle_ns);
          for (size_t i = 0; i < vs[r].prog_ns.size(); ++i) {
            if (std::isnan(vs[r].prog_ns[i])) continue;
            const std::string name = i < names.size() ? names[i] : "program" + std::to_string(i);
            std::fprintf(f, "%s %s %s %zu %.1f\n", kindKey(k), name.c_str(), variants[vi].label.c_str(), r,
                         vs[r].prog_ns[i]);
          }
        }
      }
    }
    std::fclose(f);
  }

  std::printf("%d rounds (+%d warm-up), each kind's batches of every variant back to back in random order; "
              "medians over rounds, [95%% CI of the median], {quartiles} of the per-round ratio to %s\n",
              rounds, warmup, reference.c_str());
  const Variant& b_var = variants[ref];
  const auto& label_ref = b_var.label;
  for (Kind k : kinds) {
    const auto& b = samples[static_cast<size_t>(k)][ref];
    const uint32_t calls = isTcp(k) ? batch_tcp : batch_udp;
    std::printf("\n%s, batches of %u:\n", kindName(k), calls);
    for (size_t vi = 0; vi < variants.size(); ++vi) {
      if (vi == ref) continue;
      const auto& a = samples[static_cast<size_t>(k)][vi];
      const auto& label = variants[vi].label;
      // Returns {median reference value, median variant-reference difference}.
      auto line = [&](const char* what, auto get) -> std::pair<double, double> {
        std::vector<double> va, vb, ratio, delta;
        for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
          va.push_back(get(a[i]));
          vb.push_back(get(b[i]));
          ratio.push_back(get(a[i]) / get(b[i]));
          delta.push_back(get(a[i]) - get(b[i]));
        }
        const Summary sa_ = summarize(va), sb_ = summarize(vb), r = summarize(ratio), d = summarize(delta);
        if (std::isnan(sa_.median)) return {NAN, NAN};
        std::printf("  %-28s %s %8.1f ns  %s %8.1f ns  ratio x%.3f [%.3f-%.3f] {%.3f-%.3f}  diff %+.1f ns [%+.1f..%+.1f]\n",
                    what, label.c_str(), sa_.median, label_ref.c_str(), sb_.median, r.median, r.lo, r.hi, r.q1, r.q3,
                    d.median, d.lo, d.hi);
        return {sb_.median, d.median};
      };
      const double connect_b = line("connect()", [](const Sample& s) { return s.connect_ns; }).first;
      const double cycle_b = line("socket+connect+close", [](const Sample& s) { return s.cycle_ns; }).first;
      std::vector<double> prog_diff;
      for (size_t i = 0; i < nprog; ++i) {
        const std::string what = (i < names.size() ? names[i] : "program " + std::to_string(i)) + " ns/run";
        prog_diff.push_back(line(what.c_str(), [i](const Sample& s) { return s.prog_ns[i]; }).second);
      }
      // The programs' added ns are the stable part; expressed against the
      // reference's wall-clock cost they give the overhead with the machine's
      // noise taken out (program 0 runs in connect(), every program in the
      // whole cycle).
      if (!prog_diff.empty() && !std::isnan(prog_diff[0])) {
        double all = 0;
        for (double d : prog_diff) all += std::isnan(d) ? 0 : d;
        std::printf("  => from program run time: connect() %+.1f ns = %+.2f%% of %s's connect(); whole cycle %+.1f ns = "
                    "%+.2f%% of %s's socket+connect+close\n",
                    prog_diff[0], 100 * prog_diff[0] / connect_b, label_ref.c_str(), all, 100 * all / cycle_b,
                    label_ref.c_str());
      }
    }
  }
  std::printf("\nfailed connects: %llu\n", static_cast<unsigned long long>(failed));
  return failed ? 1 : 0;
}
