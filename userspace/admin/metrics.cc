#include "admin/metrics.h"

#include <charconv>
#include <cmath>

namespace egressd::admin {
namespace {

std::string escapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string formatLabels(const Labels& labels, const std::string& extra_key = "",
                         const std::string& extra_value = "") {
  if (labels.empty() && extra_key.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : labels) {
    out += (first ? "" : ",") + key + "=\"" + escapeLabelValue(value) + "\"";
    first = false;
  }
  if (!extra_key.empty()) out += (first ? "" : ",") + extra_key + "=\"" + extra_value + "\"";
  return out + "}";
}

std::string formatNumber(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);  // shortest round-trip form
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

const char* typeName(MetricsRegistry::Type type) {
  switch (type) {
    case MetricsRegistry::Type::kCounter: return "counter";
    case MetricsRegistry::Type::kGauge: return "gauge";
    case MetricsRegistry::Type::kHistogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name) { return families_[name]; }

void MetricsRegistry::describe(const std::string& name, Type type, const std::string& help,
                               std::vector<double> buckets) {
  std::lock_guard lock(mutex_);
  Family& f = family(name);
  f.type = type;
  f.help = help;
  f.buckets = std::move(buckets);
}

void MetricsRegistry::setGauge(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  family(name).values[labels] = value;
}

void MetricsRegistry::setCounter(const std::string& name, const Labels& labels, double value) {
  setGauge(name, labels, value);
}

void MetricsRegistry::addCounter(const std::string& name, const Labels& labels, double delta) {
  std::lock_guard lock(mutex_);
  family(name).values[labels] += delta;
}

void MetricsRegistry::observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  Family& f = family(name);
  Histogram& h = f.histograms[labels];
  h.bucket_counts.resize(f.buckets.size());
  for (size_t i = 0; i < f.buckets.size(); ++i) {
    if (value <= f.buckets[i]) ++h.bucket_counts[i];
  }
  ++h.count;
  h.sum += value;
}

void MetricsRegistry::replaceGauges(const std::string& name, const std::map<Labels, double>& series) {
  std::lock_guard lock(mutex_);
  family(name).values = series;
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + typeName(f.type) + "\n";
    for (const auto& [labels, value] : f.values) {
      out += name + formatLabels(labels) + " " + formatNumber(value) + "\n";
    }
    for (const auto& [labels, h] : f.histograms) {
      for (size_t i = 0; i < f.buckets.size(); ++i) {
        out += name + "_bucket" + formatLabels(labels, "le", formatNumber(f.buckets[i])) + " " +
               std::to_string(h.bucket_counts[i]) + "\n";
      }
      out += name + "_bucket" + formatLabels(labels, "le", "+Inf") + " " + std::to_string(h.count) + "\n";
      out += name + "_sum" + formatLabels(labels) + " " + formatNumber(h.sum) + "\n";
      out += name + "_count" + formatLabels(labels) + " " + std::to_string(h.count) + "\n";
    }
  }
  return out;
}

}  // namespace egressd::admin
