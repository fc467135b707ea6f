// Kernel cost of DNS learning (bpf/lib/dns_learn.h), measured by the kernel:
// BPF_PROG_TEST_RUN reports the mean ns per run (`duration`). The programs
// are the production code in bpf/dns_learn_test.bpf.c (fixed socket cookie).
//  - learn: the whole ingress path for one answer that is learned (trust
//    checks, workload, pending query, parse, name match, 4 map writes). An
//    answer consumes its query, so each run is preceded by the egress run of
//    its query and measured with repeat=1; median of many runs.
//  - empty: the same harness on an empty program, measured the same way.
//  - no-query: ingress of the same answer with no pending query (parse and
//    reject), with repeat (the kernel's own loop), against empty with repeat.
// Also prints the verifier's instruction counts. Not a timed test.
// Usage: dns_learn_bench [runs=20000] [repeat=100000]
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "bpf/cgroup.h"
#include "compiler/host_classes.h"
#include "dns_learn_test.skel.h"
#include "fixtures/dns_answers.h"
#include "fixtures/dns_fixture_util.h"
#include "fixtures/dns_packets.h"

namespace {

using namespace egressd::testing;

double runOnce(int fd, const std::vector<uint8_t>& frame, int repeat) {
  __sk_buff ctx{};
  ctx.ingress_ifindex = 7;
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_size_in = static_cast<uint32_t>(frame.size()),
              .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = repeat);
  if (bpf_prog_test_run_opts(fd, &opts) != 0) return -1;
  return opts.duration;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

uint64_t ownCgroupId() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) {
      auto id = egressd::bpf::cgroupIdOf(egressd::bpf::cgroup2MountRoot() + line.substr(3));
      return id ? *id : 0;
    }
  }
  return 0;
}

