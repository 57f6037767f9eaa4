// kvstash replay: a Mooncake-format trace through kvstash's tier manager
// (size-only or materialized), several in-process nodes, or running
// daemons; prints hit rates, bytes moved, evictions and modelled TTFT, or a
// sweep over memory budgets with CSV and a gnuplot PNG (replay/).
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/json_reader.h"
#include "common/scratch_dir.h"
#include "replay/replayer.h"
#include "replay/sweep.h"
#include "service/profile.h"
#include "tools/commands.h"
#include "tools/default_trace.h"
#include "tools/flags.h"
#include "tools/replay_output.h"

namespace kvstash::tools {
namespace {

void DeclareFlags(FlagSet& f) {
  f.String("trace", "Mooncake-format JSONL trace", DefaultTracePath());
  f.String("requests", "replay only the first N requests (0: all)", "0");
  f.String("profile", "model profile (service/profiles) or a .conf path", "llama-3.1-8b");
  f.String("format", "storage format(s): bf16, fp8_e4m3, nvfp4, mxfp4; a comma list compares",
           "nvfp4");
  f.String("block-tokens", "tokens per trace block (Mooncake traces: 512)", "512");
  f.String("device-gib", "device (HBM) tier per node, GiB", "0");
  f.String("host-gib", "host (DRAM) tier per node, GiB", "64");
  f.String("disk-gib", "disk (SSD) tier per node, GiB", "0");
  f.String("disk-admit-after-hits",
           "hits a block needs before eviction may spill it to disk (kvstashd's flag)", "1");
  f.String("nodes", "in-process nodes (rendezvous owners, requests round-robin)", "1");
  f.String("replicas", "owners per block with --nodes > 1", "1");
  f.Bool("materialize", "store real bytes in the real tiers (small budgets / tiny profile)");
  f.String("scratch-dir",
           "where --materialize puts its disk tier, removed after (default: $TMPDIR, else /tmp)",
           std::nullopt, true);
  f.String("connect",
           "replay against running kvstashd(s): ADDR[,ADDR...], requests round-robin; blocks are "
           "put as bf16 and stored in each daemon's own --storage-format (give the same "
           "--format)",
           "", true);
  f.String("namespace",
           "key namespace of the replayed blocks (with --connect, a second replay finds the "
           "first one's blocks unless it uses another namespace)",
           "0x7265706c6179");
  f.Bool("sweep", "replay at every --sweep-gib budget for every --sweep-formats format");
  f.String("sweep-tier", "the tier whose budget the sweep varies: device, host, disk", "host");
  f.String("sweep-gib", "budgets per node, GiB, ascending", "4,8,16,32,64,128,256,512,1024,2048");
  f.String("sweep-formats", "formats of the sweep", "bf16,fp8_e4m3,nvfp4");
  f.String("csv", "sweep: CSV output file", "replay_sweep.csv");
  f.String("png", "sweep: PNG plot (gnuplot); empty: none", "replay_sweep.png");
  f.String("gpu-tflops", "prefill throughput of one replica, effective TFLOP/s", "400");
  f.String("device-gbps", "device tier read bandwidth, GB/s", "2000");
  f.String("host-gbps", "host tier read bandwidth (host to GPU), GB/s", "50");
  f.String("disk-gbps", "disk tier read bandwidth, GB/s", "6");
  f.String("remote-gbps", "another node's blocks, GB/s", "40");
  f.String("device-latency-us", "per request reading from the device tier, us", "10");
  f.String("host-latency-us", "per request reading from the host tier, us", "20");
  f.String("disk-latency-us", "per request reading from the disk tier, us", "200");
  f.String("remote-latency-us", "per request reading from another node, us", "50");
  f.String("bandwidths-from",
           "a `kvstash bench --json` report: host, disk and remote GB/s from its "
           "host_get_1MiB, disk_read_1MiB and ucx_get_1MiB_tcp results",
           "", true);
  f.Bool("json", "print one JSON object");
}

absl::StatusOr<std::vector<double>> ParseGibList(const std::string& flag, const std::string& v) {
  std::vector<double> out;
  for (absl::string_view item : absl::StrSplit(v, ',', absl::SkipWhitespace())) {
    double d = 0;
    if (!absl::SimpleAtod(item, &d) || !(d > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": '", item, "' is not a positive number of GiB"));
    }
    out.push_back(d);
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat("--", flag, ": empty list"));
  return out;
}

absl::StatusOr<std::vector<kernels::Format>> ParseFormats(const std::string& flag,
                                                          const std::string& v) {
  std::vector<kernels::Format> out;
  for (absl::string_view item : absl::StrSplit(v, ',', absl::SkipWhitespace())) {
    absl::StatusOr<kernels::Format> f = kernels::ParseFormat(item);
    if (!f.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, ": '", item,
                                                     "' is not a format (bf16, fp16, fp8_e4m3, "
                                                     "nvfp4, mxfp4)"));
    }
    out.push_back(*f);
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat("--", flag, ": empty list"));
  return out;
}

