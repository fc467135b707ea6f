#pragma once
// A small Prometheus text-format registry: counters, gauges and histograms
// with labels. Thread-safe; rendering takes a consistent snapshot.
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace egressd::admin {

using Labels = std::vector<std::pair<std::string, std::string>>;

class MetricsRegistry {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  // Declares a family; `buckets` only for histograms (upper bounds, ascending).
  void describe(const std::string& name, Type type, const std::string& help,
                std::vector<double> buckets = {});

  void setGauge(const std::string& name, const Labels& labels, double value);
  // Counters mirrored from elsewhere (e.g. kernel counters) are set, not added.
  void setCounter(const std::string& name, const Labels& labels, double value);
  void addCounter(const std::string& name, const Labels& labels, double delta);
  void observe(const std::string& name, const Labels& labels, double value);
  // Replaces every series of a gauge family at once (label sets that change
  // between updates): a scrape never sees the family half-written.
  void replaceGauges(const std::string& name, const std::map<Labels, double>& series);

  std::string render() const;

 private:
  struct Histogram {
    std::vector<uint64_t> bucket_counts;
    uint64_t count = 0;
    double sum = 0;
  };
  struct Family {
    Type type = Type::kGauge;
    std::string help;
    std::vector<double> buckets;
    std::map<Labels, double> values;
    std::map<Labels, Histogram> histograms;
  };

  Family& family(const std::string& name);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

}  // namespace egressd::admin