std::vector<uint8_t> queryFor(const std::vector<uint8_t>& answer) {
  auto parsed = parseTwin(answer);
  std::vector<uint8_t> q(answer.begin(), answer.begin() + parsed.st.qend + 4);
  q[2] = 0x01;
  q[3] = 0x00;
  q[6] = q[7] = q[10] = q[11] = 0;
  return q;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int repeat = argc > 2 ? std::atoi(argv[2]) : 100000;
  dns_learn_test* skel = dns_learn_test__open_and_load();
  if (!skel) {
    std::fprintf(stderr, "cannot load dns_learn_test: %s (needs root and BPF)\n", std::strerror(errno));
    return 1;
  }
  // This process's cgroup is the workload (scope 1); the resolver is trusted;
  // the question's name is an allowed exact host.
  egressd_workload_key wk{ownCgroupId()};
  egressd_workload_value wv{1, 0};
  bpf_map_update_elem(bpf_map__fd(skel->maps.workloads), &wk, &wv, BPF_ANY);
  egressd_dns_server_key sk{};
  sk.addr[10] = sk.addr[11] = 0xff;
  sk.addr[12] = 192, sk.addr[13] = 0, sk.addr[14] = 2, sk.addr[15] = 53;
  sk.port = 53;
  egressd_dns_server_value sv{};
  bpf_map_update_elem(bpf_map__fd(skel->maps.dns_servers), &sk, &sv, BPF_ANY);
  egressd::compiler::HostTable hosts;
  egressd::compiler::ScopeSet scopes{};
  scopes[0] = 2;
  hosts.grant(*egressd::compiler::normalizeHost("www.example.org"), 443, 6, scopes, 0);
  egressd::DesiredState desired;
  std::vector<std::string> errors;
  hosts.emit(desired, errors);
  for (const auto& [k, v] : desired.dns_names) bpf_map_update_elem(bpf_map__fd(skel->maps.dns_names), &k, &v, BPF_ANY);

  const auto& fixtures = dnsAnswerFixtures();
  auto four = std::find_if(fixtures.begin(), fixtures.end(),
                           [](const auto& f) { return f.description.rfind("four A records", 0) == 0; });
  const auto answer = hexToBytes(four->hex);
  const auto answer_frame = udpFrame(4, answer);
  const auto query_frame = udpFrame(4, queryFor(answer), true);
  const int egress = bpf_program__fd(skel->progs.dns_learn_egress);
  const int ingress = bpf_program__fd(skel->progs.dns_learn_ingress);
  const int empty = bpf_program__fd(skel->progs.dns_learn_empty);

  // "fresh": every run's 4 addresses are new (last two bytes vary), so each
  // learn inserts 4 entries; "again": the same 4 addresses, refreshed in place.
  std::vector<double> learn, fresh, empty1, query;
  for (int i = 0; i < runs; ++i) {  // interleaved, so drift hits all alike
    query.push_back(runOnce(egress, query_frame, 1));
    learn.push_back(runOnce(ingress, answer_frame, 1));
    auto varied = answer_frame;
    for (size_t k = 0; k < 4; ++k) {
      const size_t at = varied.size() - 1 - 16 * k;  // last byte of each A rdata
      varied[at - 1] = static_cast<uint8_t>(i >> 8);
      varied[at] = static_cast<uint8_t>(i);
    }
    query.push_back(runOnce(egress, query_frame, 1));
    fresh.push_back(runOnce(ingress, varied, 1));
    empty1.push_back(runOnce(empty, answer_frame, 1));
  }
  // Every other packet also passes these hooks: a UDP datagram from a
  // non-resolver (198.51.100.7:443) costs header parsing and one lookup.
  const auto other_frame = udpFrame(4, answer, false, "198.51.100.7");
  auto other_sport = other_frame;
  other_sport[14 + 20] = 443 >> 8;
  other_sport[14 + 21] = 443 & 0xff;
  std::vector<double> noquery, emptyr, other_in, other_out;
  for (int r = 0; r < 7; ++r) {
    noquery.push_back(runOnce(ingress, answer_frame, repeat));
    emptyr.push_back(runOnce(empty, answer_frame, repeat));
    other_in.push_back(runOnce(ingress, other_sport, repeat));
    other_out.push_back(runOnce(egress, other_sport, repeat));
  }
  uint32_t key = EGRESSD_DNS_ANSWERS_LEARNED;
  std::vector<uint64_t> per_cpu(static_cast<size_t>(libbpf_num_possible_cpus()));
  bpf_map_lookup_elem(bpf_map__fd(skel->maps.dns_counters), &key, per_cpu.data());
  uint64_t learned = 0;
  for (auto v : per_cpu) learned += v;

  std::printf("method: BPF_PROG_TEST_RUN, cgroup_skb, packet \"%s\" (%zu-byte DNS payload, 4 A answers,\n"
              "        Ethernet+IPv4/UDP); learn/query/empty: %d interleaved runs with repeat=1, median of the\n"
              "        kernel-reported duration; no-query/empty: repeat=%d, median of 7 rounds\n",
              four->description.c_str(), answer.size(), runs, repeat);
  std::printf("answers learned: %llu of %d runs\n", static_cast<unsigned long long>(learned), 2 * runs);
  const double e1 = median(empty1), er = median(emptyr);
  std::printf("again    %7.1f ns/answer  (x%.2f empty %.1f ns; learn - empty = %.1f ns)\n", median(learn),
              median(learn) / e1, e1, median(learn) - e1);
  std::printf("fresh    %7.1f ns/answer  (x%.2f empty; 4 new IPs inserted per answer)\n", median(fresh),
              median(fresh) / e1);
  std::printf("query    %7.1f ns/query   (egress: parse the question, write dns_pending)\n", median(query));
  std::printf("no-query %7.1f ns/answer  (x%.2f empty %.1f ns, repeat=%d)\n", median(noquery), median(noquery) / er,
              er, repeat);
  std::printf("other    ingress %.1f ns, egress %.1f ns per non-DNS packet (x%.2f / x%.2f empty, repeat=%d)\n",
              median(other_in), median(other_out), median(other_in) / er, median(other_out) / er, repeat);
  std::printf("goal: <= 1000 ns per 4-answer response: %s\n", median(fresh) <= 1000 ? "met" : "NOT met");
  for (auto [name, fd] : {std::pair{"egress", egress}, std::pair{"ingress", ingress}, std::pair{"empty", empty}}) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    bpf_obj_get_info_by_fd(fd, &info, &len);
    std::printf("verifier: %-7s verified_insns %u, xlated %u bytes, jited %u bytes\n", name, info.verified_insns,
                info.xlated_prog_len, info.jited_prog_len);
  }
  dns_learn_test__destroy(skel);
  return 0;
}
