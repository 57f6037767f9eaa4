// The baselines of `kvstash bench transport` (transport_bench.h): ucx_perftest
// on the same UCX transport, and Redis GET of the same blocks. Both servers are
// started by the bench on loopback and stopped by it.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/redis_client.h"
#include "bench/service_bench_internal.h"
#include "bench/subprocess.h"
#include "transport/transport_bench_internal.h"
#include "transport/ucx_transport.h"

namespace kvstash::transport::bench_internal {
namespace {

using kvstash::bench::RedisClient;
using kvstash::bench::Subprocess;
using kvstash::bench::SubprocessSpec;

constexpr double kStartTimeoutS = 30;
constexpr double kRunTimeoutS = 300;

// The overall bandwidth of ucx_perftest's final line (-f): "Final:"
// (optional), iterations, 3 latencies, 2 bandwidths in MB/s (2^20 bytes),
// 2 message rates. GB/s.
absl::StatusOr<double> ParsePerftest(const std::string& out) {
  double best = -1;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (!f.empty() && f[0] == "Final:") f.erase(f.begin());
    if (f.size() != 8) continue;
    std::vector<double> v(8);
    bool numeric = true;
    for (size_t i = 0; i < 8; ++i) numeric = numeric && absl::SimpleAtod(f[i], &v[i]);
    if (numeric) best = v[5] * double(1 << 20) / 1e9;
  }
  if (best < 0) return absl::InternalError("ucx_perftest printed no final result line");
  return best;
}

// perftest's argv for one side, under env(1) with our profile's UCX settings.
std::vector<std::string> PerftestArgv(const TransportBenchOptions& o,
                                      const std::vector<std::string>& env, uint64_t block, int port,
                                      bool client) {
  const uint64_t iters = std::max<uint64_t>(16, o.bytes / block);
  std::vector<std::string> argv = {"env"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back(o.ucx_perftest);
  if (client) argv.push_back("127.0.0.1");
  for (const std::string& a :
       {std::string("-p"), absl::StrCat(port), std::string("-t"), std::string("ucp_get"),
        std::string("-s"), absl::StrCat(block), std::string("-n"), absl::StrCat(iters),
        std::string("-w"), absl::StrCat(std::max<uint64_t>(4, iters / 10)), std::string("-O"),
        absl::StrCat(o.window), std::string("-f")}) {
    argv.push_back(a);
  }
  return argv;
}

absl::StatusOr<double> PerftestOnce(const TransportBenchOptions& o,
                                    const std::vector<std::string>& env, uint64_t block) {
  absl::StatusOr<int> port = kvstash::bench::service_internal::FreeLoopbackPort();
  if (!port.ok()) return port.status();
  SubprocessSpec server;
  server.argv = PerftestArgv(o, env, block, *port, /*client=*/false);
  absl::StatusOr<std::unique_ptr<Subprocess>> s = Subprocess::Start(server);
  if (!s.ok()) return s.status();
  // The server listens once its context is up; the client retries until then.
  const double deadline = NowSeconds() + kStartTimeoutS;
  for (;;) {
    SubprocessSpec client;
    client.argv = PerftestArgv(o, env, block, *port, /*client=*/true);
    client.pipe_stdout = true;
    client.stderr_file = "/dev/null";
    absl::StatusOr<std::unique_ptr<Subprocess>> c = Subprocess::Start(client);
    if (!c.ok()) return c.status();
    std::string out;
    for (;;) {
      absl::StatusOr<std::string> line = (*c)->ReadLine(kRunTimeoutS);
      if (!line.ok()) break;
      out += *line + "\n";
    }
    const int status = (*c)->Stop(0, kStartTimeoutS);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      (*s)->Stop(SIGTERM, 5);
      return ParsePerftest(out);
    }
    if (NowSeconds() > deadline) {
      return absl::UnavailableError(absl::StrCat("ucx_perftest client failed: ", out));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

absl::StatusOr<double> RunPerftest(const TransportBenchOptions& o, const std::string& profile,
                                   uint64_t block_bytes) {
  absl::StatusOr<std::vector<std::string>> env = UcxEnvOf(profile);
  if (!env.ok()) return env.status();
  double best = 0;
  for (int r = 0; r < o.repeats; ++r) {
    absl::StatusOr<double> g = PerftestOnce(o, *env, block_bytes);
    if (!g.ok()) return g.status();
    best = std::max(best, *g);
  }
  return best;
}

struct RedisBaseline::State {
  std::unique_ptr<Subprocess> server;
  std::unique_ptr<RedisClient> client;
  std::string dir;
};

absl::StatusOr<std::unique_ptr<RedisBaseline>> RedisBaseline::Start(
    const std::string& redis_server) {
  absl::StatusOr<int> port = kvstash::bench::service_internal::FreeLoopbackPort();
  if (!port.ok()) return port.status();
  std::unique_ptr<RedisBaseline> r(new RedisBaseline());
  r->state_ = std::make_unique<State>();
  std::string dir = (std::filesystem::temp_directory_path() / "kvstash-transport-bench-XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) return absl::InternalError("cannot create a scratch dir");
  r->state_->dir = dir;
  SubprocessSpec spec;
  spec.argv = {redis_server, "--port", absl::StrCat(*port), "--save", "",  "--appendonly",
               "no",         "--bind", "127.0.0.1",         "--dir",  dir, "--protected-mode",
               "no"};
  absl::StatusOr<std::unique_ptr<Subprocess>> s = Subprocess::Start(spec);
  if (!s.ok()) return s.status();
  r->state_->server = std::move(*s);
  const double deadline = NowSeconds() + kStartTimeoutS;
  for (;;) {
    absl::StatusOr<std::unique_ptr<RedisClient>> c = RedisClient::Connect("127.0.0.1", *port);
    if (c.ok() && (*c)->Ping().ok()) {
      r->state_->client = std::move(*c);
      return r;
    }
    if (NowSeconds() > deadline) {
      return absl::UnavailableError(absl::StrCat("redis-server did not answer on port ", *port));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

RedisBaseline::~RedisBaseline() {
  if (state_ == nullptr) return;
  state_->client.reset();
  if (state_->server != nullptr) state_->server->Stop(SIGTERM, 10);
  std::error_code ec;
  if (!state_->dir.empty()) std::filesystem::remove_all(state_->dir, ec);
}

absl::StatusOr<double> RedisBaseline::MeasureGet(const TransportBenchOptions& o,
                                                 uint64_t block_bytes) {
  RedisClient& c = *state_->client;
  const uint64_t count = std::max<uint64_t>(1, o.working_set / block_bytes);
  std::vector<std::string> keys;
  const std::string value(block_bytes, 'k');
  for (uint64_t i = 0; i < count; ++i) {
    keys.push_back(absl::StrCat("kvstash-transport-bench:", block_bytes, ":", i));
    const absl::string_view v = value;
    if (absl::Status s =
            c.SetMany(absl::MakeConstSpan(&keys.back(), 1), absl::MakeConstSpan(&v, 1));
        !s.ok()) {
      return s;
    }
  }
  const uint64_t gets = std::max<uint64_t>(1, o.bytes / block_bytes);
  const size_t batch = static_cast<size_t>(o.window);
  std::vector<std::string> values;
  std::vector<std::string> batch_keys;
  double best = 0;
  for (int r = -1; r < o.repeats; ++r) {  // round -1 warms up
    const double t0 = NowSeconds();
    for (uint64_t done = 0; done < gets;) {
      batch_keys.clear();
      for (size_t i = 0; i < batch && done < gets; ++i, ++done) {
        batch_keys.push_back(keys[done % count]);
      }
      if (absl::Status s = c.GetMany(batch_keys, &values); !s.ok()) return s;
    }
    const double t = NowSeconds() - t0;
    if (r >= 0) best = std::max(best, double(gets * block_bytes) / t / 1e9);
  }
  if (absl::StatusOr<int64_t> n = c.Del(keys); !n.ok()) return n.status();
  return best;
}

}  // namespace kvstash::transport::bench_internal
