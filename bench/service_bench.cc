// The driver side of `kvstash bench service` (service_bench.h): servers,
// worker processes, the in-process baseline and the result rows.
#include "bench/service_bench.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/redis_client.h"
#include "bench/service_bench_internal.h"
#include "bench/subprocess.h"
#include "common/scratch_dir.h"

namespace kvstash::bench {
namespace {

using service_internal::CaseFigures;
using service_internal::Figure;
using service_internal::Now;
using service_internal::PayloadBytes;
using service_internal::SizeName;

constexpr double kStartTimeoutS = 30;
constexpr double kPhaseTimeoutS = 300;

std::string FileTail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string s = ss.str();
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

// kvstashd with a host tier big enough for one case and no disk tier.
absl::StatusOr<std::unique_ptr<Subprocess>> StartKvstashd(const ServiceBenchOptions& o,
                                                          const std::string& dir,
                                                          std::string* socket) {
  const double host_gib = (o.bytes * 1.25 + (uint64_t{64} << 20)) / double(uint64_t{1} << 30);
  SubprocessSpec spec;
  spec.argv = {o.kvstashd,
               "--data-dir",
               dir + "/kvstashd",
               "--listen",
               "127.0.0.1:0",
               "--http",
               "127.0.0.1:0",
               "--host-gib",
               absl::StrFormat("%.4f", host_gib),
               "--disk-gib",
               "0"};
  spec.pipe_stdout = true;
  spec.stderr_file = dir + "/kvstashd.log";
  absl::StatusOr<std::unique_ptr<Subprocess>> d = Subprocess::Start(spec);
  if (!d.ok()) return d.status();
  absl::StatusOr<std::string> line = (*d)->ReadLine(kStartTimeoutS);
  if (!line.ok() || line->rfind("kvstashd ready", 0) != 0) {
    return absl::UnavailableError(
        absl::StrCat("kvstashd did not start: ", line.ok() ? *line : line.status().message(), "\n",
                     FileTail(spec.stderr_file)));
  }
  for (absl::string_view field : absl::StrSplit(*line, ' ')) {
    if (absl::ConsumePrefix(&field, "socket=")) *socket = std::string(field);
  }
  if (socket->empty()) return absl::UnavailableError("kvstashd announced no socket: " + *line);
  return d;
}

}  // namespace

absl::StatusOr<int> service_internal::FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  const bool ok = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  if (fd >= 0) close(fd);
  if (!ok) return absl::InternalError("cannot find a free loopback port");
  return ntohs(a.sin_port);
}

