#include "replay/sweep.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace kvstash::replay {
namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;

const SweepPoint* Find(const std::vector<SweepPoint>& points, double gib, absl::string_view f) {
  for (const SweepPoint& p : points) {
    if (p.budget_gib == gib && p.report.format == f) return &p;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<Source> ParseSweepTier(absl::string_view name) {
  for (Source t : {Source::kDevice, Source::kHost, Source::kDisk}) {
    if (name == SourceName(t)) return t;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", name, "' is not a tier (expected device, host or disk)"));
}

absl::StatusOr<std::vector<SweepPoint>> Sweep(const Trace& trace, const SweepOptions& o) {
  if (o.budgets_gib.empty()) return absl::InvalidArgumentError("sweep: no budgets");
  if (o.formats.empty()) return absl::InvalidArgumentError("sweep: no formats");
  if (o.tier == Source::kRemote) {
    return absl::InvalidArgumentError("sweep: the remote tier has no budget of its own");
  }
  for (size_t i = 0; i < o.budgets_gib.size(); ++i) {
    if (!(o.budgets_gib[i] > 0) || (i > 0 && o.budgets_gib[i] <= o.budgets_gib[i - 1])) {
      return absl::InvalidArgumentError("sweep budgets must be positive and strictly ascending");
    }
  }
  std::vector<SweepPoint> out;
  const size_t n = o.budgets_gib.size() * o.formats.size();
  for (double gib : o.budgets_gib) {
    for (kernels::Format f : o.formats) {
      if (o.progress) o.progress(out.size(), n, gib, f);
      ReplayOptions r = o.base;
      r.cache.format = f;
      r.progress = nullptr;
      const uint64_t bytes = static_cast<uint64_t>(std::llround(gib * kGiB));
      switch (o.tier) {
        case Source::kDevice:
          r.cache.device_bytes = bytes;
          break;
        case Source::kHost:
          r.cache.host_bytes = bytes;
          break;
        case Source::kDisk:
          r.cache.disk_bytes = bytes;
          break;
        case Source::kRemote:  // refused above
          break;
      }
      absl::StatusOr<ReplayReport> report = Replay(trace, r);
      if (!report.ok()) {
        return absl::Status(
            report.status().code(),
            absl::StrCat(kernels::FormatName(f), " at ", gib, " GiB: ", report.status().message()));
      }
      out.push_back(SweepPoint{gib, *std::move(report)});
    }
  }
  return out;
}

absl::StatusOr<FormatComparison> Compare(const std::vector<SweepPoint>& points, absl::string_view a,
                                         absl::string_view b) {
  FormatComparison c;
  c.a = std::string(a);
  c.b = std::string(b);
  std::vector<double> budgets;
  for (const SweepPoint& p : points) {
    if (std::find(budgets.begin(), budgets.end(), p.budget_gib) == budgets.end()) {
      budgets.push_back(p.budget_gib);
    }
  }
  std::sort(budgets.begin(), budgets.end());
  for (double gib : budgets) {
    const SweepPoint* pa = Find(points, gib, a);
    const SweepPoint* pb = Find(points, gib, b);
    if (pa == nullptr || pb == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("sweep has no ", pa ? b : a, " run at ", gib, " GiB"));
    }
    const double ratio = pb->report.capacity_tokens
                             ? static_cast<double>(pa->report.capacity_tokens) /
                                   static_cast<double>(pb->report.capacity_tokens)
                             : 0;
    const double gain = pa->report.token_hit_rate() - pb->report.token_hit_rate();
    const double ttft_ratio =
        pa->report.ttft_ms.mean > 0 ? pb->report.ttft_ms.mean / pa->report.ttft_ms.mean : 0;
    if (ttft_ratio > c.best_ttft_ratio) {
      c.best_ttft_ratio = ttft_ratio;
      c.best_ttft_budget_gib = gib;
    }
    if (c.budgets == 0) {
      c.min_capacity_ratio = c.max_capacity_ratio = ratio;
      c.min_hit_gain = c.max_hit_gain = gain;
      c.smallest_budget_gain = gain;
      c.smallest_budget_ttft_ratio = ttft_ratio;
    }
    c.min_capacity_ratio = std::min(c.min_capacity_ratio, ratio);
    c.max_capacity_ratio = std::max(c.max_capacity_ratio, ratio);
    c.min_hit_gain = std::min(c.min_hit_gain, gain);
    c.max_hit_gain = std::max(c.max_hit_gain, gain);
    c.largest_budget_gain = gain;
    c.budgets++;
  }
  if (c.budgets == 0) return absl::NotFoundError("sweep has no points");
  return c;
}

std::string SweepCsv(const std::vector<SweepPoint>& points) {
  std::string out =
      "budget_gib,format,capacity_tokens,token_hit_rate,block_hit_rate,hit_tokens,prompt_tokens,"
      "hit_blocks,blocks,evictions,ttft_p50_ms,ttft_p90_ms,ttft_p99_ms,ttft_mean_ms,"
      "no_cache_ttft_mean_ms,block_bytes\n";
  for (const SweepPoint& p : points) {
    const ReplayReport& r = p.report;
    uint64_t evictions = 0;
    for (const TierFigures& t : r.tiers) evictions += t.evictions;
    absl::StrAppendFormat(&out, "%g,%s,%d,%.6f,%.6f,%d,%d,%d,%d,%d,%.4f,%.4f,%.4f,%.4f,%.4f,%d\n",
                          p.budget_gib, r.format, r.capacity_tokens, r.token_hit_rate(),
                          r.block_hit_rate(), r.hit_tokens, r.prompt_tokens, r.hit_blocks, r.blocks,
                          evictions, r.ttft_ms.p50, r.ttft_ms.p90, r.ttft_ms.p99, r.ttft_ms.mean,
                          r.no_cache_ttft_ms.mean, r.block_bytes);
  }
  return out;
}

std::string GnuplotScript(const std::vector<SweepPoint>& points, const std::string& png,
                          const std::string& title) {
  std::vector<std::string> formats;
  for (const SweepPoint& p : points) {
    if (std::find(formats.begin(), formats.end(), p.report.format) == formats.end()) {
      formats.push_back(p.report.format);
    }
  }
  // Strings are single-quoted for gnuplot; the caller refuses paths with a
  // quote.
  std::string s;
  for (size_t i = 0; i < formats.size(); ++i) {
    absl::StrAppend(&s, "$f", i, " << EOD\n");
    for (const SweepPoint& p : points) {
      if (p.report.format != formats[i]) continue;
      absl::StrAppendFormat(&s, "%g %.6f %.4f\n", p.budget_gib, 100 * p.report.token_hit_rate(),
                            p.report.ttft_ms.mean);
    }
    absl::StrAppend(&s, "EOD\n");
  }
  absl::StrAppend(&s, "set terminal pngcairo size 1400,560 noenhanced font ',11'\n", "set output '",
                  png, "'\n", "set grid\nset logscale x 2\n",
                  "set xlabel 'memory budget per node (GiB)'\n", "set multiplot layout 1,2 title '",
                  title, "'\n");
  auto plot = [&](int column) {
    std::vector<std::string> parts;
    for (size_t i = 0; i < formats.size(); ++i) {
      parts.push_back(absl::StrCat("$f", i, " using 1:", column, " with linespoints lw 2 title '",
                                   formats[i], "'"));
    }
    absl::StrAppend(&s, "plot ", absl::StrJoin(parts, ", "), "\n");
  };
  absl::StrAppend(&s, "set key top left\nset ylabel 'token hit rate (%)'\nset yrange [0:*]\n");
  plot(2);
  absl::StrAppend(&s, "set key top right\nset ylabel 'mean TTFT (ms, modelled)'\n");
  plot(3);
  absl::StrAppend(&s, "unset multiplot\n");
  return s;
}

}  // namespace kvstash::replay
