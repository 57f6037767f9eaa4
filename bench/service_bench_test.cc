// Smoke tests of `kvstash bench service` (service_bench.h) with a real
// kvstashd, real worker processes and, where installed, a real redis-server.
// Tiny sizes; results are checked for shape, never for speed.
#include "bench/service_bench.h"

#include <unistd.h>

#include <set>
#include <string>

#include "absl/strings/match.h"
#include "bench/redis_client.h"
#include "bench/service_bench_internal.h"
#include "bench/subprocess.h"
#include "gtest/gtest.h"

namespace kvstash::bench {
namespace {

bool HaveRedis() { return system("command -v redis-server >/dev/null 2>&1") == 0; }

ServiceBenchOptions SmallOptions() {
  ServiceBenchOptions o;
  o.worker_command = {KVSTASH_BIN, "bench", "service", "--worker"};
  o.kvstashd = KVSTASHD_BIN;
  o.block_bytes = {4096, 65536};
  o.processes = {1, 2};
  o.bytes = 512 << 10;
  o.repeats = 1;
  return o;
}

TEST(ServiceBenchTest, RowsAreWellFormedAndPositive) {
  ServiceBenchOptions o = SmallOptions();
  if (!HaveRedis()) o.redis_server = "";
  absl::StatusOr<ServiceBenchReport> r = RunServiceBench(o, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  std::set<std::string> names;
  for (const Result& row : r->results) {
    SCOPED_TRACE(row.name + " vs " + row.baseline_name);
    EXPECT_TRUE(row.unit == "GB/s" || row.unit == "ops/s");
    EXPECT_GT(row.value, 0);
    EXPECT_GT(row.baseline, 0);
    EXPECT_GT(row.ratio(), 0);
    names.insert(row.name + "|" + row.baseline_name + "|" + row.unit);
  }
  for (const char* size : {"4KiB", "64KiB"}) {
    for (const char* procs : {"1proc", "2proc"}) {
      const std::string s = absl::StrCat(size, "_", procs);
      EXPECT_TRUE(names.count(absl::StrCat("service_get_", s, "|inprocess_get_", size, "|GB/s")))
          << s;
      EXPECT_TRUE(
          names.count(absl::StrCat("service_getview_", s, "|inprocess_get_", size, "|GB/s")))
          << s;
      EXPECT_TRUE(names.count(absl::StrCat("service_put_", s, "|inprocess_put_", size, "|GB/s")))
          << s;
      if (HaveRedis()) {
        EXPECT_TRUE(names.count(absl::StrCat("service_get_", s, "|redis_get_", s, "|GB/s"))) << s;
        EXPECT_TRUE(names.count(absl::StrCat("service_get_", s, "|redis_get_", s, "|ops/s"))) << s;
        EXPECT_TRUE(names.count(absl::StrCat("service_put_", s, "|redis_set_", s, "|ops/s"))) << s;
      }
    }
  }
  EXPECT_FALSE(r->notes.empty());
}

TEST(ServiceBenchTest, MissingRedisSkipsItsRowsAndSaysSo) {
  ServiceBenchOptions o = SmallOptions();
  o.block_bytes = {4096};
  o.processes = {1};
  o.redis_server = "/nonexistent/redis-server";
  absl::StatusOr<ServiceBenchReport> r = RunServiceBench(o, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->results.empty());
  for (const Result& row : r->results) EXPECT_FALSE(absl::StrContains(row.baseline_name, "redis"));
  bool said = false;
  for (const std::string& n : r->notes) said |= absl::StrContains(n, "Redis baseline rows SKIPPED");
  EXPECT_TRUE(said);
}

TEST(ServiceBenchTest, MissingDaemonIsAnError) {
  ServiceBenchOptions o = SmallOptions();
  o.kvstashd = "/nonexistent/kvstashd";
  o.redis_server = "";
  absl::StatusOr<ServiceBenchReport> r = RunServiceBench(o, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::StrContains(r.status().message(), "/nonexistent/kvstashd")) << r.status();
}

TEST(ServiceBenchTest, PayloadsAreCloseToTheAskedSize) {
  EXPECT_EQ(service_internal::PayloadBytes(1 << 20), (1 << 20) + 32);
  EXPECT_EQ(service_internal::PayloadBytes(64 << 10), (64 << 10) - 16);
  const std::vector<std::string> p = service_internal::MakePayloads(64 << 10, 2, 1);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].size(), (64u << 10) - 16);
  EXPECT_NE(p[0], p[1]);
}

TEST(RedisClientTest, BinaryValuesRoundTrip) {
  if (!HaveRedis()) GTEST_SKIP() << "redis-server is not installed";
  absl::StatusOr<int> port = service_internal::FreeLoopbackPort();
  ASSERT_TRUE(port.ok());
  SubprocessSpec spec;
  spec.argv = {"redis-server", "--port", absl::StrCat(*port), "--save", "", "--appendonly",
               "no",           "--bind", "127.0.0.1"};
  absl::StatusOr<std::unique_ptr<Subprocess>> server = Subprocess::Start(spec);
  ASSERT_TRUE(server.ok()) << server.status();
  std::unique_ptr<RedisClient> c;
  for (int i = 0; i < 500 && c == nullptr; ++i) {
    absl::StatusOr<std::unique_ptr<RedisClient>> r = RedisClient::Connect("127.0.0.1", *port);
    if (r.ok() && (*r)->Ping().ok()) c = *std::move(r);
    if (c == nullptr) usleep(10000);
  }
  ASSERT_NE(c, nullptr);
  // \r\n inside values and a value far larger than the client's buffer.
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
  const std::string small = "a\r\nb\r\n";
  ASSERT_TRUE(c->Set("big", big).ok());
  ASSERT_TRUE(c->Set("small", small).ok());
  std::string got;
  ASSERT_TRUE(c->Get("big", &got).ok());
  EXPECT_TRUE(got == big);
  ASSERT_TRUE(c->Get("small", &got).ok());
  EXPECT_EQ(got, small);
  EXPECT_TRUE(absl::IsNotFound(c->Get("absent", &got)));
  absl::StatusOr<int64_t> n = c->Del({"big", "small", "absent"});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2);
  EXPECT_TRUE(absl::IsNotFound(c->Get("big", &got)));
}

}  // namespace
}  // namespace kvstash::bench
