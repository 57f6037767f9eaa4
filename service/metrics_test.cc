#include "service/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace kvstash::service {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// ------------------------------------------------------------------------
// An independent checker of the text exposition format 0.0.4: line syntax,
// label escaping, one TYPE per family before its samples, unique series, and
// for histograms cumulative buckets ending in +Inf == _count.
// Returns "" when `text` is valid, else the first problem.
struct Series {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
  double value;
};

bool ParseValue(absl::string_view s, double& v) {
  if (s == "+Inf" || s == "Inf") return v = INFINITY, true;
  if (s == "-Inf") return v = -INFINITY, true;
  if (s == "NaN") return v = NAN, true;
  return absl::SimpleAtod(s, &v) && !absl::StrContains(s, ' ');
}

bool ValidName(absl::string_view s, bool colon) {
  if (s.empty() || absl::ascii_isdigit(s[0])) return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(c) || c == '_' || (colon && c == ':'))) return false;
  }
  return true;
}

// Parses `name{a="b",...} value`; returns false on a syntax error.
bool ParseSample(absl::string_view line, Series& out) {
  size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  out.name = std::string(line.substr(0, i));
  if (!ValidName(out.name, true)) return false;
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      const size_t eq = line.find('=', i);
      if (eq == absl::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
        return false;
      }
      std::string label(line.substr(i, eq - i)), value;
      if (!ValidName(label, false)) return false;
      for (i = eq + 2; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\n') return false;
        if (line[i] != '\\') {
          value.push_back(line[i]);
          continue;
        }
        if (++i >= line.size()) return false;
        if (line[i] == 'n') {
          value.push_back('\n');
        } else if (line[i] == '\\' || line[i] == '"') {
          value.push_back(line[i]);
        } else {
          return false;
        }
      }
      if (i >= line.size()) return false;
      ++i;  // closing quote
      out.labels.emplace_back(label, value);
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return false;
    ++i;  // '}'
  }
  if (i >= line.size() || line[i] != ' ') return false;
  std::vector<absl::string_view> rest = absl::StrSplit(line.substr(i + 1), ' ');
  if (rest.empty() || rest.size() > 2) return false;
  return ParseValue(rest[0], out.value);
}

std::string CheckHistogram(const std::string& family, const std::vector<Series>& samples) {
  // Group by labels without `le`.
  std::map<std::string, std::vector<const Series*>> groups;
  for (const Series& s : samples) {
    std::string key;
    for (const auto& [k, v] : s.labels) {
      if (k != "le") key += k + "=" + v + ",";
    }
    groups[key].push_back(&s);
  }
  for (const auto& [key, group] : groups) {
    double last_le = -INFINITY, last_count = 0, inf_count = -1, count = -1;
    bool has_sum = false;
    for (const Series* s : group) {
      if (s->name == family + "_bucket") {
        double le = NAN;
        for (const auto& [k, v] : s->labels) {
          if (k == "le" && !ParseValue(v, le)) return "bad le " + v;
        }
        if (!(le > last_le)) return "buckets of " + family + " not in increasing le order";
        if (s->value < last_count) return "buckets of " + family + " not cumulative";
        last_le = le;
        last_count = s->value;
        if (std::isinf(le)) inf_count = s->value;
      } else if (s->name == family + "_count") {
        count = s->value;
      } else if (s->name == family + "_sum") {
        has_sum = true;
      }
    }
    if (inf_count < 0) return "histogram " + family + " has no +Inf bucket";
    if (count != inf_count) return "histogram " + family + ": _count != +Inf bucket";
    if (!has_sum) return "histogram " + family + " has no _sum";
  }
  return "";
}

