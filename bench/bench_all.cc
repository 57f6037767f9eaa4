#include "bench/bench_all.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/json_reader.h"

namespace kvstash::bench {
namespace {

bool IsFamily(absl::string_view name) {
  const std::vector<std::string>& all = BenchFamilies();
  return std::find(all.begin(), all.end(), name) != all.end();
}

// The names in a comma-separated list (empty items dropped); InvalidArgument
// naming the flag and the first name that is not a family.
absl::StatusOr<std::vector<std::string>> ParseFamilyList(absl::string_view flag,
                                                         absl::string_view list) {
  std::vector<std::string> out;
  for (absl::string_view name : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    if (!IsFamily(name)) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": unknown bench '", name,
                                                     "' (expected ",
                                                     absl::StrJoin(BenchFamilies(), ", "), ")"));
    }
    out.emplace_back(name);
  }
  return out;
}

bool Contains(const std::vector<std::string>& v, absl::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

const std::vector<std::string>& BenchFamilies() {
  static const std::vector<std::string> kFamilies = {"codec", "tiers", "service", "router",
                                                     "transport"};
  return kFamilies;
}

std::vector<std::string> QuickFlags(absl::string_view family) {
  // Each family's own flags (`kvstash bench <family> --help`), chosen so that
  // every family takes seconds, not minutes, on two cores. Not transport's
  // --quick: that is a smoke run (4 MiB working set, so fewer 1 MiB blocks in
  // flight), not a measurement.
  // codec keeps its 64 MiB tensors: smaller ones fit in cache, which moves
  // the memcpy baseline (and every ratio) to another regime.
  if (family == "codec") return {"--min_time=0.05"};
  if (family == "tiers") return {"--bytes", "134217728", "--seconds", "0.1"};
  if (family == "service") return {"--bytes", "67108864", "--repeats", "1"};
  if (family == "router") return {"--requests", "2000"};
  if (family == "transport") return {"--bytes", "134217728", "--repeats", "1"};
  return {};
}

absl::StatusOr<std::vector<std::string>> SelectFamilies(absl::string_view only,
                                                        absl::string_view skip) {
  absl::StatusOr<std::vector<std::string>> wanted = ParseFamilyList("--only", only);
  if (!wanted.ok()) return wanted.status();
  absl::StatusOr<std::vector<std::string>> skipped = ParseFamilyList("--skip", skip);
  if (!skipped.ok()) return skipped.status();
  std::vector<std::string> out;
  for (const std::string& f : BenchFamilies()) {
    if ((wanted->empty() || Contains(*wanted, f)) && !Contains(*skipped, f)) out.push_back(f);
  }
  return out;
}

absl::StatusOr<std::vector<Result>> ParseFamilyReport(absl::string_view json,
                                                      absl::string_view family) {
  if (absl::StripAsciiWhitespace(json).empty()) {
    return absl::InvalidArgumentError("printed no report on stdout");
  }
  absl::StatusOr<JsonValue> doc = ParseJson(json);
  if (!doc.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("stdout is not a JSON report: ", doc.status().message()));
  }
  JsonObjectReader r(*doc, "report");
  r.String("machine");
  std::vector<Result> results;
  for (JsonObjectReader item : r.ObjectArray("results")) {
    Result res;
    res.group = std::string(family);
    res.name = item.String("name");
    res.unit = item.String("unit");
    res.value = item.Double("value");
    res.baseline_name = item.String("baseline_name");
    res.baseline = item.Double("baseline");
    results.push_back(std::move(res));
  }
  if (!r.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("stdout is not a bench report: ", r.status().message()));
  }
  return results;
}

std::vector<std::string> NoteLines(absl::string_view text) {
  std::vector<std::string> notes;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, "# ")) notes.emplace_back(line);
  }
  return notes;
}

std::string TailLines(absl::string_view text, size_t lines) {
  std::vector<absl::string_view> all = absl::StrSplit(text, '\n', absl::SkipWhitespace());
  const size_t first = all.size() > lines ? all.size() - lines : 0;
  std::string out;
  for (size_t i = first; i < all.size(); ++i) absl::StrAppend(&out, all[i], "\n");
  return out;
}

absl::Status MergeFamilyRun(const FamilyRun& run, MergedReport* report) {
  for (const std::string& note : NoteLines(run.stderr_text)) {
    report->notes.push_back(absl::StrCat(run.family, ": ", note));
  }
  absl::Status failure = run.status;
  if (failure.ok()) {
    absl::StatusOr<std::vector<Result>> results = ParseFamilyReport(run.stdout_text, run.family);
    if (results.ok()) {
      report->results.insert(report->results.end(), results->begin(), results->end());
      return absl::OkStatus();
    }
    failure = results.status();
  }
  report->notes.push_back(absl::StrCat(run.family, ": FAILED: ", failure.message()));
  report->failed.push_back(run.family);
  return failure;
}

}  // namespace kvstash::bench
