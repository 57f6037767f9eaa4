#include "service/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "service/config.h"

namespace kvstash::service {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kGiB = uint64_t{1} << 30;

OptionsEnvironment TestEnv() {
  OptionsEnvironment env;
  env.uid = 1234;
  return env;
}

absl::StatusOr<DaemonOptions> Parse(const std::vector<std::string>& args) {
  return ParseDaemonOptions(args, TestEnv());
}

std::string ErrorOf(const std::vector<std::string>& args) {
  absl::StatusOr<DaemonOptions> o = Parse(args);
  EXPECT_FALSE(o.ok());
  return o.ok() ? "" : std::string(o.status().message());
}

TEST(DaemonOptions, DefaultsWorkWithNoFlags) {
  absl::StatusOr<DaemonOptions> o = Parse({});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->data_dir, "/tmp/kvstash-1234");
  EXPECT_EQ(o->socket_path, "/tmp/kvstash-1234/kvstashd.sock");
  EXPECT_EQ(o->listen_address, "127.0.0.1:7411");
  EXPECT_EQ(o->http_address, "127.0.0.1:7412");
  EXPECT_EQ(o->host_bytes, 4 * kGiB);
  EXPECT_EQ(o->disk_bytes, 64 * kGiB);
  EXPECT_EQ(o->device_bytes, 0u);
  EXPECT_EQ(o->profile, "tiny");
  EXPECT_EQ(o->storage_format, kernels::Format::kNvfp4);
  EXPECT_EQ(o->sync, SyncPolicy::kWal);
  EXPECT_EQ(o->disk_admit_after_hits, 1u);
  EXPECT_EQ(o->max_message_bytes, 64u << 20);
  EXPECT_EQ(o->max_batch_blocks, 4096u);
  EXPECT_EQ(o->max_connections, 256u);
  EXPECT_EQ(o->config_file, "");
  EXPECT_FALSE(o->help);
}

TEST(DaemonOptions, DataDirFollowsXdgStateHomeWhenAbsolute) {
  OptionsEnvironment env = TestEnv();
  env.xdg_state_home = "/home/u/.local/state";
  absl::StatusOr<DaemonOptions> o = ParseDaemonOptions({}, env);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->data_dir, "/home/u/.local/state/kvstash");
  EXPECT_EQ(o->socket_path, "/home/u/.local/state/kvstash/kvstashd.sock");
  env.xdg_state_home = "relative/state";  // the XDG spec says: ignore
  EXPECT_EQ(ParseDaemonOptions({}, env)->data_dir, "/tmp/kvstash-1234");
}