std::string ValidateExposition(const std::string& text) {
  if (!text.empty() && text.back() != '\n') return "no final newline";
  std::map<std::string, std::string> types;
  std::set<std::string> helps, series, finished;
  std::map<std::string, std::vector<Series>> by_family;
  std::string current;
  for (absl::string_view line : absl::StrSplit(absl::StripSuffix(text, "\n"), '\n')) {
    if (absl::StartsWith(line, "# HELP ") || absl::StartsWith(line, "# TYPE ")) {
      std::vector<std::string> parts = absl::StrSplit(line.substr(7), absl::MaxSplits(' ', 1));
      const std::string& name = parts[0];
      if (!ValidName(name, true)) return "bad family name in: " + std::string(line);
      if (name != current && !current.empty()) finished.insert(current);
      if (finished.count(name)) return "family " + name + " is split";
      current = name;
      if (line[2] == 'H' && !helps.insert(name).second) return "two HELP lines for " + name;
      if (line[2] == 'T') {
        if (types.count(name)) return "two TYPE lines for " + name;
        if (by_family.count(name)) return "TYPE after samples for " + name;
        types[name] = parts.size() > 1 ? parts[1] : "";
      }
      continue;
    }
    if (absl::StartsWith(line, "#")) continue;
    Series s;
    if (!ParseSample(line, s)) return "bad sample line: " + std::string(line);
    std::string family = s.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string base(absl::StripSuffix(s.name, suffix));
      if (base != s.name && types.count(base) && types[base] == "histogram") family = base;
    }
    if (family != current) return "sample " + s.name + " outside its family block";
    std::string id = s.name;
    for (const auto& [k, v] : s.labels) id += "|" + k + "=" + v;
    if (!series.insert(id).second) return "duplicate series " + id;
    by_family[family].push_back(std::move(s));
  }
  for (const auto& [family, type] : types) {
    if (type != "counter" && type != "gauge" && type != "histogram") return "bad type " + type;
    if (type == "histogram") {
      std::string err = CheckHistogram(family, by_family[family]);
      if (!err.empty()) return err;
    }
  }
  return "";
}

TEST(Validator, CatchesBrokenText) {
  EXPECT_EQ(ValidateExposition("# TYPE a counter\na 1\n"), "");
  EXPECT_NE(ValidateExposition("a 1\n"), "");
  EXPECT_NE(ValidateExposition("# TYPE a counter\na{x=\"1} 1\n"), "");
  EXPECT_NE(ValidateExposition("# TYPE a counter\na{x=\"\\q\"} 1\n"), "");
  EXPECT_NE(ValidateExposition("# TYPE a counter\na 1\na 2\n"), "");
  EXPECT_NE(ValidateExposition("# TYPE a counter\na one\n"), "");
  EXPECT_NE(ValidateExposition("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n"),
            "");  // no +Inf bucket
}

// ------------------------------------------------------------------------

TEST(MetricsRegistry, ExactTextForASmallRegistry) {
  MetricsRegistry r;
  CounterFamily& hits = r.AddCounter("kvstash_hits_total", "Lookups served.", {"tier"});
  hits.WithLabels({"host"})->Increment(3);
  hits.WithLabels({"disk"})->Increment();
  GaugeFamily& used = r.AddGauge("kvstash_used_bytes", "Bytes held.");
  used.WithLabels({})->Set(1.5);
  HistogramFamily& rpc =
      r.AddHistogram("kvstash_rpc_seconds", "RPC latency.", {0.25, 0.5, 1}, {"method"});
  Histogram* get = rpc.WithLabels({"get"});
  get->Observe(0.125);
  get->Observe(0.25);  // le is inclusive
  get->Observe(0.75);
  get->Observe(8);
  r.AddCounter("kvstash_empty_total", "No labels, never incremented.");

  EXPECT_EQ(r.RenderPrometheus(),
            "# HELP kvstash_hits_total Lookups served.\n"
            "# TYPE kvstash_hits_total counter\n"
            "kvstash_hits_total{tier=\"disk\"} 1\n"
            "kvstash_hits_total{tier=\"host\"} 3\n"
            "# HELP kvstash_used_bytes Bytes held.\n"
            "# TYPE kvstash_used_bytes gauge\n"
            "kvstash_used_bytes 1.5\n"
            "# HELP kvstash_rpc_seconds RPC latency.\n"
            "# TYPE kvstash_rpc_seconds histogram\n"
            "kvstash_rpc_seconds_bucket{method=\"get\",le=\"0.25\"} 2\n"
            "kvstash_rpc_seconds_bucket{method=\"get\",le=\"0.5\"} 2\n"
            "kvstash_rpc_seconds_bucket{method=\"get\",le=\"1\"} 3\n"
            "kvstash_rpc_seconds_bucket{method=\"get\",le=\"+Inf\"} 4\n"
            "kvstash_rpc_seconds_sum{method=\"get\"} 9.125\n"
            "kvstash_rpc_seconds_count{method=\"get\"} 4\n"
            "# HELP kvstash_empty_total No labels, never incremented.\n"
            "# TYPE kvstash_empty_total counter\n"
            "kvstash_empty_total 0\n");
  EXPECT_EQ(ValidateExposition(r.RenderPrometheus()), "");
}

