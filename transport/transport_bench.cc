// The driver of `kvstash bench transport` (transport_bench.h): the server
// process, the UCX get loop, and the result rows.
#include "transport/transport_bench.h"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/subprocess.h"
#include "transport/transport_bench_internal.h"
#include "transport/ucx_transport.h"

namespace kvstash::transport {
namespace bench_internal {

absl::StatusOr<std::vector<std::string>> UcxEnvOf(const std::string& profile) {
  absl::StatusOr<UcxTransportOptions> o = UcxTransportOptions::Profile(profile);
  if (!o.ok()) return o.status();
  return o->Environment();
}

std::string SizeName(uint64_t b) {
  if (b % (1 << 20) == 0) return absl::StrCat(b >> 20, "MiB");
  if (b % (1 << 10) == 0) return absl::StrCat(b >> 10, "KiB");
  return absl::StrCat(b, "B");
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace bench_internal

namespace {

using bench_internal::NowSeconds;
using bench_internal::SizeName;
using kvstash::bench::Result;
using kvstash::bench::Subprocess;
using kvstash::bench::SubprocessSpec;

constexpr double kStartTimeoutS = 30;
const absl::Duration kTransferTimeout = absl::Seconds(60);

// Byte i of the server's region: cheap to fill, checked once per case.
inline char RegionByte(uint64_t i) { return static_cast<char>((i * 131) ^ (i >> 12)); }

absl::StatusOr<std::unique_ptr<Transport>> MakeTransport(const std::string& profile) {
  absl::StatusOr<UcxTransportOptions> o = UcxTransportOptions::Profile(profile);
  if (!o.ok()) return o.status();
  return CreateUcxTransport(*o);
}

struct Server {
  std::unique_ptr<Subprocess> process;
  std::string address, key;
  uint64_t base = 0;
};

absl::StatusOr<Server> StartServer(const TransportBenchOptions& o, const std::string& profile) {
  SubprocessSpec spec;
  spec.argv = o.server_command;
  for (const std::string& a : {std::string("--profile"), profile, std::string("--region-bytes"),
                               absl::StrCat(o.working_set)}) {
    spec.argv.push_back(a);
  }
  spec.pipe_stdin = spec.pipe_stdout = true;
  absl::StatusOr<std::unique_ptr<Subprocess>> p = Subprocess::Start(spec);
  if (!p.ok()) return p.status();
  absl::StatusOr<std::string> line = (*p)->ReadLine(kStartTimeoutS);
  if (!line.ok()) return line.status();
  std::vector<std::string> f = absl::StrSplit(*line, ' ');
  Server s;
  if (f.size() != 4 || f[0] != "ready" || !absl::SimpleAtoi(f[3], &s.base)) {
    return absl::UnavailableError(absl::StrCat("transport bench server failed: ", *line));
  }
  s.process = std::move(*p);
  s.address = absl::HexStringToBytes(f[1]);
  s.key = absl::HexStringToBytes(f[2]);
  return s;
}

// Gets `bytes` of `block`-byte blocks from the server, cycling over
// `working_set` bytes of its region, `window` transfers in flight: two
// batches of window/2 (an engine fetches a prefix's blocks in one batch),
// the next posted as soon as the oldest has finished. Every block has one
// prepared transfer, posted again on each pass. Returns GB/s.
class GetLoop {
 public:
  // `one_block`: every transfer gets the server's first block into one
  // local buffer, ucx_perftest's access pattern (its figures are cache-hot).
  static absl::StatusOr<std::unique_ptr<GetLoop>> Create(Transport& t, const Server& s,
                                                         uint64_t working_set, int window,
                                                         uint64_t block, bool one_block) {
    auto loop = std::unique_ptr<GetLoop>(new GetLoop(t));
    absl::StatusOr<PeerId> peer = t.Connect(s.address);
    if (!peer.ok()) return peer.status();
    // Never more blocks in flight than the server's region holds (--quick
    // shrinks the working set to 4 MiB, fewer than 64 blocks of 1 MiB).
    const uint64_t held = std::max<uint64_t>(1, working_set / block);
    const uint64_t in_flight = one_block ? window : std::min<uint64_t>(window, held);
    loop->half_ = std::max<size_t>(1, static_cast<size_t>(in_flight) / 2);
    const size_t slots = one_block ? 1 : 2 * loop->half_;
    // A whole number of windows, so that block b always lands in slot b % slots.
    const uint64_t blocks =
        one_block ? 2 * loop->half_ : std::max<uint64_t>(1, held / slots) * slots;
    loop->local_.reset(new char[slots * block]);
    absl::StatusOr<std::unique_ptr<Registration>> reg =
        t.Register(loop->local_.get(), slots * block, MemoryKind::kHost);
    if (!reg.ok()) return reg.status();
    loop->reg_ = std::move(*reg);
    for (uint64_t b = 0; b < blocks; ++b) {
      absl::StatusOr<TransferId> id =
          t.Prepare({*peer, Op::kGet, loop->local_.get() + (b % slots) * block, block,
                     s.base + (one_block ? 0 : (b % held) * block), s.key});
      if (!id.ok()) return id.status();
      loop->ids_.push_back(*id);
    }
    loop->block_ = block;
    return loop;
  }
  ~GetLoop() {
    for (TransferId id : ids_) (void)t_.Release(id);
  }

  absl::StatusOr<double> Run(uint64_t bytes) {
    const uint64_t n = std::max<uint64_t>(1, bytes / block_ / half_) * half_;
    const double t0 = NowSeconds();
    std::vector<TransferId> batch;
    for (uint64_t i = 0; i < n + 2 * half_; i += half_) {
      if (i >= 2 * half_) {  // the batch whose slots the next one reuses
        for (uint64_t j = i - 2 * half_; j < i - half_; ++j) {
          const absl::Status s = t_.Wait(ids_[j % ids_.size()], absl::Now() + kTransferTimeout);
          if (!s.ok()) return s;
        }
      }
      if (i >= n) continue;
      batch.clear();
      for (uint64_t j = i; j < i + half_; ++j) batch.push_back(ids_[j % ids_.size()]);
      if (absl::Status s = t_.Post(batch); !s.ok()) return s;
    }
    return double(n * block_) / (NowSeconds() - t0) / 1e9;
  }

  // The first block of the local buffer matches the server's region.
  bool FirstBlockMatches() const {
    for (uint64_t i = 0; i < block_; ++i) {
      if (local_[i] != RegionByte(i)) return false;
    }
    return true;
  }

 private:
  explicit GetLoop(Transport& t) : t_(t) {}
  Transport& t_;
  std::unique_ptr<char[]> local_;
  std::unique_ptr<Registration> reg_;
  std::vector<TransferId> ids_;
  size_t half_ = 1;
  uint64_t block_ = 0;
};

// GB/s of `repeats` rounds (best), each getting `o.bytes` from a working set
// of `working_set` bytes of a fresh server (one block: see GetLoop).
absl::StatusOr<double> RunUcx(const TransportBenchOptions& o, const std::string& profile,
                              uint64_t block, uint64_t working_set) {
  const bool one_block = working_set == block;
  absl::StatusOr<std::unique_ptr<Transport>> t = MakeTransport(profile);
  if (!t.ok()) return t.status();
  TransportBenchOptions server_options = o;
  server_options.working_set = working_set;
  absl::StatusOr<Server> server = StartServer(server_options, profile);
  if (!server.ok()) return server.status();
  double best = 0;
  {
    absl::StatusOr<std::unique_ptr<GetLoop>> loop =
        GetLoop::Create(**t, *server, working_set, o.window, block, one_block);
    if (!loop.ok()) return loop.status();
    if (absl::StatusOr<double> warm = (*loop)->Run(working_set); !warm.ok()) {
      return warm.status();
    }
    if (!(*loop)->FirstBlockMatches()) {
      return absl::DataLossError(absl::StrCat("ucx ", profile, ": wrong bytes got"));
    }
    for (int r = 0; r < o.repeats; ++r) {
      absl::StatusOr<double> g = (*loop)->Run(o.bytes);
      if (!g.ok()) return g.status();
      best = std::max(best, *g);
    }
  }
  server->process->CloseStdin();
  server->process->Stop(0, 10);
  return best;
}

absl::Status Validate(const TransportBenchOptions& o) {
  if (o.server_command.empty()) return absl::InvalidArgumentError("no server command");
  if (o.profiles.empty() || o.block_bytes.empty()) {
    return absl::InvalidArgumentError("no profiles or block sizes");
  }
  for (uint64_t b : o.block_bytes) {
    if (b == 0 || b > o.working_set) {
      return absl::InvalidArgumentError(
          absl::StrCat("block size ", b, " must be in [1, working set ", o.working_set, "]"));
    }
  }
  if (o.window < 1 || o.window > 1024) {
    return absl::InvalidArgumentError("window must be in [1, 1024]");
  }
  if (o.repeats < 1) return absl::InvalidArgumentError("repeats must be at least 1");
  if (o.bytes == 0) return absl::InvalidArgumentError("bytes per case must be positive");
  return absl::OkStatus();
}

void AddNotes(const TransportBenchOptions& o, TransportBenchReport* report) {
  report->notes.push_back(absl::StrFormat(
      "ucx_get_S_P: one UCX transport (kvstash::transport) per process; the server allocates "
      "a %s region through its transport (Transport::Allocate: shared memory for shm), the "
      "client gets %s per round from it, block after block, %d in flight in batches of %d "
      "(fewer when the region holds fewer blocks), into a registered buffer; best of %d rounds",
      SizeName(o.working_set), SizeName(o.bytes), o.window, std::max(1, o.window / 2), o.repeats));
  report->notes.push_back(absl::StrFormat(
      "ucx_get_S_P_hot: ucx_perftest's access pattern, for the like-for-like ratio: every get "
      "reads the server's first block into one local buffer, %d in flight (both cache-hot)",
      o.window));
  report->notes.push_back(absl::StrFormat(
      "ucx_perftest: -t ucp_get -O %d -s S, server and client on 127.0.0.1, under the "
      "profile's UCX settings (UCX_TLS=tcp with 256k/512k TCP segments; UCX_TLS=posix,cma)",
      o.window));
  report->notes.push_back(absl::StrFormat(
      "redis_get: redis-server on loopback TCP, GET of %s of the same blocks, %d per pipeline",
      SizeName(o.bytes), o.window));
}

}  // namespace

absl::StatusOr<TransportBenchReport> RunTransportBench(const TransportBenchOptions& o,
                                                       std::ostream* progress) {
  if (absl::Status s = Validate(o); !s.ok()) return s;
  std::ostream null_stream(nullptr);
  std::ostream& log = progress != nullptr ? *progress : null_stream;
  signal(SIGPIPE, SIG_IGN);
  TransportBenchReport report;
  std::unique_ptr<bench_internal::RedisBaseline> redis;
  if (!o.redis_server.empty()) {
    absl::StatusOr<std::unique_ptr<bench_internal::RedisBaseline>> r =
        bench_internal::RedisBaseline::Start(o.redis_server);
    if (r.ok()) {
      redis = std::move(*r);
    } else {
      report.notes.push_back(absl::StrCat("Redis baseline SKIPPED: ", r.status().message()));
    }
  }
  std::map<uint64_t, double> redis_gbs;
  for (uint64_t block : o.block_bytes) {
    if (redis == nullptr) break;
    absl::StatusOr<double> g = redis->MeasureGet(o, block);
    if (!g.ok()) return g.status();
    redis_gbs[block] = *g;
    log << absl::StrFormat("redis get        %-6s %8.3f GB/s\n", SizeName(block), *g);
  }
  for (const std::string& profile : o.profiles) {
    for (uint64_t block : o.block_bytes) {
      const std::string s = SizeName(block);
      const std::string name = absl::StrCat("ucx_get_", s, "_", profile);
      absl::StatusOr<double> ours = RunUcx(o, profile, block, o.working_set);
      if (!ours.ok()) return ours.status();
      log << absl::StrFormat("ucx get          %-6s %-4s %8.3f GB/s\n", s, profile, *ours);
      if (redis_gbs.count(block)) {
        report.results.push_back(
            Result{name, "GB/s", *ours, absl::StrCat("redis_get_", s), redis_gbs[block], "> 1"});
      }
      if (o.ucx_perftest.empty()) continue;
      // ucx_perftest gets one block into one buffer over and over: the
      // like-for-like figure does the same (both cache-hot).
      absl::StatusOr<double> hot = RunUcx(o, profile, block, block);
      if (!hot.ok()) return hot.status();
      log << absl::StrFormat("ucx get (hot)    %-6s %-4s %8.3f GB/s\n", s, profile, *hot);
      absl::StatusOr<double> perf = bench_internal::RunPerftest(o, profile, block);
      if (!perf.ok()) {
        report.notes.push_back(absl::StrCat("ucx_perftest baseline for ", name,
                                            " SKIPPED: ", perf.status().message()));
        continue;
      }
      log << absl::StrFormat("ucx_perftest get %-6s %-4s %8.3f GB/s\n", s, profile, *perf);
      report.results.push_back(Result{name + "_hot", "GB/s", *hot,
                                      absl::StrCat("ucx_perftest_ucp_get_", s, "_", profile), *perf,
                                      ">= 0.8"});
    }
  }
  AddNotes(o, &report);
  return report;
}

int RunTransportBenchServer(const std::string& profile, uint64_t region_bytes) {
  absl::StatusOr<std::unique_ptr<Transport>> t = MakeTransport(profile);
  if (!t.ok()) {
    std::cout << "error " << t.status() << std::endl;
    return 1;
  }
  // Memory the transport allocates where it can (shared memory for shm),
  // else plain heap memory registered with it.
  std::unique_ptr<char[]> heap;
  absl::StatusOr<std::unique_ptr<Registration>> reg =
      (*t)->Allocate(region_bytes, MemoryKind::kHost);
  if (absl::IsUnimplemented(reg.status())) {
    heap.reset(new char[region_bytes]);
    reg = (*t)->Register(heap.get(), region_bytes, MemoryKind::kHost);
  }
  if (!reg.ok()) {
    std::cout << "error " << reg.status() << std::endl;
    return 1;
  }
  char* region = static_cast<char*>((*reg)->base());
  for (uint64_t i = 0; i < region_bytes; ++i) region[i] = RegionByte(i);
  std::cout << "ready " << absl::BytesToHexString((*t)->LocalAddress()) << " "
            << absl::BytesToHexString((*reg)->remote_key()) << " "
            << reinterpret_cast<uintptr_t>(region) << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  return 0;
}

}  // namespace kvstash::transport