absl::Status GetDouble(const FlagSet& f, const std::string& name, double min, double* out) {
  absl::StatusOr<double> v = f.GetDouble(name);
  if (!v.ok()) return v.status();
  if (!(*v >= min)) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", *v, " is below ", min));
  }
  *out = *v;
  return absl::OkStatus();
}

// Host, disk and remote bandwidths measured by `kvstash bench --json`.
absl::Status ReadBandwidths(const std::string& path, replay::CostModel& cost) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("--bandwidths-from: cannot open '", path, "'"));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  absl::StatusOr<JsonValue> v = ParseJson(text);
  if (!v.ok())
    return absl::InvalidArgumentError(
        absl::StrCat("--bandwidths-from ", path, ": ", v.status().message()));
  JsonObjectReader r(*v, path);
  const std::pair<const char*, replay::Source> wanted[] = {
      {"host_get_1MiB", replay::Source::kHost},
      {"disk_read_1MiB", replay::Source::kDisk},
      {"ucx_get_1MiB_tcp", replay::Source::kRemote}};
  int found = 0;
  for (JsonObjectReader item : r.ObjectArray("results")) {
    const std::string name = item.String("name");
    const double value = item.Double("value", 0);
    for (const auto& [want, source] : wanted) {
      if (name == want && value > 0) {
        cost.gbps[static_cast<int>(source)] = value;
        ++found;
      }
    }
  }
  if (!r.ok()) return r.status();
  if (found == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--bandwidths-from ", path,
                     ": no host_get_1MiB, disk_read_1MiB or ucx_get_1MiB_tcp result in it"));
  }
  return absl::OkStatus();
}

struct Parsed {
  replay::ReplayOptions options;
  std::vector<kernels::Format> formats;
  ReplaySetup setup;
  uint64_t requests = 0;
  uint32_t block_tokens = 0;
};

