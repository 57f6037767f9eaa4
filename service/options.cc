#include "service/options.h"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/check.h"
#include "service/config.h"

namespace kvstash::service {
namespace {

constexpr double kGib = 1024.0 * 1024.0 * 1024.0;

// One row per option. `set` parses text into the options and returns an error
// without context; the caller names the flag or the file and line. `get`
// prints the value so that `set` reads it back unchanged.
struct OptionSpec {
  absl::string_view flag;  // without "--"; the config key is the same with '_' for '-'
  absl::string_view value_name;
  absl::string_view help;
  std::string (*default_text)(const OptionsEnvironment& env);  // "" = derived after parsing
  absl::Status (*set)(absl::string_view text, DaemonOptions& o);
  std::string (*get)(const DaemonOptions& o);
  // A list: each use appends (comma-separated in a file); `clear` empties it
  // so that flags replace what a config file gave.
  void (*clear)(DaemonOptions& o) = nullptr;
};

std::string ConfigKey(absl::string_view flag) { return absl::StrReplaceAll(flag, {{"-", "_"}}); }

// ----------------------------------------------------------- value parsers --

absl::Status SetPath(absl::string_view text, std::string& out) {
  if (text.empty()) return absl::InvalidArgumentError("must not be empty");
  if (text.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("must not contain a NUL byte");
  }
  out = std::string(text);
  return absl::OkStatus();
}

// host:port or [v6-host]:port; port 0 asks the kernel for a free one.
absl::Status SetAddress(absl::string_view text, std::string& out) {
  const size_t colon = text.rfind(':');
  const absl::string_view host = colon == absl::string_view::npos ? "" : text.substr(0, colon);
  bool ok = !host.empty();
  if (ok && host.front() == '[') ok = host.size() > 2 && host.back() == ']';
  if (ok && host.front() != '[') ok = host.find(':') == absl::string_view::npos;
  if (!ok) return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not host:port"));
  absl::StatusOr<uint64_t> port = ParseUint(text.substr(colon + 1), 65535);
  if (!port.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' has an invalid port (expected 0..65535)"));
  }
  out = std::string(text);
  return absl::OkStatus();
}

absl::Status SetGib(absl::string_view text, uint64_t& out) {
  absl::StatusOr<double> gib = ParseNonNegative(text);
  if (!gib.ok()) return gib.status();
  if (*gib > kMaxTierGib) {
    return absl::OutOfRangeError(
        absl::StrCat("'", text, "' GiB is more than the limit of ", kMaxTierGib, " GiB"));
  }
  out = static_cast<uint64_t>(std::llround(*gib * kGib));
  return absl::OkStatus();
}

// "WORKER=ENDPOINT[;replay=ENDPOINT]", comma-separated; appends each.
absl::Status AddEngineEvents(absl::string_view text, std::vector<std::string>& out) {
  for (absl::string_view one : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    one = absl::StripAsciiWhitespace(one);
    const size_t eq = one.find('=');
    if (eq == 0 || eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", one, "' is not WORKER=ENDPOINT (e.g. w1=tcp://10.0.0.5:5557)"));
    }
    const absl::string_view endpoint = one.substr(eq + 1);
    if (!absl::StartsWith(endpoint, "tcp://") && !absl::StartsWith(endpoint, "ipc://") &&
        !absl::StartsWith(endpoint, "inproc://")) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", one, "': the endpoint must start with tcp://, ipc:// or inproc://"));
    }
    out.emplace_back(one);
  }
  return absl::OkStatus();
}

// "NODE=HOST:PORT", comma-separated; appends each.
absl::Status AddNodeEvents(absl::string_view text, std::vector<std::string>& out) {
  for (absl::string_view one : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    one = absl::StripAsciiWhitespace(one);
    const size_t eq = one.find('=');
    std::string address;
    if (eq == 0 || eq == absl::string_view::npos || !SetAddress(one.substr(eq + 1), address).ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", one, "' is not NODE=HOST:PORT (e.g. node-b=10.0.0.6:7411)"));
    }
    out.emplace_back(one);
  }
  return absl::OkStatus();
}

absl::Status SetSeconds(absl::string_view text, double& out) {
  absl::StatusOr<double> v = ParseNonNegative(text);
  if (!v.ok()) return v.status();
  out = *v;
  return absl::OkStatus();
}

absl::Status SetPositiveSeconds(absl::string_view text, double& out) {
  absl::StatusOr<double> v = ParseNonNegative(text);
  if (!v.ok()) return v.status();
  if (*v <= 0 || *v > 86400) {
    return absl::OutOfRangeError(absl::StrCat("'", text, "' is outside (0, 86400] seconds"));
  }
  out = *v;
  return absl::OkStatus();
}

// "http://host:port[,http://host:port...]".
absl::Status SetEtcd(absl::string_view text, std::string& out) {
  out.clear();
  if (text.empty()) return absl::OkStatus();  // single node
  for (absl::string_view url : absl::StrSplit(text, ',')) {
    std::string ignored;
    if (!absl::StartsWith(url, "http://") ||
        !SetAddress(
             url.substr(7, url.find('/', 7) == absl::string_view::npos ? absl::string_view::npos
                                                                       : url.find('/', 7) - 7),
             ignored)
             .ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", url, "' is not an etcd endpoint like http://127.0.0.1:2379 (https: not yet)"));
    }
  }
  out = std::string(text);
  return absl::OkStatus();
}

absl::Status SetUcxTls(absl::string_view text, std::string& out) {
  for (const char* choice : kUcxTlsChoices) {
    if (text == choice) {
      out = std::string(text);
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown UCX profile '", text, "' (expected ",
                                                 absl::StrJoin(kUcxTlsChoices, ", "), ")"));
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "kvstash-node";
  return buf;
}

std::string FormatDouble(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  KVSTASH_CHECK(ec == std::errc());
  return std::string(buf, end);
}

std::string GetGib(uint64_t bytes) { return FormatDouble(static_cast<double>(bytes) / kGib); }

// A byte count with an optional binary suffix: 65536, 64KiB, 64MiB, 1GiB.
absl::StatusOr<uint64_t> ParseBytes(absl::string_view text) {
  static constexpr std::pair<absl::string_view, uint64_t> kSuffixes[] = {
      {"KiB", uint64_t{1} << 10}, {"MiB", uint64_t{1} << 20}, {"GiB", uint64_t{1} << 30}};
  uint64_t unit = 1;
  absl::string_view digits = text;
  for (const auto& [suffix, scale] : kSuffixes) {
    if (absl::EndsWith(text, suffix)) {
      digits = text.substr(0, text.size() - suffix.size());
      unit = scale;
    }
  }
  absl::StatusOr<uint64_t> n = ParseUint(digits, UINT64_MAX / unit);
  if (!n.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a byte count (e.g. 67108864 or 64MiB)"));
  }
  return *n * unit;
}

absl::Status SetInRange(absl::StatusOr<uint64_t> v, absl::string_view text, uint64_t lo,
                        uint64_t hi, uint64_t& out) {
  if (!v.ok()) return v.status();
  if (*v < lo || *v > hi) {
    return absl::OutOfRangeError(absl::StrCat("'", text, "' is outside ", lo, "..", hi));
  }
  out = *v;
  return absl::OkStatus();
}

absl::Status SetU32InRange(absl::string_view text, uint64_t hi, uint32_t& out) {
  uint64_t v = 0;
  absl::Status s = SetInRange(ParseUint(text), text, 1, hi, v);
  if (s.ok()) out = static_cast<uint32_t>(v);
  return s;
}

// --------------------------------------------------------------- the table --

std::string DefaultDataDir(const OptionsEnvironment& env) {
  if (!env.xdg_state_home.empty() && env.xdg_state_home.front() == '/') {
    return absl::StrCat(env.xdg_state_home, "/kvstash");
  }
  return absl::StrCat("/tmp/kvstash-", env.uid);
}

constexpr OptionSpec kOptions[] = {
    {"config", "FILE", "read options from FILE (key = value lines); flags override it",
     [](const OptionsEnvironment&) { return std::string(); },
     [](absl::string_view t, DaemonOptions& o) { return SetPath(t, o.config_file); },
     [](const DaemonOptions& o) { return o.config_file; }},
    {"data-dir", "DIR", "state directory ($XDG_STATE_HOME/kvstash, else /tmp/kvstash-$UID)",
     DefaultDataDir, [](absl::string_view t, DaemonOptions& o) { return SetPath(t, o.data_dir); },
     [](const DaemonOptions& o) { return o.data_dir; }},
    {"socket", "PATH", "Unix socket for local engines (default: <data-dir>/kvstashd.sock)",
     [](const OptionsEnvironment&) { return std::string(); },
     [](absl::string_view t, DaemonOptions& o) { return SetPath(t, o.socket_path); },
     [](const DaemonOptions& o) { return o.socket_path; }},
    {"listen", "HOST:PORT", "TCP address for peers and routers (Cap'n Proto RPC)",
     [](const OptionsEnvironment&) { return std::string("127.0.0.1:7411"); },
     [](absl::string_view t, DaemonOptions& o) { return SetAddress(t, o.listen_address); },
     [](const DaemonOptions& o) { return o.listen_address; }},
    {"http", "HOST:PORT", "admin HTTP address: /metrics, /healthz, /readyz, /v1/stats",
     [](const OptionsEnvironment&) { return std::string("127.0.0.1:7412"); },
     [](absl::string_view t, DaemonOptions& o) { return SetAddress(t, o.http_address); },
     [](const DaemonOptions& o) { return o.http_address; }},
    {"host-gib", "GIB", "host-memory tier size in GiB (fractions allowed; 0 disables)",
     [](const OptionsEnvironment&) { return std::string("4"); },
     [](absl::string_view t, DaemonOptions& o) { return SetGib(t, o.host_bytes); },
     [](const DaemonOptions& o) { return GetGib(o.host_bytes); }},
    {"disk-gib", "GIB", "disk tier size in GiB under --data-dir (0 disables)",
     [](const OptionsEnvironment&) { return std::string("64"); },
     [](absl::string_view t, DaemonOptions& o) { return SetGib(t, o.disk_bytes); },
     [](const DaemonOptions& o) { return GetGib(o.disk_bytes); }},
    {"device-gib", "GIB", "GPU memory tier size in GiB (0 disables)",
     [](const OptionsEnvironment&) { return std::string("0"); },
     [](absl::string_view t, DaemonOptions& o) { return SetGib(t, o.device_bytes); },
     [](const DaemonOptions& o) { return GetGib(o.device_bytes); }},
    {"profile", "NAME|PATH", "model profile: a name from the profile path or a .conf file",
     [](const OptionsEnvironment&) { return std::string("tiny"); },
     [](absl::string_view t, DaemonOptions& o) { return SetPath(t, o.profile); },
     [](const DaemonOptions& o) { return o.profile; }},
    {"storage-format", "FORMAT", "default storage format: nvfp4, mxfp4, fp8_e4m3, bf16, fp16",
     [](const OptionsEnvironment&) { return std::string("nvfp4"); },
     [](absl::string_view t, DaemonOptions& o) -> absl::Status {
       absl::StatusOr<kernels::Format> f = kernels::ParseFormat(t);
       if (f.ok()) o.storage_format = *f;
       return f.status();
     },
     [](const DaemonOptions& o) { return std::string(kernels::FormatName(o.storage_format)); }},
    {"sync", "POLICY",
     "disk durability: wal (log written per put, not fsynced: survives a process crash) or fsync "
     "(log fsynced per put: survives power loss)",
     [](const OptionsEnvironment&) { return std::string("wal"); },
     [](absl::string_view t, DaemonOptions& o) -> absl::Status {
       if (t == "wal" || t == "fsync") {
         o.sync = t == "wal" ? SyncPolicy::kWal : SyncPolicy::kFsync;
         return absl::OkStatus();
       }
       return absl::InvalidArgumentError(
           absl::StrCat("unknown policy '", t, "' (expected wal or fsync)"));
     },
     [](const DaemonOptions& o) { return std::string(SyncPolicyName(o.sync)); }},
    {"disk-admit-after-hits", "N",
     "hits a block needs before an eviction may spill it to the disk tier (0: every evicted "
     "block; 1 keeps blocks nobody reused off the disk)",
     [](const OptionsEnvironment&) { return std::string("1"); },
     [](absl::string_view t, DaemonOptions& o) {
       uint64_t v = 0;
       absl::Status s = SetInRange(ParseUint(t), t, 0, 1'000'000, v);
       if (s.ok()) o.disk_admit_after_hits = static_cast<uint32_t>(v);
       return s;
     },
     [](const DaemonOptions& o) { return absl::StrCat(o.disk_admit_after_hits); }},
    {"max-message-bytes", "BYTES", "largest RPC message accepted (e.g. 67108864 or 64MiB)",
     [](const OptionsEnvironment&) { return std::string("64MiB"); },
     [](absl::string_view t, DaemonOptions& o) {
       return SetInRange(ParseBytes(t), t, kMinMessageBytes, kMaxMessageBytes, o.max_message_bytes);
     },
     [](const DaemonOptions& o) { return absl::StrCat(o.max_message_bytes); }},
    {"max-batch-blocks", "N", "most blocks in one batched request",
     [](const OptionsEnvironment&) { return std::string("4096"); },
     [](absl::string_view t, DaemonOptions& o) {
       return SetU32InRange(t, kMaxBatchBlocks, o.max_batch_blocks);
     },
     [](const DaemonOptions& o) { return absl::StrCat(o.max_batch_blocks); }},
    {"engine-events", "WORKER=ENDPOINT",
     "subscribe to an engine's KV events (vLLM ZMQ PUB; add ;replay=ENDPOINT for its replay "
     "socket); repeatable, comma-separated in a config file",
     [](const OptionsEnvironment&) { return std::string(); },
     [](absl::string_view t, DaemonOptions& o) { return AddEngineEvents(t, o.engine_events); },
     [](const DaemonOptions& o) { return absl::StrJoin(o.engine_events, ","); },
     [](DaemonOptions& o) { o.engine_events.clear(); }},
    {"node-events", "NODE=HOST:PORT",
     "subscribe to another kvstash node's KV events (its --node-id and --listen address); "
     "repeatable, comma-separated in a config file",
     [](const OptionsEnvironment&) { return std::string(); },
     [](absl::string_view t, DaemonOptions& o) { return AddNodeEvents(t, o.node_events); },
     [](const DaemonOptions& o) { return absl::StrJoin(o.node_events, ","); },
     [](DaemonOptions& o) { o.node_events.clear(); }},
    {"node-id", "NAME", "this node's name in KV events and placement answers (default: hostname)",
     [](const OptionsEnvironment&) { return HostName(); },
     [](absl::string_view t, DaemonOptions& o) { return SetPath(t, o.node_id); },
     [](const DaemonOptions& o) { return o.node_id; }},
    {"etcd", "URL[,URL...]",
     "cluster mode: etcd v3 endpoints (http://host:2379,...); without it the node runs alone",
     [](const OptionsEnvironment&) { return std::string(); },
     [](absl::string_view t, DaemonOptions& o) { return SetEtcd(t, o.etcd); },
     [](const DaemonOptions& o) { return o.etcd; }},
    {"cluster", "NAME", "cluster name: nodes of one cluster share blocks (etcd key prefix)",
     [](const OptionsEnvironment&) { return std::string("default"); },
     [](absl::string_view t, DaemonOptions& o) { return SetPath(t, o.cluster); },
     [](const DaemonOptions& o) { return o.cluster; }},
    {"replicas", "R", "cluster mode: owners of each shared block (rendezvous hashing)",
     [](const OptionsEnvironment&) { return std::string("1"); },
     [](absl::string_view t, DaemonOptions& o) { return SetU32InRange(t, 16, o.replicas); },
     [](const DaemonOptions& o) { return absl::StrCat(o.replicas); }},
    {"remote-timeout-s", "SECONDS",
     "cluster mode: the longest a request waits for another node before counting a miss",
     [](const OptionsEnvironment&) { return std::string("2"); },
     [](absl::string_view t, DaemonOptions& o) {
       return SetPositiveSeconds(t, o.remote_timeout_s);
     },
     [](const DaemonOptions& o) { return FormatDouble(o.remote_timeout_s); }},
    {"lease-ttl-s", "SECONDS",
     "cluster mode: etcd lease TTL; a dead node's blocks become misses within about this long",
     [](const OptionsEnvironment&) { return std::string("5"); },
     [](absl::string_view t, DaemonOptions& o) { return SetPositiveSeconds(t, o.lease_ttl_s); },
     [](const DaemonOptions& o) { return FormatDouble(o.lease_ttl_s); }},
    {"ucx-tls", "PROFILE",
     "cluster mode: how blocks move between nodes: UCX RMA from the owner's host arena over "
     "tcp (between hosts) or shm (one host), or none (inline in Cap'n Proto messages)",
     [](const OptionsEnvironment&) { return std::string("tcp"); },
     [](absl::string_view t, DaemonOptions& o) { return SetUcxTls(t, o.ucx_tls); },
     [](const DaemonOptions& o) { return o.ucx_tls; }},
    {"router-silent-s", "SECONDS",
     "forget an engine worker's blocks after this long without events (0: never)",
     [](const OptionsEnvironment&) { return std::string("600"); },
     [](absl::string_view t, DaemonOptions& o) { return SetSeconds(t, o.router_silent_s); },
     [](const DaemonOptions& o) { return FormatDouble(o.router_silent_s); }},
    {"router-max-blocks", "N", "most blocks the router's prefix index holds (oldest go first)",
     [](const OptionsEnvironment&) { return std::string("16777216"); },
     [](absl::string_view t, DaemonOptions& o) {
       return SetInRange(ParseUint(t), t, 1, uint64_t{1} << 40, o.router_max_blocks);
     },
     [](const DaemonOptions& o) { return absl::StrCat(o.router_max_blocks); }},
    {"router-approximate-ttl-s", "SECONDS",
     "approximate mode for engines without events: remember each placement answer this long "
     "(0: off)",
     [](const OptionsEnvironment&) { return std::string("0"); },
     [](absl::string_view t, DaemonOptions& o) {
       return SetSeconds(t, o.router_approximate_ttl_s);
     },
     [](const DaemonOptions& o) { return FormatDouble(o.router_approximate_ttl_s); }},
    {"max-connections", "N", "most concurrent RPC connections",
     [](const OptionsEnvironment&) { return std::string("256"); },
     [](absl::string_view t, DaemonOptions& o) {
       return SetU32InRange(t, kMaxConnections, o.max_connections);
     },
     [](const DaemonOptions& o) { return absl::StrCat(o.max_connections); }},
};

const OptionSpec* FindByFlag(absl::string_view flag) {
  for (const OptionSpec& spec : kOptions) {
    if (spec.flag == flag) return &spec;
  }
  return nullptr;
}

const OptionSpec* FindByKey(absl::string_view key) {
  for (const OptionSpec& spec : kOptions) {
    if (ConfigKey(spec.flag) == key) return &spec;
  }
  return nullptr;
}

// ------------------------------------------------------------------ parsing --

using FlagValues = std::map<const OptionSpec*, std::string>;

// Splits args into flag values. Sets `help` instead when --help/-h appears.
absl::StatusOr<FlagValues> ReadFlags(const std::vector<std::string>& args, bool& help) {
  FlagValues values;
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      help = true;
      return values;
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (!absl::StartsWith(arg, "--") || arg.size() == 2) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
    }
    absl::string_view name = arg.substr(2);
    const size_t eq = name.find('=');
    const OptionSpec* spec = FindByFlag(name.substr(0, eq));
    if (spec == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name.substr(0, eq), " (see --help)"));
    }
    const std::string where = absl::StrCat("--", spec->flag, ": ");
    std::string value;
    if (eq != absl::string_view::npos) {
      value = std::string(name.substr(eq + 1));
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat(where, "missing value"));
    }
    if (auto [it, added] = values.emplace(spec, value); !added) {
      if (spec->clear == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(where, "given more than once"));
      }
      absl::StrAppend(&it->second, ",", value);
    }
  }
  return values;
}

