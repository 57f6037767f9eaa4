// A small Prometheus metrics registry and its text exposition (format 0.0.4).
//
//   MetricsRegistry registry;
//   CounterFamily& hits = registry.AddCounter("kvstash_hits_total", "Lookups served", {"tier"});
//   Counter* host_hits = hits.WithLabels({"host"});   // look up once, keep the pointer
//   host_hits->Increment();                           // hot path: one relaxed atomic add
//
//   HistogramFamily& rpc = registry.AddHistogram("kvstash_rpc_seconds", "RPC latency",
//                                                LatencyBuckets(), {"method"});
//   rpc.WithLabels({"get"})->Observe(0.0021);
//
//   auto stats = registry.AddCollector([&](MetricWriter& w) {   // runs at scrape time
//     w.EmitGauge("kvstash_tier_used_bytes", "Bytes held", {{"tier", "host"}}, host.Used());
//   });
//   std::string text = registry.RenderPrometheus();
//
// Ownership: the registry owns every family and child; the references and
// pointers it hands out stay valid until the registry is destroyed. A
// collector is owned by the CollectorHandle AddCollector returns; destroying
// the handle unregisters it and waits for a scrape that is running it.
//
// Thread safety: everything is safe to call from any thread. Counter, Gauge
// and Histogram updates are lock-free atomics. WithLabels takes only its
// family's mutex; registration and rendering take the registry's.
// Collectors run outside every registry lock except `collectors_mu_` (shared).
//
// Misuse (an invalid metric or label name, a wrong number of label values,
// registering one name twice, unsorted buckets) is a bug and crashes
// (STYLE.md 7). Label values and help text may be any UTF-8; they are escaped.
#ifndef KVSTASH_SERVICE_METRICS_H_
#define KVSTASH_SERVICE_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/mutex.h"

namespace kvstash::service {

using LabelNames = std::vector<std::string>;
using LabelValues = std::vector<std::string>;
using Labels = std::vector<std::pair<std::string, std::string>>;  // name, value

// A monotonically increasing count.
class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Counts observations into fixed buckets (upper bounds, `le`), plus a sum.
// NaN observations are ignored.
class Histogram {
 public:
  // REQUIRES: bounds finite and strictly increasing.
  explicit Histogram(std::vector<double> bounds);

  void Observe(double v);

  const std::vector<double>& bounds() const { return bounds_; }
  // Per-bucket (not cumulative) counts; the last entry is the +Inf bucket.
  std::vector<uint64_t> BucketCounts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0.0};
};

// Default buckets for RPC latencies in seconds: 50 us .. 10 s.
std::vector<double> LatencyBuckets();
// start, start*factor, ... (count bounds). REQUIRES: start > 0, factor > 1.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

enum class MetricType { kCounter, kGauge, kHistogram };

namespace metrics_internal {

// What every family shares: name, help, label names, and rendering.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type, LabelNames label_names);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  MetricType type() const { return type_; }
  const LabelNames& label_names() const { return label_names_; }
  // Appends # HELP, # TYPE and one line per sample.
  virtual void Render(std::string& out) const = 0;

 protected:
  void CheckArity(const LabelValues& values) const;
  Labels Zip(const LabelValues& values) const;

  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const LabelNames label_names_;
};

// Children keyed by label values, created on first use, never removed.
template <typename T>
class Family : public FamilyBase {
 public:
  using FamilyBase::FamilyBase;

  T* WithLabels(const LabelValues& values) {
    CheckArity(values);
    MutexLock lock(&mu_);
    std::unique_ptr<T>& child = children_[values];
    if (child == nullptr) child = MakeChild();
    return child.get();
  }

 protected:
  virtual std::unique_ptr<T> MakeChild() const = 0;
  template <typename Fn>
  void ForEachChild(Fn&& fn) const {
    MutexLock lock(&mu_);
    for (const auto& [values, child] : children_) fn(values, *child);
  }

 private:
  mutable Mutex mu_;
  std::map<LabelValues, std::unique_ptr<T>> children_ ABSL_GUARDED_BY(mu_);
};

}  // namespace metrics_internal

class CounterFamily final : public metrics_internal::Family<Counter> {
 public:
  using Family::Family;
  void Render(std::string& out) const override;

