// MetricsRegistry and CollectorHandle (service/metrics.h); the metric types
// and the text format helpers are in metrics.cc.
#include <set>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "service/metrics.h"

namespace kvstash::service {

CollectorHandle::CollectorHandle(CollectorHandle&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)), id_(std::exchange(other.id_, 0)) {}

CollectorHandle& CollectorHandle::operator=(CollectorHandle&& other) noexcept {
  if (this != &other) {
    Reset();
    registry_ = std::exchange(other.registry_, nullptr);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

CollectorHandle::~CollectorHandle() { Reset(); }

void CollectorHandle::Reset() {
  if (registry_ != nullptr) registry_->RemoveCollector(id_);
  registry_ = nullptr;
  id_ = 0;
}

MetricsRegistry::~MetricsRegistry() {
  MutexLock lock(&collectors_mu_);
  KVSTASH_CHECK(collectors_.empty());
}

template <typename F, typename... Args>
F& MetricsRegistry::Register(Args&&... args) {
  auto family = std::make_unique<F>(std::forward<Args>(args)...);
  F& ref = *family;
  MutexLock lock(&mu_);
  for (const auto& f : families_) KVSTASH_CHECK(f->name() != ref.name());
  families_.push_back(std::move(family));
  // An unlabelled family has exactly one child; create it so it renders as 0.
  if (ref.label_names().empty()) ref.WithLabels({});
  return ref;
}

CounterFamily& MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                           const LabelNames& label_names) {
  return Register<CounterFamily>(name, help, MetricType::kCounter, label_names);
}

GaugeFamily& MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                                       const LabelNames& label_names) {
  return Register<GaugeFamily>(name, help, MetricType::kGauge, label_names);
}

HistogramFamily& MetricsRegistry::AddHistogram(const std::string& name, const std::string& help,
                                               std::vector<double> bounds,
                                               const LabelNames& label_names) {
  return Register<HistogramFamily>(name, help, label_names, std::move(bounds));
}

CollectorHandle MetricsRegistry::AddCollector(Collector collector) {
  KVSTASH_CHECK(collector != nullptr);
  MutexLock lock(&collectors_mu_);
  const uint64_t id = next_collector_id_++;
  collectors_.emplace(id, std::move(collector));
  return CollectorHandle(this, id);
}

void MetricsRegistry::RemoveCollector(uint64_t id) {
  MutexLock lock(&collectors_mu_);  // waits for a scrape running the collector
  KVSTASH_CHECK(collectors_.erase(id) == 1);
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::vector<const metrics_internal::FamilyBase*> families;
  std::set<std::string> names;
  {
    MutexLock lock(&mu_);
    for (const auto& f : families_) {
      families.push_back(f.get());
      names.insert(f->name());
    }
  }
  std::string out;
  for (const metrics_internal::FamilyBase* f : families) f->Render(out);

  MetricWriter writer;
  {
    ReaderMutexLock lock(&collectors_mu_);
    for (const auto& [id, collector] : collectors_) collector(writer);
  }
  writer.Render(names, out);
  return out;
}

}  // namespace kvstash::service
