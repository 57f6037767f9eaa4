// kvstash bench service: flags in, bench/service_bench.h does the work, the
// table or JSON of bench/report.h comes out. With --worker this process is
// one of the bench's client processes instead (started by the bench itself).
#include <unistd.h>

#include <climits>
#include <iostream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/report.h"
#include "bench/service_bench.h"
#include "tools/commands.h"
#include "tools/flags.h"

namespace kvstash::tools {
namespace {

std::string SelfPath() {
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  return n > 0 ? std::string(self, static_cast<size_t>(n)) : "kvstash";
}

// <build>/tools/kvstash -> <build>/service/kvstashd, else next to us, else PATH.
std::string DefaultKvstashd() {
  const std::string self = SelfPath();
  const std::string dir = self.substr(0, self.rfind('/'));
  for (const std::string& candidate : {dir + "/../service/kvstashd", dir + "/kvstashd"}) {
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "kvstashd";
}

template <typename T>
absl::StatusOr<std::vector<T>> ParseList(const FlagSet& flags, const std::string& name) {
  std::vector<T> out;
  for (absl::string_view s : absl::StrSplit(flags.Get(name), ',')) {
    T v = 0;
    if (!absl::SimpleAtoi(s, &v) || v <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag --", name, ": '", s, "' is not a positive integer"));
    }
    out.push_back(v);
  }
  return out;
}

absl::StatusOr<bench::ServiceBenchOptions> ParseOptions(const FlagSet& flags) {
  bench::ServiceBenchOptions o;
  o.worker_command = {SelfPath(), "bench", "service", "--worker"};
  o.kvstashd = flags.Has("kvstashd") ? flags.Get("kvstashd") : DefaultKvstashd();
  o.redis_server = flags.GetBool("no-redis") ? "" : flags.Get("redis-server");
  o.dir = flags.Get("dir");
  absl::StatusOr<uint64_t> bytes = flags.GetU64("bytes");
  if (!bytes.ok()) return bytes.status();
  if (*bytes == 0) return absl::InvalidArgumentError("flag --bytes: must be positive");
  o.bytes = *bytes;
  absl::StatusOr<std::vector<uint64_t>> sizes = ParseList<uint64_t>(flags, "sizes");
  if (!sizes.ok()) return sizes.status();
  o.block_bytes = *sizes;
  absl::StatusOr<std::vector<int>> procs = ParseList<int>(flags, "procs");
  if (!procs.ok()) return procs.status();
  o.processes = *procs;
  absl::StatusOr<uint64_t> repeats = flags.GetU64("repeats");
  if (!repeats.ok()) return repeats.status();
  if (*repeats < 1 || *repeats > 100) {
    return absl::InvalidArgumentError("flag --repeats: must be in [1, 100]");
  }
  o.repeats = static_cast<int>(*repeats);
  absl::StatusOr<uint64_t> batch = flags.GetU64("batch");
  if (!batch.ok()) return batch.status();
  if (*batch < 1 || *batch > 4096)
    return absl::InvalidArgumentError("flag --batch: must be in [1, 4096]");
  o.batch = *batch;
  return o;
}

int RunWorker(const FlagSet& flags) {
  bench::ServiceWorkerOptions w;
  const std::string target = flags.Get("target");
  if (target != "kvstash" && target != "redis") {
    std::cerr << "error: flag --target: expected kvstash or redis, got '" << target << "'\n";
    return 2;
  }
  w.target = target == "redis" ? bench::ServiceWorkerOptions::Target::kRedis
                               : bench::ServiceWorkerOptions::Target::kKvstash;
  w.address = flags.Get("address");
  absl::StatusOr<uint64_t> block = flags.GetU64("block-bytes");
  absl::StatusOr<uint64_t> blocks = flags.GetU64("blocks");
  absl::StatusOr<uint64_t> base = flags.GetU64("key-base");
  for (const absl::Status& s : {block.status(), blocks.status(), base.status()}) {
    if (!s.ok()) {
      std::cerr << "error: " << s.message() << "\n";
      return 2;
    }
  }
  w.block_bytes = *block;
  w.blocks = *blocks;
  w.key_base = *base;
  absl::StatusOr<uint64_t> batch = flags.GetU64("batch");
  if (!batch.ok() || *batch < 1) {
    std::cerr << "error: flag --batch: must be a positive integer\n";
    return 2;
  }
  w.batch = *batch;
  return bench::RunServiceWorker(w);
}

}  // namespace

int RunBenchService(const Args& args) {
  FlagSet flags(
      "kvstash bench service [flags]",
      "kvstashd put/get GB/s and ops/s from 1 and 8 client processes (libkvstash over the Unix\n"
      "socket), next to the same puts/gets through an in-process TierManager and next to Redis\n"
      "SET/GET of the same bytes from the same number of processes. Starts and stops its own\n"
      "kvstashd (host tier only) and redis-server on loopback.");
  flags.Bool("json", "print one JSON object instead of a table");
  flags.String("kvstashd", "kvstashd binary (default: <build>/service/kvstashd, else PATH)",
               std::nullopt, /*optional=*/true);
  flags.String("redis-server", "redis-server binary", "redis-server");
  flags.Bool("no-redis", "skip the Redis baseline");
  flags.String("dir", "parent of the scratch directory (default: $TMPDIR, else /tmp)", std::nullopt,
               /*optional=*/true);
  flags.String("bytes", "payload bytes put and got per case, over all processes", "268435456");
  flags.String("sizes", "block payload sizes in bytes, comma-separated", "1048576,65536");
  flags.String("procs", "client process counts, comma-separated", "1,8");
  flags.String("repeats", "rounds of every case (best kept)", "3");
  flags.String("batch",
               "blocks per call: one kvstash batched call, one Redis pipeline (an engine fetches a "
               "prefix at once)",
               "16");
  flags.Bool("worker", "(internal) run as one of the bench's client processes");
  flags.String("target", "(internal, --worker) kvstash or redis", "kvstash");
  flags.String("address", "(internal, --worker) server address", "");
  flags.String("block-bytes", "(internal, --worker) block size", "0");
  flags.String("blocks", "(internal, --worker) blocks to put and get", "0");
  flags.String("key-base", "(internal, --worker) first key", "0");
  if (const int rc = ParseOrExit(flags, args); rc >= 0) return rc;
  if (flags.GetBool("worker")) return RunWorker(flags);
  absl::StatusOr<bench::ServiceBenchOptions> options = ParseOptions(flags);
  if (!options.ok()) {
    std::cerr << "error: " << options.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<bench::ServiceBenchReport> report = bench::RunServiceBench(*options, &std::cerr);
  if (!report.ok()) {
    std::cerr << "error: " << report.status().message() << "\n";
    return 1;
  }
  bench::PrintReport(report->results, report->notes, flags.GetBool("json"));
  return 0;
}

}  // namespace kvstash::tools
