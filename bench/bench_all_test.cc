// bench/bench_all.h: family selection, and merging captured child output
// into one report -- well-formed, malformed and failed children alike.
#include "bench/bench_all.h"

#include <sstream>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvstash::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// What `kvstash bench router --json` prints (bench/report.h PrintJson).
constexpr char kRouterJson[] =
    "{\"machine\": \"Some CPU, 2 cores\", \"results\": ["
    "{\"name\": \"router_apply_events\", \"unit\": \"events/s\", \"value\": 1.5e+06, "
    "\"baseline_name\": \"unordered_map apply\", \"baseline\": 500000, \"ratio\": 3}, "
    "{\"name\": \"router_place_p99\", \"unit\": \"us\", \"value\": 12.5, "
    "\"baseline_name\": \"naive\", \"baseline\": 0, \"ratio\": 0}]}\n";

TEST(SelectFamiliesTest, EmptyMeansAllInOrder) {
  absl::StatusOr<std::vector<std::string>> f = SelectFamilies("", "");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(*f, BenchFamilies());
}

TEST(SelectFamiliesTest, OnlyAndSkipKeepTheRunOrder) {
  absl::StatusOr<std::vector<std::string>> f = SelectFamilies("router,codec,tiers", "tiers");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_THAT(*f, ElementsAre("codec", "router"));
  f = SelectFamilies("", "transport,service");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_THAT(*f, ElementsAre("codec", "tiers", "router"));
}

TEST(SelectFamiliesTest, UnknownNameIsNamed) {
  absl::StatusOr<std::vector<std::string>> f = SelectFamilies("router,nosuch", "");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(f.status().message(), HasSubstr("--only: unknown bench 'nosuch'"));
  f = SelectFamilies("", "codex");
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.status().message(), HasSubstr("--skip: unknown bench 'codex'"));
}

TEST(QuickFlagsTest, EveryFamilyHasSome) {
  for (const std::string& f : BenchFamilies()) EXPECT_FALSE(QuickFlags(f).empty()) << f;
}

TEST(ParseFamilyReportTest, ReadsRowsAndTagsThem) {
  absl::StatusOr<std::vector<Result>> r = ParseFamilyReport(kRouterJson, "router");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].group, "router");
  EXPECT_EQ((*r)[0].name, "router_apply_events");
  EXPECT_EQ((*r)[0].unit, "events/s");
  EXPECT_DOUBLE_EQ((*r)[0].value, 1.5e6);
  EXPECT_EQ((*r)[0].baseline_name, "unordered_map apply");
  EXPECT_DOUBLE_EQ((*r)[0].ratio(), 3.0);
  EXPECT_DOUBLE_EQ((*r)[1].ratio(), 0.0);
}

TEST(ParseFamilyReportTest, MalformedOutputSaysWhatIsWrong) {
  const struct {
    const char* stdout_text;
    const char* want;
  } cases[] = {
      {"", "printed no report"},
      {"benchmark   value\nmemcpy 12.0\n", "not a JSON report"},
      {"{\"machine\": \"x\", \"results\": [", "not a JSON report"},
      {"{\"machine\": \"x\"}", "report.results: missing required field"},
      {"{\"machine\": \"x\", \"results\": [{\"name\": \"a\", \"unit\": \"GB/s\", "
       "\"value\": \"fast\", \"baseline_name\": \"b\", \"baseline\": 1}]}",
       "report.results[0].value"},
      {"[1, 2]", "not a bench report"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<std::vector<Result>> r = ParseFamilyReport(c.stdout_text, "codec");
    ASSERT_FALSE(r.ok()) << c.stdout_text;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(c.want)) << c.stdout_text;
  }
}

TEST(NoteLinesTest, OnlyHashSpaceLines) {
  EXPECT_THAT(NoteLines("progress 1/3\n# redis-server not found: no Redis baseline\n#x\n# b"),
              ElementsAre("redis-server not found: no Redis baseline", "b"));
}

