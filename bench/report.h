// Benchmark results in the one shape every kvstash benchmark prints
// (DESIGN.md "Performance targets"): a human table, and with --json
//   {"machine": "...", "results": [{"name", "unit", "value", "baseline_name",
//                                   "baseline", "ratio"}, ...]}
// Baselines are measured in the same run; ratio = value / baseline.
// Results merged from several benchmarks (`kvstash bench` with no
// subcommand) carry their family in `group`: a first "bench" column in the
// table, a first "bench" field in the JSON. Reports where no result has a
// group look exactly as before.
#ifndef KVSTASH_BENCH_REPORT_H_
#define KVSTASH_BENCH_REPORT_H_

#include <ostream>
#include <string>
#include <vector>

namespace kvstash::bench {

struct Result {
  std::string name;  // e.g. "nvfp4_quantize_f32_64MiB/fast"
  std::string unit;  // e.g. "GB/s"
  double value = 0;
  std::string baseline_name;  // e.g. "memcpy"
  double baseline = 0;
  std::string target;  // optional, e.g. ">= 0.5" (printed, never asserted)
  std::string group;   // optional: the benchmark family, e.g. "tiers"
  double ratio() const { return baseline > 0 ? value / baseline : 0; }
};

// "CPU model, N cores" from /proc/cpuinfo, or "unknown".
std::string MachineDescription();

void PrintTable(const std::vector<Result>& results, std::ostream& out);
void PrintJson(const std::vector<Result>& results, std::ostream& out);
// What every `kvstash bench` command prints: the JSON object (with `json`)
// or the table on stdout, then each note as "# note" -- on stderr with
// `json`, so that stdout stays one parseable object.
void PrintReport(const std::vector<Result>& results, const std::vector<std::string>& notes,
                 bool json);

}  // namespace kvstash::bench

#endif  // KVSTASH_BENCH_REPORT_H_
