#include "tools/replay_output.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tools/json_writer.h"

namespace kvstash::tools {
namespace {

using replay::ReplayReport;
using replay::Source;

constexpr double kGiB = 1024.0 * 1024 * 1024;

std::string PercentilesJson(const replay::Percentiles& p) {
  return JsonObject()
      .Add("p50", p.p50)
      .Add("p90", p.p90)
      .Add("p99", p.p99)
      .Add("mean", p.mean)
      .Add("max", p.max)
      .Str();
}

std::string SourcesJson(const ReplayReport& r) {
  JsonObject o;
  for (int s = 0; s < replay::kSources; ++s) {
    const replay::SourceFigures& f = r.sources[s];
    JsonObject j;
    j.Add("hit_blocks", f.hit_blocks)
        .Add("hit_tokens", f.hit_tokens)
        .Add("block_hit_rate", r.blocks ? static_cast<double>(f.hit_blocks) / r.blocks : 0.0)
        .Add("token_hit_rate",
             r.prompt_tokens ? static_cast<double>(f.hit_tokens) / r.prompt_tokens : 0.0)
        .Add("bytes", f.bytes);
    if (f.read_seconds > 0) {
      j.Add("read_seconds", f.read_seconds)
          .Add("measured_gbps", static_cast<double>(f.bytes) / f.read_seconds / 1e9);
    }
    o.AddRaw(replay::SourceName(static_cast<Source>(s)), j.Str());
  }
  return o.Str();
}

std::string TiersJson(const ReplayReport& r) {
  std::vector<std::string> items;
  for (const replay::TierFigures& t : r.tiers) {
    items.push_back(JsonObject()
                        .Add("name", t.name)
                        .Add("capacity_bytes", t.capacity_bytes)
                        .Add("capacity_blocks", t.capacity_blocks)
                        .Add("used_bytes", t.used_bytes)
                        .Add("blocks", t.blocks)
                        .Add("bytes_in", t.bytes_in)
                        .Add("bytes_out", t.bytes_out)
                        .Add("evictions", t.evictions)
                        .Add("spills", t.spills)
                        .Add("promotions", t.promotions)
                        .Add("admissions_refused", t.admissions_refused)
                        .Str());
  }
  return "[" + absl::StrJoin(items, ",") + "]";
}

std::string CostJson(const replay::CostModel& c) {
  JsonObject o;
  o.Add("gpu_tflops", c.gpu_tflops);
  for (int s = 0; s < replay::kSources; ++s) {
    const char* n = replay::SourceName(static_cast<Source>(s));
    o.Add(absl::StrCat(n, "_gbps"), c.gbps[s]).Add(absl::StrCat(n, "_latency_us"), c.latency_us[s]);
  }
  return o.Str();
}

uint64_t Evictions(const ReplayReport& r) {
  uint64_t n = 0;
  for (const replay::TierFigures& t : r.tiers) n += t.evictions;
  return n;
}

std::string Pct(double x) { return absl::StrFormat("%.2f%%", 100 * x); }

std::string Tokens(uint64_t n) {
  if (n >= 10'000'000) return absl::StrFormat("%.1fM", n / 1e6);
  if (n >= 10'000) return absl::StrFormat("%.1fk", n / 1e3);
  return absl::StrCat(n);
}

}  // namespace

std::string ReplayJson(const ReplayReport& r, const ReplaySetup& s) {
  return JsonObject()
      .Add("trace", s.trace)
      .Add("profile", r.profile)
      .Add("format", r.format)
      .Add("mode", r.mode)
      .Add("nodes", int64_t{r.nodes})
      .Add("replicas", int64_t{r.replicas})
      .Add("block_tokens", uint64_t{r.block_tokens})
      .Add("block_bytes", r.block_bytes)
      .Add("device_gib", s.device_gib)
      .Add("host_gib", s.host_gib)
      .Add("disk_gib", s.disk_gib)
      .Add("disk_admit_after_hits", uint64_t{s.disk_admit_after_hits})
      .Add("requests", r.requests)
      .Add("prompt_tokens", r.prompt_tokens)
      .Add("hit_tokens", r.hit_tokens)
      .Add("token_hit_rate", r.token_hit_rate())
      .Add("blocks", r.blocks)
      .Add("hit_blocks", r.hit_blocks)
      .Add("computed_blocks", r.computed_blocks)
      .Add("block_hit_rate", r.block_hit_rate())
      .Add("local_hit_blocks", r.local_hit_blocks())
      .Add("remote_hit_blocks", r.sources[static_cast<int>(Source::kRemote)].hit_blocks)
      .Add("capacity_tokens", r.capacity_tokens)
      .Add("evictions", Evictions(r))
      .AddRaw("sources", SourcesJson(r))
      .AddRaw("tiers", TiersJson(r))
      .Add("ttft_p50_ms", r.ttft_ms.p50)
      .Add("ttft_p90_ms", r.ttft_ms.p90)
      .Add("ttft_p99_ms", r.ttft_ms.p99)
      .Add("ttft_mean_ms", r.ttft_ms.mean)
      .AddRaw("ttft_ms", PercentilesJson(r.ttft_ms))
      .AddRaw("no_cache_ttft_ms", PercentilesJson(r.no_cache_ttft_ms))
      .AddRaw("cost_model", CostJson(s.cost))
      .Add("wall_seconds", r.wall_seconds)
      .Str();
}

void PrintReplayTable(const std::vector<ReplayReport>& runs, const ReplaySetup& s,
                      std::ostream& out) {
  if (runs.empty()) return;
  const ReplayReport& first = runs[0];
  out << absl::StrFormat(
      "replay: %d requests, %s prompt tokens, %d distinct %d-token blocks (%s)\n"
      "        profile %s, %s, %d node%s, budget per node: device %g GiB, host %g GiB, disk %g "
      "GiB\n",
      first.requests, Tokens(first.prompt_tokens), s.distinct_blocks, first.block_tokens, s.trace,
      first.profile, first.mode, first.nodes, first.nodes > 1 ? "s" : "", s.device_gib, s.host_gib,
      s.disk_gib);
  const int w = 14;
  auto row = [&](const std::string& name, auto&& cell) {
    out << absl::StrFormat("%-26s", name);
    for (const ReplayReport& r : runs) out << absl::StrFormat("%*s", w, cell(r));
    out << "\n";
  };
  row("format", [](const ReplayReport& r) { return r.format; });
  row("block size (MiB)",
      [](const ReplayReport& r) { return absl::StrFormat("%.2f", r.block_bytes / 1048576.0); });
  row("capacity (tokens)", [](const ReplayReport& r) { return Tokens(r.capacity_tokens); });
  row("token hit rate", [](const ReplayReport& r) { return Pct(r.token_hit_rate()); });
  row("block hit rate", [](const ReplayReport& r) { return Pct(r.block_hit_rate()); });
  for (int src = 0; src < replay::kSources; ++src) {
    bool any = false;
    for (const ReplayReport& r : runs) any |= r.sources[src].hit_blocks > 0;
    if (!any) continue;
    row(absl::StrCat("  hit tokens from ", replay::SourceName(static_cast<Source>(src))),
        [src](const ReplayReport& r) {
          return Pct(r.prompt_tokens
                         ? static_cast<double>(r.sources[src].hit_tokens) / r.prompt_tokens
                         : 0);
        });
  }
  row("evictions", [](const ReplayReport& r) { return absl::StrCat(Evictions(r)); });
  row("read from cache (GiB)", [](const ReplayReport& r) {
    uint64_t b = 0;
    for (const replay::SourceFigures& f : r.sources) b += f.bytes;
    return absl::StrFormat("%.1f", b / kGiB);
  });
  row("TTFT p50 (ms)",
      [](const ReplayReport& r) { return absl::StrFormat("%.1f", r.ttft_ms.p50); });
  row("TTFT p90 (ms)",
      [](const ReplayReport& r) { return absl::StrFormat("%.1f", r.ttft_ms.p90); });
  row("TTFT p99 (ms)",
      [](const ReplayReport& r) { return absl::StrFormat("%.1f", r.ttft_ms.p99); });
  row("TTFT mean (ms)",
      [](const ReplayReport& r) { return absl::StrFormat("%.1f", r.ttft_ms.mean); });
  row("  without cache (ms)",
      [](const ReplayReport& r) { return absl::StrFormat("%.1f", r.no_cache_ttft_ms.mean); });
  bool measured = false;
  for (const ReplayReport& r : runs) {
    for (const replay::SourceFigures& f : r.sources) measured |= f.read_seconds > 0;
  }
  if (measured) {
    for (int src = 0; src < replay::kSources; ++src) {
      row(absl::StrCat("measured ", replay::SourceName(static_cast<Source>(src)), " GB/s"),
          [src](const ReplayReport& r) {
            const replay::SourceFigures& f = r.sources[src];
            return f.read_seconds > 0 ? absl::StrFormat("%.2f", f.bytes / f.read_seconds / 1e9)
                                      : std::string("-");
          });
    }
  }
  const ReplayReport* nv = nullptr;
  const ReplayReport* fp8 = nullptr;
  for (const ReplayReport& r : runs) {
    if (r.format == "nvfp4") nv = &r;
    if (r.format == "fp8_e4m3") fp8 = &r;
  }
  if (nv != nullptr && fp8 != nullptr && fp8->capacity_tokens > 0 && nv->ttft_ms.mean > 0) {
    out << absl::StrFormat(
        "nvfp4 vs fp8_e4m3: %.2fx the tokens in the same memory, token hit rate %+.2f points, "
        "mean TTFT %.2fx lower\n",
        static_cast<double>(nv->capacity_tokens) / fp8->capacity_tokens,
        100 * (nv->token_hit_rate() - fp8->token_hit_rate()), fp8->ttft_ms.mean / nv->ttft_ms.mean);
  }
  out << absl::StrFormat(
      "TTFT model: prefill at %g TFLOP/s + reads at device %g, host %g, disk %g, remote %g GB/s "
      "(kvstash replay --help)\n",
      s.cost.gpu_tflops, s.cost.gbps[0], s.cost.gbps[1], s.cost.gbps[2], s.cost.gbps[3]);
}

void PrintSweepTable(const std::vector<replay::SweepPoint>& points, std::ostream& out) {
  out << absl::StrFormat("%10s %-9s %12s %10s %10s %10s %10s %10s %10s\n", "budget GiB", "format",
                         "capacity tok", "token hit", "block hit", "TTFT p50", "TTFT p90",
                         "TTFT p99", "TTFT mean");
  for (const replay::SweepPoint& p : points) {
    const ReplayReport& r = p.report;
    out << absl::StrFormat("%10g %-9s %12s %10s %10s %10.1f %10.1f %10.1f %10.1f\n", p.budget_gib,
                           r.format, Tokens(r.capacity_tokens), Pct(r.token_hit_rate()),
                           Pct(r.block_hit_rate()), r.ttft_ms.p50, r.ttft_ms.p90, r.ttft_ms.p99,
                           r.ttft_ms.mean);
  }
}

void PrintComparison(const replay::FormatComparison& c, std::ostream& out) {
  out << absl::StrFormat(
      "%s vs %s over %d budgets: %.3fx to %.3fx the tokens in the same bytes; token hit rate "
      "%+.2f to %+.2f points (%+.2f at the smallest budget, %+.2f at the largest); mean TTFT "
      "up to %.2fx lower (at %g GiB)\n",
      c.a, c.b, c.budgets, c.min_capacity_ratio, c.max_capacity_ratio, 100 * c.min_hit_gain,
      100 * c.max_hit_gain, 100 * c.smallest_budget_gain, 100 * c.largest_budget_gain,
      c.best_ttft_ratio, c.best_ttft_budget_gib);
}

std::string ComparisonJson(const replay::FormatComparison& c) {
  return JsonObject()
      .Add("a", c.a)
      .Add("b", c.b)
      .Add("budgets", uint64_t{c.budgets})
      .Add("min_capacity_ratio", c.min_capacity_ratio)
      .Add("max_capacity_ratio", c.max_capacity_ratio)
      .Add("min_token_hit_rate_gain", c.min_hit_gain)
      .Add("max_token_hit_rate_gain", c.max_hit_gain)
      .Add("smallest_budget_token_hit_rate_gain", c.smallest_budget_gain)
      .Add("largest_budget_token_hit_rate_gain", c.largest_budget_gain)
      .Add("smallest_budget_ttft_ratio", c.smallest_budget_ttft_ratio)
      .Add("best_ttft_ratio", c.best_ttft_ratio)
      .Add("best_ttft_budget_gib", c.best_ttft_budget_gib)
      .Str();
}

}  // namespace kvstash::tools