absl::StatusOr<Parsed> ParseFlags(const FlagSet& f) {
  Parsed p;
  absl::StatusOr<uint64_t> requests = f.GetU64("requests");
  absl::StatusOr<uint64_t> bt = f.GetU64("block-tokens");
  absl::StatusOr<uint64_t> nodes = f.GetU64("nodes");
  absl::StatusOr<uint64_t> replicas = f.GetU64("replicas");
  absl::StatusOr<uint64_t> ns = f.GetU64("namespace");
  absl::StatusOr<uint64_t> admit = f.GetU64("disk-admit-after-hits");
  for (const absl::StatusOr<uint64_t>* v : {&requests, &bt, &nodes, &replicas, &ns, &admit}) {
    if (!v->ok()) return v->status();
  }
  if (*admit > 1'000'000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--disk-admit-after-hits: ", *admit, " is not in 0..1000000"));
  }
  if (*bt == 0 || *bt > service::kMaxBlockTokens) {
    return absl::InvalidArgumentError(
        absl::StrCat("--block-tokens: ", *bt, " is not in 1..", service::kMaxBlockTokens));
  }
  p.requests = *requests;
  p.block_tokens = static_cast<uint32_t>(*bt);
  replay::ReplayOptions& o = p.options;
  absl::StatusOr<service::ModelProfile> profile = service::LoadProfile(f.Get("profile"));
  if (!profile.ok()) return profile.status();
  o.cache.profile = *std::move(profile);
  o.cache.profile.geometry.block_tokens = p.block_tokens;
  absl::StatusOr<std::vector<kernels::Format>> formats = ParseFormats("format", f.Get("format"));
  if (!formats.ok()) return formats.status();
  p.formats = *formats;
  o.cache.format = p.formats[0];
  ReplaySetup& s = p.setup;
  for (auto [name, gib] :
       {std::pair{"device-gib", &s.device_gib}, std::pair{"host-gib", &s.host_gib},
        std::pair{"disk-gib", &s.disk_gib}}) {
    if (absl::Status st = GetDouble(f, name, 0, gib); !st.ok()) return st;
  }
  constexpr double kGiB = 1024.0 * 1024 * 1024;
  o.cache.device_bytes = static_cast<uint64_t>(s.device_gib * kGiB);
  o.cache.host_bytes = static_cast<uint64_t>(s.host_gib * kGiB);
  o.cache.disk_bytes = static_cast<uint64_t>(s.disk_gib * kGiB);
  o.nodes = static_cast<int>(std::min<uint64_t>(*nodes, 1 << 20));
  o.replicas = static_cast<int>(std::min<uint64_t>(*replicas, 1 << 20));
  o.key_namespace = *ns;
  o.cache.disk_admit_after_hits = static_cast<uint32_t>(*admit);
  p.setup.disk_admit_after_hits = o.cache.disk_admit_after_hits;
  o.mode = f.GetBool("materialize") ? replay::Mode::kMaterialized : replay::Mode::kSized;
  if (!f.Get("connect").empty()) {
    if (f.GetBool("materialize")) {
      return absl::InvalidArgumentError("--connect and --materialize exclude each other");
    }
    o.mode = replay::Mode::kConnect;
    o.connect = absl::StrSplit(f.Get("connect"), ',', absl::SkipWhitespace());
  }
  replay::CostModel& c = o.cost;
  if (absl::Status st = GetDouble(f, "gpu-tflops", 1e-9, &c.gpu_tflops); !st.ok()) return st;
  for (int i = 0; i < replay::kSources; ++i) {
    const std::string n = replay::SourceName(static_cast<replay::Source>(i));
    if (absl::Status st = GetDouble(f, n + "-gbps", 1e-9, &c.gbps[i]); !st.ok()) return st;
    if (absl::Status st = GetDouble(f, n + "-latency-us", 0, &c.latency_us[i]); !st.ok()) {
      return st;
    }
  }
  if (!f.Get("bandwidths-from").empty()) {
    if (absl::Status st = ReadBandwidths(f.Get("bandwidths-from"), c); !st.ok()) return st;
  }
  s.cost = c;
  return p;
}

void Progress(size_t done, size_t total) {
  if (::isatty(2) || done == total) {
    std::cerr << "replay: " << done << "/" << total << " requests" << (done == total ? "\n" : "\r")
              << std::flush;
  }
}

