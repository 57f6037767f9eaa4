#include "service/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace kvstash::service {
namespace {

bool IsNameChar(char c, bool first, bool colon_ok) {
  if (absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_') return true;
  if (colon_ok && c == ':') return true;
  return !first && absl::ascii_isdigit(static_cast<unsigned char>(c));
}

absl::string_view TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void AppendHeader(std::string& out, const std::string& name, const std::string& help,
                  MetricType type) {
  absl::StrAppend(&out, "# HELP ", name, " ", EscapeHelp(help), "\n");
  absl::StrAppend(&out, "# TYPE ", name, " ", TypeName(type), "\n");
}

// name{a="x",b="y"} value   (no braces without labels)
void AppendSample(std::string& out, absl::string_view name, const Labels& labels,
                  absl::string_view value) {
  absl::StrAppend(&out, name);
  if (!labels.empty()) {
    out.push_back('{');
    for (size_t i = 0; i < labels.size(); ++i) {
      absl::StrAppend(&out, i == 0 ? "" : ",", labels[i].first, "=\"",
                      EscapeLabelValue(labels[i].second), "\"");
    }
    out.push_back('}');
  }
  absl::StrAppend(&out, " ", value, "\n");
}

void CheckLabelNames(const LabelNames& names, bool histogram) {
  std::set<std::string> seen;
  for (const std::string& n : names) {
    KVSTASH_CHECK(IsValidLabelName(n));
    KVSTASH_CHECK(seen.insert(n).second);
    KVSTASH_CHECK(!(histogram && n == "le"));
  }
}

}  // namespace

// ------------------------------------------------------------ text helpers --

bool IsValidMetricName(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0, /*colon_ok=*/true)) return false;
  }
  return true;
}

bool IsValidLabelName(const std::string& name) {
  if (name.empty() || name.rfind("__", 0) == 0) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0, /*colon_ok=*/false)) return false;
  }
  return true;
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string EscapeHelp(const std::string& help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string FormatSampleValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  KVSTASH_CHECK(ec == std::errc());
  return std::string(buf, end);
}

// -------------------------------------------------------------- histograms --

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    KVSTASH_CHECK(std::isfinite(bounds_[i]));
    KVSTASH_CHECK(i == 0 || bounds_[i - 1] < bounds_[i]);
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  if (std::isnan(v)) return;
  // The first bucket whose upper bound is >= v (buckets are `le`).
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

std::vector<double> LatencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10};
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  KVSTASH_CHECK(start > 0 && factor > 1 && count > 0);
  std::vector<double> out;
  for (int i = 0; i < count; ++i, start *= factor) out.push_back(start);
  return out;
}

// ---------------------------------------------------------------- families --

namespace metrics_internal {

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type, LabelNames label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)) {
  KVSTASH_CHECK(IsValidMetricName(name_));
  CheckLabelNames(label_names_, type_ == MetricType::kHistogram);
}

void FamilyBase::CheckArity(const LabelValues& values) const {
  KVSTASH_CHECK(values.size() == label_names_.size());
}

Labels FamilyBase::Zip(const LabelValues& values) const {
  Labels labels;
  for (size_t i = 0; i < values.size(); ++i) labels.emplace_back(label_names_[i], values[i]);
  return labels;
}

}  // namespace metrics_internal

void CounterFamily::Render(std::string& out) const {
  AppendHeader(out, name_, help_, type_);
  ForEachChild([&](const LabelValues& values, const Counter& c) {
    AppendSample(out, name_, Zip(values), absl::StrCat(c.value()));
  });
}

void GaugeFamily::Render(std::string& out) const {
  AppendHeader(out, name_, help_, type_);
  ForEachChild([&](const LabelValues& values, const Gauge& g) {
    AppendSample(out, name_, Zip(values), FormatSampleValue(g.value()));
  });
}

HistogramFamily::HistogramFamily(std::string name, std::string help, LabelNames label_names,
                                 std::vector<double> bounds)
    : Family(std::move(name), std::move(help), MetricType::kHistogram, std::move(label_names)),
      bounds_(std::move(bounds)) {
  Histogram check(bounds_);  // crashes now, not at first use, on bad bounds
}

std::unique_ptr<Histogram> HistogramFamily::MakeChild() const {
  return std::make_unique<Histogram>(bounds_);
}

void HistogramFamily::Render(std::string& out) const {
  AppendHeader(out, name_, help_, type_);
  const std::string bucket = absl::StrCat(name_, "_bucket");
  ForEachChild([&](const LabelValues& values, const Histogram& h) {
    Labels labels = Zip(values);
    // _count is the +Inf bucket by construction, so the two always agree.
    const std::vector<uint64_t> counts = h.BucketCounts();
    uint64_t cumulative = 0;
    labels.emplace_back("le", "");
    for (size_t i = 0; i < counts.size(); ++i) {
      cumulative += counts[i];
      labels.back().second = i < bounds_.size() ? FormatSampleValue(bounds_[i]) : "+Inf";
      AppendSample(out, bucket, labels, absl::StrCat(cumulative));
    }
    labels.pop_back();
    AppendSample(out, absl::StrCat(name_, "_sum"), labels, FormatSampleValue(h.sum()));
    AppendSample(out, absl::StrCat(name_, "_count"), labels, absl::StrCat(cumulative));
  });
}

// ------------------------------------------------------------ MetricWriter --

void MetricWriter::EmitCounter(const std::string& name, const std::string& help,
                               const Labels& labels, double value) {
  Add(MetricType::kCounter, name, help, labels, value);
}

void MetricWriter::EmitGauge(const std::string& name, const std::string& help, const Labels& labels,
                             double value) {
  Add(MetricType::kGauge, name, help, labels, value);
}

void MetricWriter::Add(MetricType type, const std::string& name, const std::string& help,
                       const Labels& labels, double value) {
  KVSTASH_CHECK(IsValidMetricName(name));
  for (const auto& [label, v] : labels) KVSTASH_CHECK(IsValidLabelName(label));
  auto [it, inserted] = families_.try_emplace(name, Collected{help, type, {}});
  if (inserted) order_.push_back(name);
  KVSTASH_CHECK(it->second.type == type);
  it->second.samples.push_back(Sample{labels, value});
}

void MetricWriter::Render(const std::set<std::string>& registered, std::string& out) const {
  for (const std::string& name : order_) {
    KVSTASH_CHECK(registered.count(name) == 0);  // a collector shadowing a registered family
    const Collected& c = families_.at(name);
    AppendHeader(out, name, c.help, c.type);
    for (const Sample& s : c.samples) AppendSample(out, name, s.labels, FormatSampleValue(s.value));
  }
}

}  // namespace kvstash::service