namespace {

// redis-server without persistence on a free loopback port, once it answers PING.
absl::StatusOr<std::unique_ptr<Subprocess>> StartRedis(const ServiceBenchOptions& o,
                                                       const std::string& dir,
                                                       std::string* address) {
  absl::StatusOr<int> port = service_internal::FreeLoopbackPort();
  if (!port.ok()) return port.status();
  SubprocessSpec spec;
  spec.argv = {o.redis_server,
               "--port",
               absl::StrCat(*port),
               "--save",
               "",
               "--appendonly",
               "no",
               "--bind",
               "127.0.0.1",
               "--dir",
               dir,
               "--protected-mode",
               "no"};
  spec.stdout_file = dir + "/redis.log";
  absl::StatusOr<std::unique_ptr<Subprocess>> r = Subprocess::Start(spec);
  if (!r.ok()) return r.status();
  const double deadline = Now() + kStartTimeoutS;
  for (;;) {
    absl::StatusOr<std::unique_ptr<RedisClient>> c = RedisClient::Connect("127.0.0.1", *port);
    if (c.ok() && (*c)->Ping().ok()) break;
    if (Now() > deadline) {
      return absl::UnavailableError(absl::StrCat("redis-server did not answer on port ", *port,
                                                 "\n", FileTail(spec.stdout_file)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  *address = absl::StrCat("127.0.0.1:", *port);
  return r;
}

// Sends `phase` to every worker and sums their answers over the span from
// the first start to the last end.
absl::StatusOr<Figure> RunPhase(const std::string& phase,
                                std::vector<std::unique_ptr<Subprocess>>& workers) {
  for (auto& w : workers) {
    if (absl::Status s = w->WriteLine(phase); !s.ok()) return s;
  }
  double first = 1e300, last = 0, bytes = 0, ops = 0, zero_copy = 0;
  for (auto& w : workers) {
    absl::StatusOr<std::string> line = w->ReadLine(kPhaseTimeoutS);
    if (!line.ok()) return line.status();
    std::vector<std::string> f = absl::StrSplit(*line, ' ');
    double n = 0, b = 0, t0 = 0, t1 = 0, zc = 0;
    if (f.size() != 6 || f[0] != phase || !absl::SimpleAtod(f[1], &n) ||
        !absl::SimpleAtod(f[2], &b) || !absl::SimpleAtod(f[3], &t0) ||
        !absl::SimpleAtod(f[4], &t1) || !absl::SimpleAtod(f[5], &zc)) {
      return absl::InternalError(absl::StrCat("worker ", w->pid(), " failed: ", *line));
    }
    first = std::min(first, t0);
    last = std::max(last, t1);
    bytes += b;
    ops += n;
    zero_copy += zc;
  }
  const double span = std::max(last - first, 1e-9);
  return Figure{bytes / span / 1e9, ops / span, ops, zero_copy};
}

struct CaseSpec {
  const char* target;  // "kvstash" or "redis"
  std::string address;
  uint64_t block_bytes;
  int processes;
  uint64_t bytes;
  uint64_t key_base;
};

absl::StatusOr<CaseFigures> RunCase(const ServiceBenchOptions& o, const CaseSpec& c) {
  const uint64_t payload = PayloadBytes(c.block_bytes);
  const uint64_t per_worker = std::max<uint64_t>(1, c.bytes / payload / c.processes);
  std::vector<std::unique_ptr<Subprocess>> workers;
  for (int i = 0; i < c.processes; ++i) {
    SubprocessSpec spec;
    spec.argv = o.worker_command;
    for (const std::string& a :
         {std::string("--target"), std::string(c.target), std::string("--address"), c.address,
          std::string("--block-bytes"), absl::StrCat(c.block_bytes), std::string("--blocks"),
          absl::StrCat(per_worker), std::string("--key-base"),
          absl::StrCat(c.key_base + (uint64_t(i) << 28)), std::string("--batch"),
          absl::StrCat(o.batch)}) {
      spec.argv.push_back(a);
    }
    spec.pipe_stdin = spec.pipe_stdout = true;
    absl::StatusOr<std::unique_ptr<Subprocess>> w = Subprocess::Start(spec);
    if (!w.ok()) return w.status();
    workers.push_back(*std::move(w));
  }
  for (auto& w : workers) {
    absl::StatusOr<std::string> line = w->ReadLine(kStartTimeoutS);
    if (!line.ok()) return line.status();
    if (*line != "ready") {
      return absl::UnavailableError(absl::StrCat(c.target, " worker failed to start: ", *line));
    }
  }
  CaseFigures out;
  absl::StatusOr<Figure> put = RunPhase("put", workers);
  if (!put.ok()) return put.status();
  absl::StatusOr<Figure> get = RunPhase("get", workers);
  if (!get.ok()) return get.status();
  out.put = *put;
  out.get = *get;
  if (std::string(c.target) == "kvstash") {
    absl::StatusOr<Figure> view = RunPhase("getview", workers);
    if (!view.ok()) return view.status();
    out.get_view = *view;
  }
  if (absl::StatusOr<Figure> e = RunPhase("erase", workers); !e.ok()) return e.status();
  for (auto& w : workers) w->CloseStdin();
  for (auto& w : workers) {
    const int status = w->Stop(0, kStartTimeoutS);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return absl::InternalError(
          absl::StrCat(c.target, " worker ", w->pid(), " did not exit cleanly"));
    }
  }
  return out;
}

// The result rows of one (size, processes) pair.
void AddRows(const std::string& s, int n, const CaseFigures& svc, const CaseFigures* redis,
             const CaseFigures& inproc, std::vector<Result>* out) {
  const std::string p = absl::StrCat("_", n, "proc");
  auto row = [&](std::string name, std::string unit, double v, std::string base, double b,
                 std::string target) {
    out->push_back(
        Result{std::move(name), std::move(unit), v, std::move(base), b, std::move(target)});
  };
  const std::string get = "service_get_" + s + p, put = "service_put_" + s + p;
  const std::string view = "service_getview_" + s + p;
  if (redis != nullptr) {
    row(get, "GB/s", svc.get.gbs, "redis_get_" + s + p, redis->get.gbs, ">= 5");
    row(view, "GB/s", svc.get_view.gbs, "redis_get_" + s + p, redis->get.gbs, ">= 5");
    row(get, "ops/s", svc.get.ops, "redis_get_" + s + p, redis->get.ops, "");
    row(view, "ops/s", svc.get_view.ops, "redis_get_" + s + p, redis->get.ops, "");
  }
  row(get, "GB/s", svc.get.gbs, "inprocess_get_" + s, inproc.get.gbs, ">= 0.5");
  row(view, "GB/s", svc.get_view.gbs, "inprocess_get_" + s, inproc.get.gbs, ">= 0.5");
  if (redis != nullptr) {
    row(put, "GB/s", svc.put.gbs, "redis_set_" + s + p, redis->put.gbs, "");
    row(put, "ops/s", svc.put.ops, "redis_set_" + s + p, redis->put.ops, "");
  }
  row(put, "GB/s", svc.put.gbs, "inprocess_put_" + s, inproc.put.gbs, "");
}

struct Servers {
  std::string kvstash;  // socket path
  std::string redis;    // host:port, "" without Redis
};

struct Measured {
  std::map<std::pair<uint64_t, int>, CaseFigures> kvstash, redis;  // by (size, processes)
  double zero_copy = 0, views = 0;                                 // getview ops, all rounds
};

void KeepBest(const Figure& f, Figure* best) {
  if (f.gbs > best->gbs) *best = f;
}

// Every (target, size, processes) case, `repeats` rounds, the targets
// alternating so that a shared machine's drift hits both; best of the rounds.
absl::StatusOr<Measured> RunCases(const ServiceBenchOptions& o, const Servers& servers,
                                  std::ostream& log) {
  Measured m;
  uint64_t key_base = uint64_t{1} << 40;
  std::vector<const char*> targets = {"kvstash"};
  if (!servers.redis.empty()) targets.push_back("redis");
  for (const char* target : targets) {  // untimed: the server's memory gets touched once
    const std::string address = std::string(target) == "redis" ? servers.redis : servers.kvstash;
    if (absl::StatusOr<CaseFigures> w =
            RunCase(o, {target, address, o.block_bytes[0], 1, o.bytes, key_base});
        !w.ok()) {
      return w.status();
    }
  }
  for (int round = 0; round < o.repeats; ++round) {
    for (uint64_t size : o.block_bytes) {
      for (int n : o.processes) {
        for (const char* target : targets) {
          const bool is_redis = std::string(target) == "redis";
          key_base += uint64_t{1} << 40;
          absl::StatusOr<CaseFigures> f = RunCase(
              o, {target, is_redis ? servers.redis : servers.kvstash, size, n, o.bytes, key_base});
          if (!f.ok()) return f.status();
          CaseFigures& best = (is_redis ? m.redis : m.kvstash)[{size, n}];
          KeepBest(f->put, &best.put);
          KeepBest(f->get, &best.get);
          KeepBest(f->get_view, &best.get_view);
          log << absl::StrFormat(
              "[%d/%d] %-7s %-5s x%-2d put %6.3f GB/s %7.0f ops/s  get %6.3f GB/s %7.0f ops/s",
              round + 1, o.repeats, target, SizeName(size), n, f->put.gbs, f->put.ops, f->get.gbs,
              f->get.ops);
          if (!is_redis) {
            log << absl::StrFormat(
                "  getview %6.3f GB/s (%.0f%% zero-copy)", f->get_view.gbs,
                100 * f->get_view.zero_copy_ops / std::max(1.0, f->get_view.count));
            m.zero_copy += f->get_view.zero_copy_ops;
            m.views += f->get_view.count;
          }
          log << "\n";
        }
      }
    }
  }
  return m;
}

// What the figures measured, one line each.
void AddNotes(const ServiceBenchOptions& o, const Measured& m, ServiceBenchReport* report) {
  report->notes.push_back(absl::StrFormat(
      "service_put: libkvstash Client::Put over the daemon's Unix socket, payloads copied once "
      "into a shared put window (no socket copy); service_get: Client::Get, block bytes inline "
      "in the Cap'n Proto messages; %d blocks per call (Redis: %d commands per pipeline)",
      o.batch, o.batch));
  report->notes.push_back(absl::StrFormat(
      "service_getview: Client::GetViews (payload read in place from the daemon's shared memfd "
      "arena; %.0f%% of these gets were zero-copy) plus one memcpy into the worker's buffer, "
      "timed after one untimed pass (a long-lived engine's mapping of the arena is warm)",
      100 * m.zero_copy / std::max(1.0, m.views)));
  for (uint64_t size : o.block_bytes) {
    const kernels::KvGeometry gs = service_internal::GeometryFor(size);
    report->notes.push_back(absl::StrFormat(
        "%s blocks: NVFP4 payload of %d bytes (1 layer x K/V x 1 head x 128 dims x %d tokens; "
        "exactly 2^k bytes is impossible at 9/16 byte per value), put and got in NVFP4 = the "
        "storage format, so no conversion; Redis SET/GET the same bytes",
        SizeName(size), PayloadBytes(size), gs.block_tokens));
  }
  report->notes.push_back(absl::StrFormat(
      "%s per case, best of %d rounds (kvstash and Redis cases alternate); GB/s counts payload "
      "bytes; in-process = TierManager over a host tier, 1 thread, best of %d; kvstashd and "
      "redis-server each serve on one thread",
      SizeName(o.bytes), o.repeats, o.repeats));
}

absl::Status Validate(const ServiceBenchOptions& o) {
  if (o.worker_command.empty()) return absl::InvalidArgumentError("no worker command");
  if (o.kvstashd.empty()) return absl::InvalidArgumentError("no kvstashd binary");
  if (o.block_bytes.empty() || o.processes.empty()) {
    return absl::InvalidArgumentError("no block sizes or process counts");
  }
  for (uint64_t b : o.block_bytes) {
    if (b < 256 || b > (uint64_t{256} << 20)) {
      return absl::InvalidArgumentError(
          absl::StrCat("block size ", b, " is outside [256 B, 256 MiB]"));
    }
  }
  for (int n : o.processes) {
    if (n < 1 || n > 256) {
      return absl::InvalidArgumentError(absl::StrCat("process count ", n, " is outside [1, 256]"));
    }
  }
  if (o.bytes == 0) return absl::InvalidArgumentError("bytes per case must be positive");
  if (o.repeats < 1) return absl::InvalidArgumentError("repeats must be at least 1");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServiceBenchReport> RunServiceBench(const ServiceBenchOptions& o,
                                                   std::ostream* progress) {
  if (absl::Status s = Validate(o); !s.ok()) return s;
  std::ostream null_stream(nullptr);
  std::ostream& log = progress != nullptr ? *progress : null_stream;
  signal(SIGPIPE, SIG_IGN);  // a worker that dies is reported, not fatal to us
  absl::StatusOr<std::unique_ptr<ScratchDir>> dir =
      ScratchDir::Create(o.dir, "kvstash-service-bench");
  if (!dir.ok()) return dir.status();
  ServiceBenchReport report;

  std::map<uint64_t, CaseFigures> inproc;
  for (uint64_t size : o.block_bytes) {
    absl::StatusOr<CaseFigures> f = service_internal::RunInProcess(size, o.bytes, o.repeats);
    if (!f.ok()) return f.status();
    inproc[size] = *f;
    log << absl::StrFormat("in-process %-6s put %7.3f GB/s  get %7.3f GB/s\n", SizeName(size),
                           f->put.gbs, f->get.gbs);
  }

  std::string socket, redis_address;
  absl::StatusOr<std::unique_ptr<Subprocess>> kvstashd = StartKvstashd(o, (*dir)->path(), &socket);
  if (!kvstashd.ok()) return kvstashd.status();
  std::unique_ptr<Subprocess> redis;
  if (o.redis_server.empty()) {
    report.notes.push_back("Redis baseline skipped (no redis-server given)");
  } else if (absl::StatusOr<std::unique_ptr<Subprocess>> r =
                 StartRedis(o, (*dir)->path(), &redis_address);
             r.ok()) {
    redis = *std::move(r);
  } else {
    report.notes.push_back(absl::StrCat(
        "Redis baseline rows SKIPPED: ", r.status().message(),
        " (deploy/install-deps.sh installs redis-server; or pass --redis-server PATH)"));
    log << report.notes.back() << "\n";
  }

  Servers servers{socket, redis != nullptr ? redis_address : ""};
  absl::StatusOr<Measured> m = RunCases(o, servers, log);
  if (!m.ok()) return m.status();
  if (redis != nullptr) redis->Stop(SIGTERM, 10);
  (*kvstashd)->Stop(SIGTERM, 30);

  for (uint64_t size : o.block_bytes) {
    for (int n : o.processes) {
      const CaseFigures* r = redis != nullptr ? &m->redis[{size, n}] : nullptr;
      AddRows(SizeName(size), n, m->kvstash[{size, n}], r, inproc[size], &report.results);
    }
  }
  AddNotes(o, *m, &report);
  return report;
}

}  // namespace kvstash::bench