TEST(DaemonOptions, BothFlagFormsForEveryOption) {
  absl::StatusOr<DaemonOptions> o =
      Parse({"--data-dir", "/srv/kv", "--listen=0.0.0.0:9000", "--http", "[::1]:0",
             "--host-gib=0.25", "--disk-gib", "0", "--device-gib=80", "--profile", "llama-3.1-8b",
             "--storage-format=fp8", "--sync", "fsync", "--max-message-bytes=1MiB",
             "--max-batch-blocks", "16", "--max-connections=2"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->data_dir, "/srv/kv");
  EXPECT_EQ(o->socket_path, "/srv/kv/kvstashd.sock");  // derived from the new data dir
  EXPECT_EQ(o->listen_address, "0.0.0.0:9000");
  EXPECT_EQ(o->http_address, "[::1]:0");
  EXPECT_EQ(o->host_bytes, kGiB / 4);
  EXPECT_EQ(o->disk_bytes, 0u);
  EXPECT_EQ(o->device_bytes, 80 * kGiB);
  EXPECT_EQ(o->profile, "llama-3.1-8b");
  EXPECT_EQ(o->storage_format, kernels::Format::kFp8E4M3);
  EXPECT_EQ(o->sync, SyncPolicy::kFsync);
  EXPECT_EQ(o->max_message_bytes, 1u << 20);
  EXPECT_EQ(o->max_batch_blocks, 16u);
  EXPECT_EQ(o->max_connections, 2u);

  o = Parse({"--socket=/run/kv.sock", "--max-message-bytes", "65536"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->socket_path, "/run/kv.sock");
  EXPECT_EQ(o->max_message_bytes, 65536u);
}

TEST(DaemonOptions, ErrorsNameTheFlag) {
  EXPECT_EQ(ErrorOf({"--host-gib", "-1"}), "--host-gib: '-1' is not a non-negative number");
  EXPECT_EQ(ErrorOf({"--disk-gib=lots"}), "--disk-gib: 'lots' is not a non-negative number");
  EXPECT_THAT(ErrorOf({"--device-gib=2e6"}), HasSubstr("--device-gib: '2e6' GiB is more than"));
  EXPECT_THAT(ErrorOf({"--storage-format", "nvfp5"}),
              HasSubstr("--storage-format: unknown format 'nvfp5'"));
  EXPECT_EQ(ErrorOf({"--sync=sometimes"}),
            "--sync: unknown policy 'sometimes' (expected wal or fsync)");
  EXPECT_THAT(ErrorOf({"--disk-admit-after-hits", "-1"}), HasSubstr("--disk-admit-after-hits:"));
  EXPECT_THAT(ErrorOf({"--disk-admit-after-hits=2000000"}), HasSubstr("--disk-admit-after-hits:"));
  absl::StatusOr<DaemonOptions> zero = ParseDaemonOptions({"--disk-admit-after-hits", "0"});
  ASSERT_TRUE(zero.ok()) << zero.status();
  EXPECT_EQ(zero->disk_admit_after_hits, 0u);
  EXPECT_EQ(ErrorOf({"--listen", "7411"}), "--listen: '7411' is not host:port");
  EXPECT_EQ(ErrorOf({"--listen", "::1:7411"}), "--listen: '::1:7411' is not host:port");
  EXPECT_THAT(ErrorOf({"--http=localhost:99999"}), HasSubstr("--http: 'localhost:99999' has an"));
  EXPECT_THAT(ErrorOf({"--max-batch-blocks=0"}), HasSubstr("--max-batch-blocks: '0' is outside"));
  EXPECT_THAT(ErrorOf({"--max-connections=70000"}), HasSubstr("--max-connections: '70000'"));
  EXPECT_THAT(ErrorOf({"--max-message-bytes=12"}), HasSubstr("--max-message-bytes: '12'"));
  EXPECT_THAT(ErrorOf({"--max-message-bytes=64MB"}),
              HasSubstr("'64MB' is not a byte count (e.g. 67108864 or 64MiB)"));
  EXPECT_EQ(ErrorOf({"--profile="}), "--profile: must not be empty");
  EXPECT_EQ(ErrorOf({"--host-gib"}), "--host-gib: missing value");
  EXPECT_EQ(ErrorOf({"--host-gib=1", "--host-gib=2"}), "--host-gib: given more than once");
  EXPECT_EQ(ErrorOf({"--hots-gib=1"}), "unknown flag --hots-gib (see --help)");
  EXPECT_EQ(ErrorOf({"serve"}), "unexpected argument 'serve'");
  EXPECT_EQ(ErrorOf({"--"}), "unexpected argument '--'");
  EXPECT_THAT(ErrorOf({"--data-dir", "/" + std::string(200, 'd')}), HasSubstr("--socket: '/ddd"));
}

TEST(DaemonOptions, ClusterAndRouterFlags) {
  absl::StatusOr<DaemonOptions> o = Parse({"--etcd", "http://10.0.0.1:2379,http://10.0.0.2:2379",
                                           "--replicas=2", "--engine-events", "w1=tcp://h:5557",
                                           "--engine-events=w1=tcp://h:5558;replay=tcp://h:5560",
                                           "--node-events", "b=10.0.0.6:7411"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->etcd, "http://10.0.0.1:2379,http://10.0.0.2:2379");
  EXPECT_EQ(o->replicas, 2u);
  EXPECT_EQ(o->engine_events,
            (std::vector<std::string>{"w1=tcp://h:5557", "w1=tcp://h:5558;replay=tcp://h:5560"}));
  EXPECT_EQ(o->node_events, std::vector<std::string>{"b=10.0.0.6:7411"});
  EXPECT_EQ(o->ucx_tls, "tcp");  // the default
  EXPECT_EQ(Parse({"--ucx-tls", "none"})->ucx_tls, "none");
  EXPECT_EQ(Parse({"--ucx-tls=shm"})->ucx_tls, "shm");
  EXPECT_EQ(ErrorOf({"--ucx-tls", "rc"}),
            "--ucx-tls: unknown UCX profile 'rc' (expected tcp, shm, none)");
  EXPECT_THAT(ErrorOf({"--etcd", "https://h:2379"}), HasSubstr("--etcd: 'https://h:2379' is not"));
  EXPECT_THAT(ErrorOf({"--replicas=0"}), HasSubstr("--replicas: '0' is outside"));
  EXPECT_THAT(ErrorOf({"--engine-events", "w1"}), HasSubstr("is not WORKER=ENDPOINT"));
  EXPECT_THAT(ErrorOf({"--engine-events", "w1=http://h:1"}), HasSubstr("must start with tcp://"));
  EXPECT_THAT(ErrorOf({"--node-events", "b=nowhere"}), HasSubstr("is not NODE=HOST:PORT"));
  EXPECT_THAT(ErrorOf({"--lease-ttl-s=0"}), HasSubstr("--lease-ttl-s: '0' is outside"));
}

TEST(DaemonOptions, HelpIsGeneratedFromTheTable) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--host-gib=-5", "--help"}, {"--help", "--bogus"}, {"-h"}}) {
    absl::StatusOr<DaemonOptions> o = Parse(args);  // --help wins over any other problem
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_TRUE(o->help);
  }

  const std::string help = DaemonOptionsHelp(TestEnv());
  for (const char* want : {"--config FILE",
                           "--data-dir DIR",
                           "(default: /tmp/kvstash-1234)",
                           "--socket PATH",
                           "--listen HOST:PORT",
                           "(default: 127.0.0.1:7411)",
                           "(default: 127.0.0.1:7412)",
                           "--host-gib GIB",
                           "(default: 4)",
                           "(default: 64)",
                           "--device-gib GIB",
                           "(default: 0)",
                           "--profile NAME|PATH",
                           "(default: tiny)",
                           "--storage-format FORMAT",
                           "(default: nvfp4)",
                           "--sync POLICY",
                           "(default: wal)",
                           "--max-message-bytes BYTES",
                           "(default: 64MiB)",
                           "--max-batch-blocks N",
                           "(default: 4096)",
                           "--max-connections N",
                           "(default: 256)",
                           "--help"}) {
    EXPECT_THAT(help, HasSubstr(want));
  }
}

class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text) {
    char name[] = "/tmp/kvstash_options_test_XXXXXX";
    const int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    close(fd);
    path_ = name;
    std::ofstream(path_) << text;
  }
  ~ConfigFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(DaemonOptions, ConfigFileThenFlagsOverride) {
  ConfigFile f(
      "# node config\n"
      "host_gib = 8\n"
      "disk_gib = 0.5\n"
      "profile = \"llama-3.3-70b\"\n"
      "storage_format = mxfp4\n");
  absl::StatusOr<DaemonOptions> o = Parse({"--host-gib", "2", "--config", f.path()});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->config_file, f.path());
  EXPECT_EQ(o->host_bytes, 2 * kGiB);  // the flag wins, wherever it appears
  EXPECT_EQ(o->disk_bytes, kGiB / 2);
  EXPECT_EQ(o->profile, "llama-3.3-70b");
  EXPECT_EQ(o->storage_format, kernels::Format::kMxfp4);
  EXPECT_EQ(o->max_connections, 256u);  // untouched: the default
}