 private:
  std::unique_ptr<Counter> MakeChild() const override { return std::make_unique<Counter>(); }
};

class GaugeFamily final : public metrics_internal::Family<Gauge> {
 public:
  using Family::Family;
  void Render(std::string& out) const override;

 private:
  std::unique_ptr<Gauge> MakeChild() const override { return std::make_unique<Gauge>(); }
};

class HistogramFamily final : public metrics_internal::Family<Histogram> {
 public:
  HistogramFamily(std::string name, std::string help, LabelNames label_names,
                  std::vector<double> bounds);
  void Render(std::string& out) const override;

 private:
  std::unique_ptr<Histogram> MakeChild() const override;
  const std::vector<double> bounds_;
};

// Handed to collectors during a scrape. Samples with one name form one
// family; its help and type come from the first sample.
class MetricWriter {
 public:
  void EmitCounter(const std::string& name, const std::string& help, const Labels& labels,
                   double value);
  void EmitGauge(const std::string& name, const std::string& help, const Labels& labels,
                 double value);

 private:
  friend class MetricsRegistry;
  struct Sample {
    Labels labels;
    double value;
  };
  struct Collected {
    std::string help;
    MetricType type;
    std::vector<Sample> samples;
  };
  void Add(MetricType type, const std::string& name, const std::string& help, const Labels& labels,
           double value);
  // REQUIRES: no collected name is in `registered`.
  void Render(const std::set<std::string>& registered, std::string& out) const;

  std::vector<std::string> order_;  // family names in first-seen order
  std::map<std::string, Collected> families_;
};

class MetricsRegistry;

// Unregisters its collector on destruction. Move-only.
class CollectorHandle {
 public:
  CollectorHandle() = default;
  CollectorHandle(CollectorHandle&& other) noexcept;
  CollectorHandle& operator=(CollectorHandle&& other) noexcept;
  ~CollectorHandle();

 private:
  friend class MetricsRegistry;
  CollectorHandle(MetricsRegistry* registry, uint64_t id) : registry_(registry), id_(id) {}
  void Reset();

  MetricsRegistry* registry_ = nullptr;
  uint64_t id_ = 0;
};

class MetricsRegistry {
 public:
  using Collector = std::function<void(MetricWriter&)>;

  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;
  // REQUIRES: every CollectorHandle has been destroyed.
  ~MetricsRegistry();

  // REQUIRES: `name` is a valid metric name not registered before; label
  // names are valid, distinct, not "__"-prefixed (and not "le" for histograms).
  CounterFamily& AddCounter(const std::string& name, const std::string& help,
                            const LabelNames& label_names = {});
  GaugeFamily& AddGauge(const std::string& name, const std::string& help,
                        const LabelNames& label_names = {});
  HistogramFamily& AddHistogram(const std::string& name, const std::string& help,
                                std::vector<double> bounds, const LabelNames& label_names = {});

  // Runs `collector` at every RenderPrometheus(), after the registered
  // families. REQUIRES: the collector does not add or remove collectors, and
  // does not emit names of registered families.
  [[nodiscard]] CollectorHandle AddCollector(Collector collector);

  std::string RenderPrometheus() const;

 private:
  friend class CollectorHandle;
  template <typename F, typename... Args>
  F& Register(Args&&... args);
  void RemoveCollector(uint64_t id);

  mutable Mutex mu_;
  std::vector<std::unique_ptr<metrics_internal::FamilyBase>> families_ ABSL_GUARDED_BY(mu_);

  // Held shared while collectors run, exclusively to change the set, so that
  // removing a collector waits for a scrape that is calling it.
  mutable Mutex collectors_mu_;
  uint64_t next_collector_id_ ABSL_GUARDED_BY(collectors_mu_) = 1;
  std::map<uint64_t, Collector> collectors_ ABSL_GUARDED_BY(collectors_mu_);
};

// Prometheus text-format helpers, exposed for tests and other exporters.
bool IsValidMetricName(const std::string& name);
bool IsValidLabelName(const std::string& name);
std::string EscapeLabelValue(const std::string& value);  // \\ \" \n
std::string EscapeHelp(const std::string& help);         // \\ \n
std::string FormatSampleValue(double v);                 // shortest round-trip, +Inf, NaN

}  // namespace kvstash::service

#endif  // KVSTASH_SERVICE_METRICS_H_
