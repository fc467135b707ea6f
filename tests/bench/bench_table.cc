// bench_table: the one table scripts/bench.sh prints. Reads per-round samples
// ("KIND FIGURE VARIANT ROUND VALUE" lines, as connect_ab_bench --samples and
// the script's request loop write them: every variant of a kind measured in
// the same round, in random order) and prints one markdown row per
// comparison asked for:
//   ratio|TITLE|KIND|FIGURE|A|B        the median over rounds of A/B, with a
//                                      distribution-free 95% CI of that median
//   added|TITLE|KIND|FIGURE|A|B|BASE   what A adds to BASE against what B
//                                      adds: median(A-BASE) / median(B-BASE),
//                                      per-round differences paired, its 95%
//                                      CI by bootstrap over rounds (a ratio of
//                                      two small noisy differences per round
//                                      has no useful median)
// Each row also gives the medians of A and B (or of what each adds).
//   bench_table SAMPLES SPEC...
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <tuple>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench_stats.h"

namespace {

using egressd::bench::summarize;

// samples[kind + " " + figure][variant][round]
using Samples = std::map<std::string, std::map<std::string, std::map<long, double>>>;

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, sep);) out.push_back(part);
  return out;
}

std::string ns(double v) {
  char buf[32];
  if (std::isnan(v)) return "–";
  if (std::fabs(v) >= 1e6) std::snprintf(buf, sizeof buf, "%.2f ms", v / 1e6);
  else if (std::fabs(v) >= 10000) std::snprintf(buf, sizeof buf, "%.1f µs", v / 1000);
  else std::snprintf(buf, sizeof buf, "%.0f ns", v);
  return buf;
}

// median(a) / median(b) over rounds resampled with replacement: the 2.5th
// and 97.5th percentiles of 2,000 resamples (fixed seed: reruns agree).
std::pair<double, double> bootstrapRatioOfMedians(const std::vector<double>& a, const std::vector<double>& b) {
  std::mt19937 rng(1);
  std::uniform_int_distribution<size_t> pick(0, a.size() - 1);
  std::vector<double> ratios, ra(a.size()), rb(b.size());
  for (int i = 0; i < 2000; ++i) {
    for (size_t j = 0; j < a.size(); ++j) {
      const size_t k = pick(rng);
      ra[j] = a[k];
      rb[j] = b[k];
    }
    ratios.push_back(summarize(ra).median / summarize(rb).median);
  }
  std::sort(ratios.begin(), ratios.end());
  return {egressd::bench::quantileSorted(ratios, 0.025), egressd::bench::quantileSorted(ratios, 0.975)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_table SAMPLES ratio|TITLE|KIND|FIGURE|A|B | added|TITLE|KIND|FIGURE|A|B|BASE ...\n");
    return 2;
  }
  Samples samples;
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "%s: cannot read\n", argv[1]);
    return 2;
  }
  std::string kind, figure, variant;
  long round;
  double value;
  while (in >> kind >> figure >> variant >> round >> value) samples[kind + " " + figure][variant][round] = value;

  std::printf("| comparison | A | B | A/B [95%% CI] | rounds |\n|---|---|---|---|---|\n");
  int status = 0;
  for (int i = 2; i < argc; ++i) {
    const auto f = split(argv[i], '|');
    const bool added = !f.empty() && f[0] == "added";
    if (f.size() != (added ? 7u : 6u) || (f[0] != "ratio" && !added)) {
      std::fprintf(stderr, "bad spec: %s\n", argv[i]);
      return 2;
    }
    const auto& by_variant = samples[f[2] + " " + f[3]];
    const auto find = [&](const std::string& v) -> const std::map<long, double>* {
      const auto it = by_variant.find(v);
      return it == by_variant.end() ? nullptr : &it->second;
    };
    const auto* a = find(f[4]);
    const auto* b = find(f[5]);
    const auto* base = added ? find(f[6]) : nullptr;
    if (!a || !b || (added && !base)) {
      std::printf("| %s | no samples | | | |\n", f[1].c_str());
      status = 1;
      continue;
    }
    std::vector<double> va, vb, ratio;
    for (const auto& [r, x] : *a) {
      const auto y = b->find(r);
      if (y == b->end()) continue;
      double bx = 0;
      if (added) {
        const auto z = base->find(r);
        if (z == base->end()) continue;
        bx = z->second;
      }
      va.push_back(x - bx);
      vb.push_back(y->second - bx);
      ratio.push_back((x - bx) / (y->second - bx));
    }
    if (ratio.empty()) {
      std::printf("| %s | no paired rounds | | | |\n", f[1].c_str());
      status = 1;
      continue;
    }
    const auto sa = summarize(va), sb = summarize(vb);
    auto sr = summarize(ratio);
    if (added) {
      sr.median = sa.median / sb.median;
      std::tie(sr.lo, sr.hi) = bootstrapRatioOfMedians(va, vb);
    }
    const char* sign = added ? "+" : "";
    std::printf("| %s | %s%s | %s%s | ×%.3f [%.3f–%.3f] | %zu |\n", f[1].c_str(), sign, ns(sa.median).c_str(), sign,
                ns(sb.median).c_str(), sr.median, sr.lo, sr.hi, ratio.size());
  }
  return status;
}