TEST(TailLinesTest, KeepsTheLastNonEmptyLines) {
  EXPECT_EQ(TailLines("a\nb\n\nc\nd\n", 2), "c\nd\n");
  EXPECT_EQ(TailLines("only\n", 5), "only\n");
  EXPECT_EQ(TailLines("", 5), "");
}

TEST(MergeFamilyRunTest, GoodRunsAddRowsAndPrefixedNotes) {
  MergedReport report;
  FamilyRun router{"router", absl::OkStatus(), kRouterJson, "router bench: 400 requests\n"};
  FamilyRun service{"service", absl::OkStatus(), "{\"machine\": \"m\", \"results\": []}",
                    "# redis-server missing: no Redis rows\n"};
  EXPECT_TRUE(MergeFamilyRun(router, &report).ok());
  EXPECT_TRUE(MergeFamilyRun(service, &report).ok());
  EXPECT_EQ(report.results.size(), 2u);
  EXPECT_THAT(report.notes, ElementsAre("service: redis-server missing: no Redis rows"));
  EXPECT_TRUE(report.failed.empty());
}

TEST(MergeFamilyRunTest, MalformedChildOutputFailsOnlyThatFamily) {
  MergedReport report;
  FamilyRun bad{"codec", absl::OkStatus(), "{\"machine\": \"m\", \"results\": [{\"name\"",
                "# a note before the crash\n"};
  FamilyRun good{"router", absl::OkStatus(), kRouterJson, ""};
  const absl::Status s = MergeFamilyRun(bad, &report);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(MergeFamilyRun(good, &report).ok());
  ASSERT_EQ(report.results.size(), 2u);
  EXPECT_EQ(report.results[0].group, "router");
  EXPECT_THAT(report.failed, ElementsAre("codec"));
  ASSERT_EQ(report.notes.size(), 2u);
  EXPECT_EQ(report.notes[0], "codec: a note before the crash");
  EXPECT_THAT(report.notes[1], HasSubstr("codec: FAILED: stdout is not a JSON report"));
}

TEST(MergeFamilyRunTest, ChildThatExitedNonZeroAddsNoRowsEvenWithStdout) {
  MergedReport report;
  FamilyRun run{"transport", absl::InternalError("exited with status 1"), kRouterJson,
                "error: ucx_perftest not found\n"};
  const absl::Status s = MergeFamilyRun(run, &report);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(report.results.empty());
  EXPECT_THAT(report.notes, ElementsAre("transport: FAILED: exited with status 1"));
  EXPECT_THAT(report.failed, ElementsAre("transport"));
}

TEST(PrintReportTest, GroupedRowsGetABenchColumnAndField) {
  MergedReport report;
  ASSERT_TRUE(MergeFamilyRun({"router", absl::OkStatus(), kRouterJson, ""}, &report).ok());
  std::ostringstream table, json;
  PrintTable(report.results, table);
  PrintJson(report.results, json);
  EXPECT_TRUE(absl::StartsWith(table.str(), "bench ")) << table.str();
  EXPECT_THAT(table.str(), HasSubstr("\nrouter     router_apply_events"));
  EXPECT_THAT(json.str(), HasSubstr("{\"bench\": \"router\", \"name\": \"router_apply_events\""));
  // The merged JSON parses back as a report.
  EXPECT_TRUE(ParseFamilyReport(json.str(), "all").ok()) << json.str();
}

TEST(PrintReportTest, UngroupedRowsLookAsBefore) {
  std::ostringstream table, json;
  const std::vector<Result> rows = {{"memcpy", "GB/s", 10, "memcpy", 10, ""}};
  PrintTable(rows, table);
  PrintJson(rows, json);
  EXPECT_TRUE(absl::StartsWith(table.str(), "benchmark ")) << table.str();
  EXPECT_THAT(json.str(), HasSubstr("[{\"name\": \"memcpy\""));
  EXPECT_THAT(json.str(), ::testing::Not(HasSubstr("bench\"")));
}

}  // namespace
}  // namespace kvstash::bench