TEST(MetricsRegistry, EscapesLabelValuesAndHelp) {
  MetricsRegistry r;
  r.AddGauge("g", "Help with \\ backslash\nand newline \"quotes\" kept.", {"path", "q"})
      .WithLabels({"C:\\dir\nx", "say \"hi\""})
      ->Set(-2);
  const std::string text = r.RenderPrometheus();
  EXPECT_EQ(text,
            "# HELP g Help with \\\\ backslash\\nand newline \"quotes\" kept.\n"
            "# TYPE g gauge\n"
            "g{path=\"C:\\\\dir\\nx\",q=\"say \\\"hi\\\"\"} -2\n");
  EXPECT_EQ(ValidateExposition(text), "");
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}

TEST(MetricsRegistry, SampleValues) {
  EXPECT_EQ(FormatSampleValue(0), "0");
  EXPECT_EQ(FormatSampleValue(42), "42");
  EXPECT_EQ(FormatSampleValue(0.1), "0.1");
  EXPECT_EQ(FormatSampleValue(1e21), "1e+21");
  EXPECT_EQ(FormatSampleValue(INFINITY), "+Inf");
  EXPECT_EQ(FormatSampleValue(-INFINITY), "-Inf");
  EXPECT_EQ(FormatSampleValue(NAN), "NaN");
  MetricsRegistry r;
  r.AddGauge("g", "h", {"k"}).WithLabels({"inf"})->Set(INFINITY);
  r.AddGauge("n", "h").WithLabels({})->Set(NAN);
  EXPECT_EQ(ValidateExposition(r.RenderPrometheus()), "");
}

TEST(MetricsRegistry, CollectorsRunAtScrapeTime) {
  MetricsRegistry r;
  r.AddCounter("kvstash_registered_total", "r");
  uint64_t used = 10;
  {
    CollectorHandle handle = r.AddCollector([&](MetricWriter& w) {
      w.EmitGauge("kvstash_tier_used_bytes", "Bytes held per tier.", {{"tier", "host"}}, used);
      w.EmitCounter("kvstash_tier_evictions_total", "Evictions.", {}, 4);
      w.EmitGauge("kvstash_tier_used_bytes", "ignored: first help wins", {{"tier", "disk"}}, 2);
    });
    used = 11;
    const std::string text = r.RenderPrometheus();
    EXPECT_THAT(text, HasSubstr("# HELP kvstash_tier_used_bytes Bytes held per tier.\n"
                                "# TYPE kvstash_tier_used_bytes gauge\n"
                                "kvstash_tier_used_bytes{tier=\"host\"} 11\n"
                                "kvstash_tier_used_bytes{tier=\"disk\"} 2\n"
                                "# HELP kvstash_tier_evictions_total Evictions.\n"
                                "# TYPE kvstash_tier_evictions_total counter\n"
                                "kvstash_tier_evictions_total 4\n"));
    EXPECT_EQ(ValidateExposition(text), "");
    CollectorHandle moved = std::move(handle);  // still registered
    EXPECT_THAT(r.RenderPrometheus(), HasSubstr("kvstash_tier_used_bytes"));
  }
  EXPECT_THAT(r.RenderPrometheus(), Not(HasSubstr("kvstash_tier_used_bytes")));
}

