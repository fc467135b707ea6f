// Kernel cost of the DNS answer parser, measured by the kernel itself:
// BPF_PROG_TEST_RUN with `repeat` returns the mean ns per run (`duration`).
// Three programs from the same object run interleaved on the same packet:
// empty (the test-run harness itself), copy (headers + bpf_skb_load_bytes of
// the payload) and parse (copy + dns_parse). parse - empty is the hook's cost,
// parse - copy the parser's. Also prints the verifier's instruction count
// (bpf_prog_info.verified_insns), the budget to watch when the parser grows.
// Usage: dns_parse_bench [repeat=100000] [rounds=7]
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dns_parse_test.skel.h"
#include "fixtures/dns_answers.h"
#include "fixtures/dns_fixture_util.h"
#include "fixtures/dns_packets.h"

namespace {

using egressd::testing::dnsAnswerFixtures;

// Mean ns per run as the kernel measured it, or -1.
double runOnce(int progFd, const std::vector<uint8_t>& frame, int repeat) {
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_size_in = static_cast<uint32_t>(frame.size()),
              .repeat = repeat);
  if (bpf_prog_test_run_opts(progFd, &opts) != 0) return -1;
  return opts.duration;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

bpf_prog_info progInfo(int fd) {
  bpf_prog_info info;
  std::memset(&info, 0, sizeof(info));
  uint32_t len = sizeof(info);
  bpf_obj_get_info_by_fd(fd, &info, &len);
  return info;
}

}  // namespace

int main(int argc, char** argv) {
  int repeat = argc > 1 ? std::atoi(argv[1]) : 100000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 7;
  dns_parse_test* skel = dns_parse_test__open_and_load();
  if (!skel) {
    std::fprintf(stderr, "cannot load dns_parse_test: %s (needs root and BPF)\n", std::strerror(errno));
    return 1;
  }
  const auto& fixtures = dnsAnswerFixtures();
  auto four = std::find_if(fixtures.begin(), fixtures.end(),
                           [](const auto& f) { return f.description.rfind("four A records", 0) == 0; });
  if (four == fixtures.end()) return 1;

  struct Prog {
    const char* name;
    int fd;
    std::vector<double> v4, v6;
  };
  std::vector<Prog> progs = {{"empty", bpf_program__fd(skel->progs.dns_empty_prog), {}, {}},
                             {"copy", bpf_program__fd(skel->progs.dns_copy_prog), {}, {}},
                             {"parse", bpf_program__fd(skel->progs.dns_parse_prog), {}, {}}};
  std::vector<uint8_t> message = egressd::testing::hexToBytes(four->hex);
  std::vector<uint8_t> frame4 = egressd::testing::udpFrame(4, message);
  std::vector<uint8_t> frame6 = egressd::testing::udpFrame(6, message);
  for (int r = 0; r < rounds; ++r) {
    for (auto& p : progs) {  // interleaved, so drift hits every program alike
      p.v4.push_back(runOnce(p.fd, frame4, repeat));
      p.v6.push_back(runOnce(p.fd, frame6, repeat));
    }
  }

  std::printf("method: BPF_PROG_TEST_RUN, cgroup_skb, repeat=%d, %d interleaved rounds, median of the\n"
              "        kernel-reported mean duration (ns/run); packet: \"%s\"\n"
              "        (%zu-byte DNS payload, 4 A answers) in Ethernet+IPv4/UDP and Ethernet+IPv6/UDP\n",
              repeat, rounds, four->description.c_str(), message.size());
  double empty4 = median(progs[0].v4), empty6 = median(progs[0].v6);
  double copy4 = median(progs[1].v4), copy6 = median(progs[1].v6);
  for (auto& p : progs) {
    double m4 = median(p.v4), m6 = median(p.v6);
    std::printf("%-6s ipv4 %7.1f ns  (x%.2f empty)   ipv6 %7.1f ns  (x%.2f empty)\n", p.name, m4, m4 / empty4, m6,
                m6 / empty6);
  }
  double parse4 = median(progs[2].v4), parse6 = median(progs[2].v6);
  std::printf("parser alone (parse - copy): ipv4 %.1f ns, ipv6 %.1f ns; hook (parse - empty): ipv4 %.1f ns, ipv6 %.1f ns\n",
              parse4 - copy4, parse6 - copy6, parse4 - empty4, parse6 - empty6);
  std::printf("goal: <= 1000 ns per 4-answer response: %s\n", parse4 <= 1000 && parse6 <= 1000 ? "met" : "NOT met");
  for (auto& p : progs) {
    bpf_prog_info info = progInfo(p.fd);
    std::printf("verifier: %-6s verified_insns %u, xlated %u bytes, jited %u bytes\n", p.name, info.verified_insns,
                info.xlated_prog_len, info.jited_prog_len);
  }
  dns_parse_test__destroy(skel);
  return 0;
}