int RunSweep(const FlagSet& f, const Parsed& p, const replay::Trace& trace) {
  replay::SweepOptions so;
  so.base = p.options;
  absl::StatusOr<replay::Source> tier = replay::ParseSweepTier(f.Get("sweep-tier"));
  absl::StatusOr<std::vector<double>> gib = ParseGibList("sweep-gib", f.Get("sweep-gib"));
  absl::StatusOr<std::vector<kernels::Format>> formats =
      ParseFormats("sweep-formats", f.Get("sweep-formats"));
  const absl::Status err =
      !tier.ok()
          ? absl::InvalidArgumentError(absl::StrCat("--sweep-tier: ", tier.status().message()))
      : !gib.ok()     ? gib.status()
      : !formats.ok() ? formats.status()
                      : absl::OkStatus();
  if (!err.ok()) {
    std::cerr << "error: " << err.message() << "\n";
    return 2;
  }
  so.tier = *tier;
  so.budgets_gib = *gib;
  so.formats = *formats;
  so.progress = [](size_t i, size_t n, double g, kernels::Format fmt) {
    std::cerr << "sweep: [" << i + 1 << "/" << n << "] " << kernels::FormatName(fmt) << " at " << g
              << " GiB\n";
  };
  absl::StatusOr<std::vector<replay::SweepPoint>> points = replay::Sweep(trace, so);
  if (!points.ok()) {
    std::cerr << "error: " << points.status().message() << "\n";
    return absl::IsInvalidArgument(points.status()) ? 2 : 1;
  }
  const std::string csv = f.Get("csv"), png = f.Get("png");
  {
    std::ofstream out(csv);
    out << replay::SweepCsv(*points);
    if (!out) {
      std::cerr << "error: --csv: cannot write '" << csv << "'\n";
      return 1;
    }
  }
  std::string plot_note;
  if (!png.empty()) {
    if (png.find('\'') != std::string::npos) {
      std::cerr << "error: --png: a path with a single quote cannot be passed to gnuplot\n";
      return 2;
    }
    const std::string script = png + ".gp";
    std::ofstream(script) << replay::GnuplotScript(
        *points, png,
        absl::StrCat("kvstash replay: ", p.options.cache.profile.name, ", ", trace.requests.size(),
                     " requests, ", replay::SourceName(so.tier), " budget swept"));
    const std::string cmd = absl::StrCat("gnuplot '", script, "' 2>&1");
    const int rc = std::system(cmd.c_str());
    plot_note =
        rc == 0 ? absl::StrCat("plot: ", png, " (script ", script, ")")
                : absl::StrCat("plot: gnuplot failed or is missing (exit ", rc, "); the script is ",
                               script, " (deploy/install-deps.sh installs gnuplot-nox)");
  }
  absl::StatusOr<replay::FormatComparison> cmp = replay::Compare(*points, "nvfp4", "fp8_e4m3");
  if (f.GetBool("json")) {
    std::vector<std::string> items;
    for (const replay::SweepPoint& pt : *points) {
      ReplaySetup s = p.setup;
      (so.tier == replay::Source::kDevice ? s.device_gib
       : so.tier == replay::Source::kHost ? s.host_gib
                                          : s.disk_gib) = pt.budget_gib;
      items.push_back(ReplayJson(pt.report, s));
    }
    std::cout << "{\"sweep_tier\":\"" << replay::SourceName(so.tier) << "\",\"csv\":\"" << csv
              << "\",\"points\":[" << absl::StrJoin(items, ",") << "]";
    if (cmp.ok()) std::cout << ",\"nvfp4_vs_fp8\":" << ComparisonJson(*cmp);
    std::cout << "}\n";
  } else {
    std::cout << "sweep of the " << replay::SourceName(so.tier) << " budget per node ("
              << trace.requests.size() << " requests, profile " << p.options.cache.profile.name
              << ", " << replay::ModeName(p.options.mode) << ")\n";
    PrintSweepTable(*points, std::cout);
    if (cmp.ok()) PrintComparison(*cmp, std::cout);
    std::cout << "csv: " << csv << "\n";
  }
  if (!plot_note.empty()) std::cerr << plot_note << "\n";
  return 0;
}

}  // namespace

