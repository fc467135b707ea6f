#pragma once
// What the paired A/B benchmarks (connect_ab_bench, tc_ab_bench) share: a
// program's kernel run-time stats, and the summary of per-round ratios (the
// median with a distribution-free 95% confidence interval, and quartiles).
#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

namespace egressd::bench {

// A program's cumulative run count and run time (kernel BPF stats).
struct ProgStats {
  uint64_t runs = 0;
  uint64_t ns = 0;
};

struct Prog {
  uint32_t id = 0;
  int fd = -1;
  ProgStats read() const {
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return {};
    return {info.run_cnt, info.run_time_ns};
  }
};

inline std::vector<Prog> openProgs(const std::string& ids) {
  std::vector<Prog> out;
  std::stringstream in(ids);
  std::string id;
  while (std::getline(in, id, ',')) {
    if (id.empty()) continue;
    Prog p{static_cast<uint32_t>(std::stoul(id)), -1};
    p.fd = bpf_prog_get_fd_by_id(p.id);
    if (p.fd < 0) std::fprintf(stderr, "program id %u: %s (no program stats)\n", p.id, std::strerror(errno));
    out.push_back(p);
  }
  return out;
}

inline std::vector<ProgStats> readAll(const std::vector<Prog>& progs) {
  std::vector<ProgStats> out;
  for (const auto& p : progs) out.push_back(p.read());
  return out;
}

// ns per run of program i between two snapshots; NaN when it did not run.
inline double perRun(const std::vector<ProgStats>& before, const std::vector<ProgStats>& after, size_t i) {
  if (i >= before.size() || after[i].runs <= before[i].runs) return std::nan("");
  return static_cast<double>(after[i].ns - before[i].ns) / static_cast<double>(after[i].runs - before[i].runs);
}

struct Summary {
  double median, lo, hi, q1, q3;
};

inline double quantileSorted(const std::vector<double>& s, double q) {
  const double pos = q * static_cast<double>(s.size() - 1);
  const auto i = static_cast<size_t>(pos);
  if (i + 1 >= s.size()) return s.back();
  return s[i] + (pos - static_cast<double>(i)) * (s[i + 1] - s[i]);
}

inline Summary summarize(std::vector<double> v) {
  std::erase_if(v, [](double x) { return std::isnan(x); });
  if (v.empty()) return {NAN, NAN, NAN, NAN, NAN};
  std::sort(v.begin(), v.end());
  const double n = static_cast<double>(v.size());
  // 95% CI of the median: ranks n/2 -+ 1.96 sqrt(n)/2 (binomial, normal approx).
  const auto lo = static_cast<long>(std::floor(n / 2 - 0.98 * std::sqrt(n)));
  const auto hi = static_cast<long>(std::ceil(n / 2 + 0.98 * std::sqrt(n)));
  const auto clamp = [&](long r) { return v[static_cast<size_t>(std::clamp(r, 1L, static_cast<long>(n)) - 1)]; };
  return {quantileSorted(v, 0.5), clamp(lo), clamp(hi), quantileSorted(v, 0.25), quantileSorted(v, 0.75)};
}

}  // namespace egressd::bench
