// kvstash bench: dispatches to the benchmark families. Each prints a table
// (or --json) of results next to baselines measured in the same run. With
// no family, tools/cmd_bench_all.cc runs them all and merges their reports.
#include <unistd.h>

#include <climits>
#include <iostream>
#include <string>

#include "tools/commands.h"

namespace kvstash::tools {
namespace {

// The summary of `kvstash bench --help`; the flags of the run-everything
// mode follow it (tools/cmd_bench_all.cc).
constexpr char kBenchHelp[] =
    "Benchmarks, each next to baselines measured in the same run. With no family (or with\n"
    "`all`), runs every family below, one after another, each as a child process\n"
    "(`kvstash bench <family> --json ...`), and prints one table whose first column names\n"
    "the family (with --json: {\"machine\", \"results\": [{\"bench\", \"name\", ...}]}).\n"
    "By default each family runs with short smoke settings (listed at the end, and printed\n"
    "on stderr as each family starts): a few minutes in all on two cores, numbers to compare\n"
    "roughly, not to quote. --full runs each family with its own defaults instead.\n"
    "Progress and each family's seconds go to stderr. A family that fails (a missing\n"
    "redis-server or ucx_perftest, a non-zero exit, output that is not a JSON report) does\n"
    "not stop the others: the tail of its stderr goes to stderr, a \"# <family>: FAILED: ...\"\n"
    "note to the output, and the exit status is 1 (else 0; 2 for a usage error such as an\n"
    "unknown family). Notes a family prints (\"# ...\" lines) are passed on as\n"
    "\"# <family>: ...\".\n\n"
    "families (`kvstash bench <family> --help` for each one's flags):\n"
    "  codec     CPU NVFP4/MXFP4/FP8 codec GB/s vs memcpy and vs the scalar reference\n"
    "            (runs the kvstash_codec_bench Google Benchmark binary)\n"
    "  tiers     host and disk tier GB/s vs memcpy and vs plain file I/O\n"
    "  service   kvstashd put/get GB/s and ops/s from 1 and 8 client processes vs the\n"
    "            in-process tier manager and vs Redis SET/GET of the same bytes\n"
    "  router    prefix index events/s and placement p50/p99 on a Mooncake trace over\n"
    "            1k workers x 4 dp ranks vs a naive unordered_map (one core)\n"
    "  transport UCX block get GB/s between two processes over tcp and shared memory vs\n"
    "            ucx_perftest on the same transport and vs Redis GET of the same blocks\n\n"
    "Every family takes --json to print {\"machine\", \"results\": [...]}.";

// The Google Benchmark binary sits in the build tree next to ours:
// <build>/tools/kvstash -> <build>/bench/kvstash_codec_bench.
std::string CodecBenchPath() {
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "kvstash_codec_bench";
  std::string dir(self, static_cast<size_t>(n));
  dir = dir.substr(0, dir.rfind('/'));
  for (const std::string& candidate :
       {dir + "/kvstash_codec_bench", dir + "/../bench/kvstash_codec_bench"}) {
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "kvstash_codec_bench";
}

}  // namespace

int RunBenchCodec(const Args& args) {
  const std::string path = CodecBenchPath();
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execvp(path.c_str(), argv.data());
  std::cerr << "error: cannot run " << path << " (build the kvstash_codec_bench target)\n";
  return 1;
}

int RunBench(const Args& args) {
  // No family, or flags only: run them all (this also answers --help).
  if (args.empty() || args[0].rfind('-', 0) == 0) return RunBenchAll(args, kBenchHelp);
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "all") return RunBenchAll(rest, kBenchHelp);
  if (args[0] == "codec") return RunBenchCodec(rest);
  if (args[0] == "tiers") return RunBenchTiers(rest);
  if (args[0] == "service") return RunBenchService(rest);
  if (args[0] == "router") return RunBenchRouter(rest);
  if (args[0] == "transport") return RunBenchTransport(rest);
  std::cerr << "error: unknown bench '" << args[0]
            << "' (expected codec, tiers, service, router, transport or all; see kvstash bench "
               "--help)\n";
  return 2;
}

}  // namespace kvstash::tools