absl::Status ApplyConfigFile(const std::string& path, DaemonOptions& o) {
  absl::StatusOr<ConfigMap> config = LoadConfigFile(path);
  if (!config.ok()) return config.status();
  for (const std::string& key : config->KeysInOrder()) {
    const OptionSpec* spec = FindByKey(key);
    if (spec == nullptr || spec->flag == "config") {
      return absl::InvalidArgumentError(
          absl::StrCat(config->Where(key), ": unknown option '", key, "'",
                       spec == nullptr ? "" : " (a config file cannot name another config file)"));
    }
    absl::Status s = config->Annotate(key, spec->set(config->Find(key)->value, o));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Finish(DaemonOptions& o) {
  if (o.socket_path.empty()) o.socket_path = absl::StrCat(o.data_dir, "/kvstashd.sock");
  if (o.socket_path.size() > kMaxUnixSocketPath) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--socket: '", o.socket_path, "' is ", o.socket_path.size(), " bytes, longer than the ",
        kMaxUnixSocketPath, " a Unix socket path may have (set --socket or a shorter --data-dir)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view SyncPolicyName(SyncPolicy p) { return p == SyncPolicy::kWal ? "wal" : "fsync"; }

OptionsEnvironment OptionsEnvironment::FromProcess() {
  OptionsEnvironment env;
  const char* xdg = std::getenv("XDG_STATE_HOME");
  env.xdg_state_home = xdg == nullptr ? "" : xdg;
  env.uid = static_cast<uint32_t>(getuid());
  return env;
}

absl::StatusOr<DaemonOptions> ParseDaemonOptions(const std::vector<std::string>& args) {
  return ParseDaemonOptions(args, OptionsEnvironment::FromProcess());
}

absl::StatusOr<DaemonOptions> ParseDaemonOptions(const std::vector<std::string>& args,
                                                 const OptionsEnvironment& env) {
  DaemonOptions o;
  for (const OptionSpec& spec : kOptions) {
    const std::string text = spec.default_text(env);
    if (!text.empty()) KVSTASH_CHECK(spec.set(text, o).ok());
  }
  absl::StatusOr<FlagValues> flags = ReadFlags(args, o.help);
  if (!flags.ok()) return flags.status();
  if (o.help) {
    Finish(o).IgnoreError();  // --help wins over every other problem
    return o;
  }
  const OptionSpec* config_spec = FindByFlag("config");
  if (auto it = flags->find(config_spec); it != flags->end()) {
    absl::Status s = config_spec->set(it->second, o);
    if (s.ok()) s = ApplyConfigFile(o.config_file, o);
    if (!s.ok()) return s;
  }
  for (const auto& [spec, value] : *flags) {
    if (spec->clear != nullptr) spec->clear(o);  // flags replace a config file's list
    absl::Status s = spec->set(value, o);
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat("--", spec->flag, ": ", s.message()));
  }
  absl::Status s = Finish(o);
  if (!s.ok()) return s;
  return o;
}

std::string DaemonOptionsHelp(const OptionsEnvironment& env) {
  std::string out =
      "usage: kvstashd [flags]\n"
      "The kvstash node daemon. Every flag may also be set in a --config file as\n"
      "`key = value`, where the key is the flag name with '_' for '-'.\n\n";
  for (const OptionSpec& spec : kOptions) {
    absl::StrAppend(&out, "  --", spec.flag, " ", spec.value_name, "\n      ", spec.help);
    const std::string def = spec.default_text(env);
    if (!def.empty()) absl::StrAppend(&out, " (default: ", def, ")");
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, "  --help\n      print this text and exit\n");
  return out;
}

std::string FormatDaemonOptions(const DaemonOptions& options) {
  std::string out;
  for (const OptionSpec& spec : kOptions) {
    if (spec.flag == "config") continue;
    std::string value = spec.get(options);
    // Quote everything: paths may hold '#' or spaces. Escape what config.h unescapes.
    value = absl::StrReplaceAll(value, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
    absl::StrAppend(&out, ConfigKey(spec.flag), " = \"", value, "\"\n");
  }
  return out;
}

}  // namespace kvstash::service