TEST(MetricsRegistry, ConcurrentIncrementsFromEightThreads) {
  MetricsRegistry r;
  CounterFamily& c = r.AddCounter("c_total", "c", {"t"});
  Gauge* g = r.AddGauge("g", "g").WithLabels({});
  HistogramFamily& h = r.AddHistogram("h", "h", {1, 2, 3});
  constexpr int kThreads = 8, kIters = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Counter* shared = c.WithLabels({"shared"});
      Counter* own = c.WithLabels({std::to_string(t)});
      Histogram* hist = h.WithLabels({});
      for (int i = 0; i < kIters; ++i) {
        shared->Increment();
        own->Increment(2);
        g->Add(1);
        hist->Observe(i % 4);  // 0, 1, 2, 3: one per bucket except +Inf
        if (i % 5000 == 0) {
          EXPECT_EQ(ValidateExposition(r.RenderPrometheus()), "");
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(c.WithLabels({"shared"})->value(), uint64_t{kThreads} * kIters);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(c.WithLabels({std::to_string(t)})->value(), 2u * kIters);
  }
  EXPECT_EQ(g->value(), double{kThreads} * kIters);
  const std::vector<uint64_t> buckets = h.WithLabels({})->BucketCounts();
  constexpr uint64_t kQuarter = uint64_t{kThreads} * kIters / 4;
  EXPECT_EQ(buckets, (std::vector<uint64_t>{2 * kQuarter, kQuarter, kQuarter, 0}));  // le=1: 0, 1
  EXPECT_EQ(h.WithLabels({})->sum(), double{kThreads} * (kIters / 4) * (0 + 1 + 2 + 3));
  EXPECT_EQ(ValidateExposition(r.RenderPrometheus()), "");
}

TEST(MetricsRegistry, Buckets) {
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  const std::vector<double> latency = LatencyBuckets();
  EXPECT_TRUE(std::is_sorted(latency.begin(), latency.end()));
  Histogram h({1, 2});
  h.Observe(NAN);
  h.Observe(-5);
  h.Observe(2.5);
  EXPECT_EQ(h.BucketCounts(), (std::vector<uint64_t>{1, 0, 1}));
  EXPECT_EQ(h.sum(), -2.5);
}

TEST(MetricNames, Validity) {
  EXPECT_TRUE(IsValidMetricName("kvstash_rpc_seconds"));
  EXPECT_TRUE(IsValidMetricName("a:b_c1"));
  EXPECT_FALSE(IsValidMetricName("1abc"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_TRUE(IsValidLabelName("method"));
  EXPECT_FALSE(IsValidLabelName("__reserved"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
}

TEST(MetricsRegistryDeathTest, MisuseIsABug) {
  EXPECT_DEATH(
      {
        MetricsRegistry r;
        r.AddCounter("dup", "a");
        r.AddCounter("dup", "b");
      },
      "");
  EXPECT_DEATH(
      {
        MetricsRegistry r;
        r.AddCounter("c", "h", {"a"}).WithLabels({"x", "y"});
      },
      "");
  EXPECT_DEATH({ MetricsRegistry().AddHistogram("h", "h", {2, 1}); }, "");
  EXPECT_DEATH({ MetricsRegistry().AddHistogram("h", "h", {1}, {"le"}); }, "");
  EXPECT_DEATH({ MetricsRegistry().AddGauge("bad-name", "h"); }, "");
}

}  // namespace
}  // namespace kvstash::service