TEST(DaemonOptions, ConfigFileErrorsNameFileLineAndKey) {
  ConfigFile bad_value("\nhost_gib = -1\n");
  EXPECT_EQ(ErrorOf({"--config", bad_value.path()}),
            bad_value.path() + ":2: host_gib: '-1' is not a non-negative number");
  ConfigFile unknown("hots_gib = 1\n");
  EXPECT_EQ(ErrorOf({"--config", unknown.path()}),
            unknown.path() + ":1: unknown option 'hots_gib'");
  ConfigFile nested("config = /etc/other.conf\n");
  EXPECT_THAT(ErrorOf({"--config", nested.path()}),
              HasSubstr(":1: unknown option 'config' (a config file cannot name another"));
  ConfigFile dup("sync = wal\nsync = fsync\n");
  EXPECT_THAT(ErrorOf({"--config", dup.path()}), HasSubstr(":2: duplicate key 'sync'"));
  absl::StatusOr<DaemonOptions> missing = Parse({"--config=/nonexistent/kvstashd.conf"});
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
}

TEST(DaemonOptions, FormatRoundTripsThroughAConfigFile) {
  absl::StatusOr<DaemonOptions> o =
      Parse({"--data-dir", "/srv/a dir/#1", "--host-gib=0.1", "--storage-format=bf16",
             "--sync=fsync", "--max-message-bytes=4KiB", "--socket=/run/s\"q.sock"});
  ASSERT_TRUE(o.ok()) << o.status();
  const std::string text = FormatDaemonOptions(*o);
  EXPECT_THAT(text, HasSubstr("data_dir = \"/srv/a dir/#1\"\n"));
  EXPECT_THAT(text, HasSubstr("storage_format = \"bf16\"\n"));
  EXPECT_THAT(text, HasSubstr("max_message_bytes = \"4096\"\n"));
  ConfigFile f(text);
  absl::StatusOr<DaemonOptions> back = Parse({"--config", f.path()});
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << text;
  back->config_file.clear();
  EXPECT_EQ(FormatDaemonOptions(*back), text);
  EXPECT_EQ(back->host_bytes, o->host_bytes);
  EXPECT_EQ(back->socket_path, "/run/s\"q.sock");
}

}  // namespace
}  // namespace kvstash::service
