// `kvstash replay --sweep`: the same trace replayed at a series of memory
// budgets, once per storage format, and what that shows (DESIGN.md
// "Performance targets", replay row):
//   - capacity: tokens each format holds in the same bytes (NVFP4 ~1.78x
//     FP8, 3.56x BF16 for large blocks);
//   - hit rate: higher for NVFP4 where memory is the constraint;
//   - convergence: the formats' hit rates meet once every format holds the
//     trace's whole reuse working set.
// Each point is a fresh set of caches (no state carries between points).
//
// Thread safety: pure functions of their inputs, one thread.
#ifndef KVSTASH_REPLAY_SWEEP_H_
#define KVSTASH_REPLAY_SWEEP_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/codec.h"
#include "replay/replayer.h"

namespace kvstash::replay {

// The tier a sweep varies: device, host or disk (a Source other than remote).
absl::StatusOr<Source> ParseSweepTier(absl::string_view name);

struct SweepOptions {
  ReplayOptions base;               // everything but the swept budget and the format
  Source tier = Source::kHost;      // device, host or disk
  std::vector<double> budgets_gib;  // per node, ascending
  std::vector<kernels::Format> formats;
  // Called before each point with its index, the count, budget and format.
  std::function<void(size_t i, size_t n, double gib, kernels::Format f)> progress;
};

struct SweepPoint {
  double budget_gib = 0;
  ReplayReport report;
};

absl::StatusOr<std::vector<SweepPoint>> Sweep(const Trace& trace, const SweepOptions& options);

// NVFP4 (`a`) against FP8 (`b`), budget by budget.
struct FormatComparison {
  std::string a, b;
  double min_capacity_ratio = 0;  // a's capacity_tokens / b's, lowest over budgets
  double max_capacity_ratio = 0;
  double min_hit_gain = 0;          // a's token hit rate - b's, lowest over budgets
  double smallest_budget_gain = 0;  // the same at the smallest budget
  double largest_budget_gain = 0;   // ... and at the largest
  double max_hit_gain = 0;
  double smallest_budget_ttft_ratio = 0;  // b's mean TTFT / a's at the smallest budget
  double best_ttft_ratio = 0;             // the largest such ratio over budgets
  double best_ttft_budget_gib = 0;        // ... and where
  size_t budgets = 0;
};
// NotFound when either format is missing from `points`.
absl::StatusOr<FormatComparison> Compare(const std::vector<SweepPoint>& points, absl::string_view a,
                                         absl::string_view b);

// One CSV row per point, with a header line.
std::string SweepCsv(const std::vector<SweepPoint>& points);
// A gnuplot script that draws `points` into `png`: token hit rate and mean
// TTFT against the budget (log scale), one line per format (the data is
// inline, one datablock per format).
std::string GnuplotScript(const std::vector<SweepPoint>& points, const std::string& png,
                          const std::string& title);

}  // namespace kvstash::replay

#endif  // KVSTASH_REPLAY_SWEEP_H_