int RunReplay(const Args& args) {
  FlagSet f(
      "kvstash replay [--trace FILE] [--profile P] [--format F[,F...]] [--host-gib X] [flags]",
      "Replay a Mooncake-format trace by timestamp through kvstash's tiers and report block and\n"
      "token hit rates per tier, bytes moved, evictions and modelled TTFT (p50/p90/p99/mean).\n"
      "By default the node's real tier manager (placement, eviction, spill, admission,\n"
      "promotion) runs over size-only tiers: capacity accounted in bytes at the format's real\n"
      "block size, no payloads, so production budgets replay in seconds. --materialize stores\n"
      "real bytes in the real tiers and times the reads; --connect replays against running\n"
      "kvstashd(s) through libkvstash; --nodes N runs N in-process nodes with rendezvous\n"
      "owners and reports local vs remote hits. --sweep replays every budget x format and\n"
      "writes CSV and a PNG plot.\n\n"
      "TTFT model (replay/cost_model.h): prefill FLOPs = 2*active_params*M + 2*layers*q_heads*\n"
      "(qk_head_dim+v_head_dim)*(M*H + M(M+1)/2) for M computed tokens after H cached ones, at\n"
      "--gpu-tflops; plus, per tier read, bytes / bandwidth + latency. Defaults: H200 at ~40%\n"
      "MFU, HBM copy, PCIe 5.0 x16, one NVMe SSD, a 400 Gb/s NIC.");
  DeclareFlags(f);
  if (int rc = ParseOrExit(f, args); rc >= 0) return rc;
  absl::StatusOr<Parsed> parsed = ParseFlags(f);
  if (!parsed.ok()) {
    std::cerr << "error: " << parsed.status().message() << "\n";
    return 2;
  }
  Parsed& p = *parsed;
  absl::StatusOr<replay::Trace> trace =
      replay::ReadTrace(f.Get("trace"), p.block_tokens, p.requests);
  if (!trace.ok()) {
    std::cerr << "error: --trace: " << trace.status().message() << "\n";
    return absl::IsNotFound(trace.status()) ? 2 : 1;
  }
  p.setup.trace = f.Get("trace");
  p.setup.trace_requests = trace->requests.size();
  p.setup.distinct_blocks = trace->distinct_blocks;
  if (trace->reordered) std::cerr << "replay: note: the trace was not in timestamp order; sorted\n";
  std::unique_ptr<ScratchDir> scratch;
  if (p.options.mode == replay::Mode::kMaterialized) {
    const double gib =
        static_cast<double>(trace->distinct_blocks) *
        static_cast<double>(
            service::BlockBytes(p.options.cache.profile, kernels::Format::kBf16).value_or(0)) /
        (1024.0 * 1024 * 1024);
    if (gib > 8) {
      std::cerr << "replay: note: --materialize generates and converts up to "
                << static_cast<int>(gib)
                << " GiB of bf16 KV data for this trace and profile; this takes a while (the "
                   "default size-only replay does not)\n";
    }
    absl::StatusOr<std::unique_ptr<ScratchDir>> d =
        ScratchDir::Create(f.Get("scratch-dir"), "kvstash-replay");
    if (!d.ok()) {
      std::cerr << "error: --scratch-dir: " << d.status().message() << "\n";
      return 1;
    }
    scratch = *std::move(d);
    p.options.cache.scratch_dir = scratch->path();
  }
  if (f.GetBool("sweep")) return RunSweep(f, p, *trace);
  p.options.progress = Progress;
  std::vector<replay::ReplayReport> runs;
  for (kernels::Format fmt : p.formats) {
    replay::ReplayOptions o = p.options;
    o.cache.format = fmt;
    if (o.mode == replay::Mode::kMaterialized) {
      o.cache.scratch_dir = absl::StrCat(scratch->path(), "/", kernels::FormatName(fmt));
    }
    absl::StatusOr<replay::ReplayReport> r = replay::Replay(*trace, o);
    if (!r.ok()) {
      std::cerr << "error: " << kernels::FormatName(fmt) << ": " << r.status().message() << "\n";
      return absl::IsInvalidArgument(r.status()) ? 2 : 1;
    }
    runs.push_back(*std::move(r));
  }
  if (f.GetBool("json")) {
    if (runs.size() == 1) {
      std::cout << ReplayJson(runs[0], p.setup) << "\n";
    } else {
      std::vector<std::string> items;
      for (const replay::ReplayReport& r : runs) items.push_back(ReplayJson(r, p.setup));
      std::cout << "{\"runs\":[" << absl::StrJoin(items, ",") << "]}\n";
    }
  } else {
    PrintReplayTable(runs, p.setup, std::cout);
  }
  return 0;
}

}  // namespace kvstash::tools
