// `kvstash bench` with no subcommand (or `kvstash bench all`): every
// benchmark family, each run as a child process, merged into one report.
//
// This header is the part that does no I/O: which families exist and with
// which quick settings, which ones a --only/--skip selection names, and how
// one child's captured output (its --json stdout, its stderr) becomes rows
// and notes of the merged report. tools/cmd_bench_all.cc starts the children
// and prints. A family that failed -- it could not start, exited non-zero,
// timed out, or printed something that is not a report -- adds a note saying
// why and no rows; the other families are unaffected.
//
// Thread safety: plain functions and values; MergedReport is not shared.
#ifndef KVSTASH_BENCH_BENCH_ALL_H_
#define KVSTASH_BENCH_BENCH_ALL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bench/report.h"

namespace kvstash::bench {

// Every family, in the order `kvstash bench` runs them.
const std::vector<std::string>& BenchFamilies();

// The flags a family runs with by default (without --full): settings that
// keep the whole run to a few minutes on two cores. A smoke run, not a
// measurement to quote. REQUIRES: `family` is in BenchFamilies().
std::vector<std::string> QuickFlags(absl::string_view family);

// The families named by `only` (comma-separated; empty means all) minus
// those named by `skip`, in BenchFamilies() order. InvalidArgument naming
// the first unknown name, e.g. "--only: unknown bench 'nosuch' (expected
// codec, tiers, service, router or transport)".
absl::StatusOr<std::vector<std::string>> SelectFamilies(absl::string_view only,
                                                        absl::string_view skip);

// What one family's child process left behind.
struct FamilyRun {
  std::string family;
  absl::Status status;      // how the child ended: OK iff it exited 0
  std::string stdout_text;  // its whole stdout: one JSON report
  std::string stderr_text;  // its whole stderr: progress and "# " notes
};

// Parses a child's stdout, {"machine": "...", "results": [{"name", "unit",
// "value", "baseline_name", "baseline", "ratio"}, ...]} as bench/report.h
// prints it, into Results whose group is `family`. Unknown fields are
// ignored; "ratio" is recomputed from value and baseline. InvalidArgument
// saying what is wrong otherwise.
absl::StatusOr<std::vector<Result>> ParseFamilyReport(absl::string_view json,
                                                      absl::string_view family);

// The lines of `text` that start with "# ", without that prefix.
std::vector<std::string> NoteLines(absl::string_view text);

// The last `lines` non-empty lines of `text`, each ending in '\n'.
std::string TailLines(absl::string_view text, size_t lines);

struct MergedReport {
  std::vector<Result> results;     // in the order the families ran
  std::vector<std::string> notes;  // "<family>: <note>"
  std::vector<std::string> failed;
};

// Adds one family's rows and its notes (prefixed "<family>: ") to `report`.
// When the family failed (run.status is not OK, or its stdout does not parse)
// also adds the note "<family>: FAILED: <why>" and the family to `failed`,
// and returns why; OK otherwise.
absl::Status MergeFamilyRun(const FamilyRun& run, MergedReport* report);

}  // namespace kvstash::bench

#endif  // KVSTASH_BENCH_BENCH_ALL_H_
