// Typed options of the node daemon kvstashd (STYLE.md 5), parsed once at the
// edge from flags and an optional config file.
//
// One table in options.cc lists every option with its flag name, config key,
// default, parser and printer; parsing, defaults, --help and
// FormatDaemonOptions() all read that table, so they cannot disagree. With no
// flags at all the result is a working single-node setup: state under
// $XDG_STATE_HOME/kvstash (or /tmp/kvstash-$UID), a Unix socket in it, RPC on
// 127.0.0.1:7411, admin HTTP on 127.0.0.1:7412, 4 GiB host tier, 64 GiB disk
// tier, the "tiny" profile and NVFP4 storage.
//
// Precedence: built-in defaults < `--config FILE` < flags. Flags are
// `--name value` or `--name=value`; the config key of `--host-gib` is
// `host_gib` (config.h has the file syntax). Errors name the flag
// ("--host-gib: '-1' is not a non-negative number") or the file, line and key.
//
// Thread safety: pure functions; DaemonOptions is a plain value.
#ifndef KVSTASH_SERVICE_OPTIONS_H_
#define KVSTASH_SERVICE_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kernels/codec.h"

namespace kvstash::service {

// How the disk tier makes a put durable: through RocksDB's write-ahead log
// (synced in groups) or with an fsync per write.
enum class SyncPolicy : uint8_t { kWal = 0, kFsync = 1 };
absl::string_view SyncPolicyName(SyncPolicy p);

// Every field is set by ParseDaemonOptions(); the defaults live in the option
// table, not here, so use ParseDaemonOptions({}) for a default set.
struct DaemonOptions {
  std::string data_dir;        // --data-dir: disk tier, socket, state
  std::string socket_path;     // --socket: Unix socket for local engines
  std::string listen_address;  // --listen: host:port for peers and routers
  std::string http_address;    // --http: host:port of /metrics, /healthz, ...
  // Tier capacities in bytes (flags take GiB, fractions allowed). 0 disables a tier.
  uint64_t host_bytes = 0;
  uint64_t disk_bytes = 0;
  uint64_t device_bytes = 0;
  std::string profile;  // --profile: model profile name or path (profile.h)
  kernels::Format storage_format = kernels::Format::kNvfp4;
  SyncPolicy sync = SyncPolicy::kWal;
  uint32_t disk_admit_after_hits = 1;  // --disk-admit-after-hits (TierManagerOptions)
  uint64_t max_message_bytes = 0;      // largest RPC message accepted
  uint32_t max_batch_blocks = 0;       // most blocks in one batched request
  uint32_t max_connections = 0;        // most concurrent RPC connections
  // Router (service/router): engines whose KV events to ingest, each
  // "WORKER=ENDPOINT" or "WORKER=ENDPOINT;replay=ENDPOINT" (ZMQ, INTEROP.md).
  std::vector<std::string> engine_events;
  // Other kvstash nodes whose KV events to ingest over Cap'n Proto, each
  // "NODE=HOST:PORT" (the peer's --node-id and --listen).
  std::vector<std::string> node_events;
  std::string node_id;  // --node-id: this node's name in events and placement
  // Cluster mode (issue 6): etcd endpoints ("" = single node), cluster name,
  // replication factor of shared blocks, remote call timeout, lease TTL.
  std::string etcd;
  std::string cluster;
  uint32_t replicas = 1;
  double remote_timeout_s = 2;
  double lease_ttl_s = 5;
  // Cluster mode: the UCX profile of the block data path (--ucx-tls; one of
  // kUcxTlsChoices, the names UcxTransportOptions::Profile() knows, or "none"
  // for Cap'n Proto only).
  std::string ucx_tls;
  double router_silent_s = 0;           // drop a worker's entries after this long without events
  uint64_t router_max_blocks = 0;       // most blocks the prefix index holds
  double router_approximate_ttl_s = 0;  // >0: remember own placements this long
  std::string config_file;              // the --config file; "" when none
  bool help = false;                    // --help was given: print DaemonOptionsHelp() and exit
};

// The parts of the process environment that defaults depend on, injectable
// for tests (STYLE.md 13).
struct OptionsEnvironment {
  std::string xdg_state_home;  // "" when unset; ignored unless absolute (XDG spec)
  uint32_t uid = 0;

  static OptionsEnvironment FromProcess();
};

// `args` excludes the program name.
absl::StatusOr<DaemonOptions> ParseDaemonOptions(const std::vector<std::string>& args);
absl::StatusOr<DaemonOptions> ParseDaemonOptions(const std::vector<std::string>& args,
                                                 const OptionsEnvironment& env);

// Usage text: one entry per option with its value name, help and default.
std::string DaemonOptionsHelp(const OptionsEnvironment& env = OptionsEnvironment::FromProcess());

// The options in config-file syntax, one `key = value` per option (except
// config itself), in table order. Parsing the text as a config file gives the
// same options back.
std::string FormatDaemonOptions(const DaemonOptions& options);

// The values --ucx-tls accepts: UcxTransportOptions::Profile()'s names, then
// "none" (no UCX: block bytes travel inline in Cap'n Proto messages).
inline constexpr const char* kUcxTlsChoices[] = {"tcp", "shm", "none"};

// Limits enforced by validation.
inline constexpr double kMaxTierGib = 1 << 20;  // 1 PiB
inline constexpr uint64_t kMinMessageBytes = 1 << 10;
inline constexpr uint64_t kMaxMessageBytes = uint64_t{1} << 31;
inline constexpr uint64_t kMaxBatchBlocks = 1 << 20;
inline constexpr uint64_t kMaxConnections = 1 << 16;
inline constexpr size_t kMaxUnixSocketPath = 107;  // sizeof(sockaddr_un::sun_path) - 1

}  // namespace kvstash::service

#endif  // KVSTASH_SERVICE_OPTIONS_H_
