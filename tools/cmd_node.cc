// Node commands: kvstash serve | put | get | lookup | stats | pin | unpin |
// erase, talking to a kvstashd through libkvstash.
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "kvstash/client.h"
#include "service/daemon.h"
#include "service/options.h"
#include "service/profile.h"
#include "tools/commands.h"
#include "tools/file_io.h"
#include "tools/flags.h"
#include "tools/json_writer.h"

namespace kvstash::tools {
namespace {

int Fail(const absl::Status& s) {
  std::cerr << "error: " << s.message() << "\n";
  return s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

std::string DefaultSocket() {
  absl::StatusOr<service::DaemonOptions> d = service::ParseDaemonOptions({});
  return d.ok() ? d->socket_path : "";
}

void AddConnect(FlagSet& f) {
  f.String("connect", "kvstashd address: a Unix socket path or host:port", DefaultSocket());
  f.String("ns", "key namespace (u64)", "0");
  f.Bool("json", "print one JSON object");
}

absl::StatusOr<std::unique_ptr<Client>> ConnectFrom(const FlagSet& f) {
  return Client::Connect(f.Get("connect"));
}

absl::StatusOr<Key> ParseKey(absl::string_view text, uint64_t ns, absl::string_view flag) {
  uint64_t v = 0;
  const bool hex = text.size() > 2 && (text.substr(0, 2) == "0x" || text.substr(0, 2) == "0X");
  const bool ok = hex ? absl::SimpleHexAtoi(text.substr(2), &v) : absl::SimpleAtoi(text, &v);
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": '", text, "' is not a u64 sequence hash (decimal or 0x-hex)"));
  }
  return Key::FromU64(v, ns);
}

absl::StatusOr<std::vector<Key>> ParseKeys(const FlagSet& f, const std::string& flag) {
  absl::StatusOr<uint64_t> ns = f.GetU64("ns");
  if (!ns.ok()) return ns.status();
  std::vector<Key> keys;
  for (absl::string_view k : absl::StrSplit(f.Get(flag), ',', absl::SkipWhitespace())) {
    absl::StatusOr<Key> key = ParseKey(k, *ns, "--" + flag);
    if (!key.ok()) return key.status();
    keys.push_back(*key);
  }
  if (keys.empty()) return absl::InvalidArgumentError("--" + flag + " is empty");
  return keys;
}

uint64_t KeyU64(const Key& k) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | k.digest[i];
  return v;
}

absl::StatusOr<Format> FormatFlag(const FlagSet& f) {
  std::optional<Format> fmt = ParseFormatName(f.Get("format"));
  if (!fmt) {
    return absl::InvalidArgumentError(
        absl::StrCat("--format: unknown format '", f.Get("format"),
                     "' (expected nvfp4, mxfp4, fp8_e4m3, bf16 or fp16)"));
  }
  return *fmt;
}

}  // namespace

int RunServe(const Args& args) { return service::DaemonMain(args); }

int RunPut(const Args& args) {
  FlagSet f("kvstash put --key K --in FILE --format F [--profile P] [flags]",
            "Store one block: FILE holds its payload in format F (per layer, K then V: data then\n"
            "scales) at the profile's geometry; kvstashd converts it to its storage format.");
  f.String("key", "the block's u64 sequence hash (decimal or 0x-hex)");
  f.String("in", "payload file");
  f.String("format", "payload format: bf16, fp16, fp8_e4m3, nvfp4 or mxfp4");
  f.String("profile", "model profile giving the geometry", "tiny");
  f.String("parent", "parent block's key (prefix chain)", std::nullopt, true);
  f.String("scales", "nvfp4/fp8 global scales, comma-separated, one per (layer, plane)",
           std::nullopt, true);
  AddConnect(f);
  if (int rc = ParseOrExit(f, args); rc >= 0) return rc;
  absl::StatusOr<uint64_t> ns = f.GetU64("ns");
  if (!ns.ok()) return Fail(ns.status());
  absl::StatusOr<Key> key = ParseKey(f.Get("key"), *ns, "--key");
  if (!key.ok()) return Fail(key.status());
  absl::StatusOr<Format> fmt = FormatFlag(f);
  if (!fmt.ok()) return Fail(fmt.status());
  absl::StatusOr<service::ModelProfile> profile = service::LoadProfile(f.Get("profile"));
  if (!profile.ok()) return Fail(profile.status());
  absl::StatusOr<std::vector<uint8_t>> payload = ReadWholeFile(f.Get("in"), "--in");
  if (!payload.ok()) return Fail(payload.status());
  std::vector<float> scales;
  if (f.Has("scales")) {
    for (absl::string_view s : absl::StrSplit(f.Get("scales"), ',')) {
      float v = 0;
      if (!absl::SimpleAtof(s, &v))
        return Fail(
            absl::InvalidArgumentError(absl::StrCat("--scales: '", s, "' is not a number")));
      scales.push_back(v);
    }
  }
  PutBlock b;
  b.key = *key;
  if (f.Has("parent")) {
    absl::StatusOr<Key> parent = ParseKey(f.Get("parent"), *ns, "--parent");
    if (!parent.ok()) return Fail(parent.status());
    b.parent = *parent;
  }
  const auto& g = profile->geometry;
  b.geometry = Geometry{g.layers, g.kv_heads, g.head_dim, g.block_tokens, g.planes};
  b.format = *fmt;
  b.payload = *payload;
  b.scales = scales;
  absl::StatusOr<std::unique_ptr<Client>> c = ConnectFrom(f);
  if (!c.ok()) return Fail(c.status());
  absl::StatusOr<size_t> stored = (*c)->Put(std::span<const PutBlock>(&b, 1));
  if (!stored.ok()) return Fail(stored.status());
  if (f.GetBool("json")) {
    std::cout << JsonObject().Add("stored", uint64_t{*stored}).Add("key", KeyU64(*key)).Str()
              << "\n";
  } else {
    std::cout << absl::StrFormat("stored block %u (%zu bytes of %s)\n", KeyU64(*key),
                                 payload->size(), FormatName(*fmt));
  }
  return 0;
}

int RunGet(const Args& args) {
  FlagSet f("kvstash get --key K --out FILE --format F [flags]",
            "Fetch one block's payload in format F (converted if stored otherwise) into FILE.");
  f.String("key", "the block's u64 sequence hash");
  f.String("out", "output payload file");
  f.String("format", "bf16, fp16, fp8_e4m3, nvfp4 or mxfp4", "nvfp4");
  AddConnect(f);
  if (int rc = ParseOrExit(f, args); rc >= 0) return rc;
  absl::StatusOr<uint64_t> ns = f.GetU64("ns");
  if (!ns.ok()) return Fail(ns.status());
  absl::StatusOr<Key> key = ParseKey(f.Get("key"), *ns, "--key");
  if (!key.ok()) return Fail(key.status());
  absl::StatusOr<Format> fmt = FormatFlag(f);
  if (!fmt.ok()) return Fail(fmt.status());
  absl::StatusOr<std::unique_ptr<Client>> c = ConnectFrom(f);
  if (!c.ok()) return Fail(c.status());
  // GetViews reads blocks held in the host tier in place (shared memory).
  absl::StatusOr<BlockViews> r = (*c)->GetViews(std::span<const Key>(&*key, 1), *fmt);
  if (!r.ok()) return Fail(r.status());
  const BlockView& b = (*r)[0];
  if (b.tier == Tier::kNone) {
    return Fail(absl::NotFoundError(absl::StrCat("block ", KeyU64(*key), " is not held")));
  }
  if (absl::Status s = WriteWholeFile(f.Get("out"), "--out", b.payload.data(), b.payload.size());
      !s.ok()) {
    return Fail(s);
  }
  std::string scales = "[";
  for (size_t i = 0; i < b.scales.size(); ++i) {
    absl::StrAppend(&scales, i ? ", " : "", absl::StrFormat("%.9g", b.scales[i]));
  }
  scales += "]";
  if (f.GetBool("json")) {
    std::cout << JsonObject()
                     .Add("key", KeyU64(*key))
                     .Add("tier", TierName(b.tier))
                     .Add("format", FormatName(b.format))
                     .Add("bytes", uint64_t{b.payload.size()})
                     .Add("zero_copy", b.zero_copy)
                     .Add("dynamic_scales", b.dynamic_scales)
                     .AddRaw("scales", scales)
                     .Str()
              << "\n";
  } else {
    std::cout << absl::StrFormat("block %u from %s%s: %zu bytes of %s, scales %s\n", KeyU64(*key),
                                 TierName(b.tier), b.zero_copy ? " (shared memory)" : "",
                                 b.payload.size(), FormatName(b.format), scales);
  }
  return 0;
}

int RunLookup(const Args& args) {
  FlagSet f("kvstash lookup --keys K1,K2,... [flags]",
            "Longest prefix of the keys held by the node, and the tier of each held block.");
  f.String("keys", "comma-separated u64 sequence hashes, in prefix order");
  AddConnect(f);
  if (int rc = ParseOrExit(f, args); rc >= 0) return rc;
  absl::StatusOr<std::vector<Key>> keys = ParseKeys(f, "keys");
  if (!keys.ok()) return Fail(keys.status());
  absl::StatusOr<std::unique_ptr<Client>> c = ConnectFrom(f);
  if (!c.ok()) return Fail(c.status());
  absl::StatusOr<LookupResult> r = (*c)->Lookup(*keys);
  if (!r.ok()) return Fail(r.status());
  std::string tiers = "[";
  for (size_t i = 0; i < r->tiers.size(); ++i)
    absl::StrAppend(&tiers, i ? ", " : "", "\"", TierName(r->tiers[i]), "\"");
  tiers += "]";
  if (f.GetBool("json")) {
    std::cout << JsonObject()
                     .Add("matched", uint64_t{r->matched})
                     .Add("keys", uint64_t{keys->size()})
                     .AddRaw("tiers", tiers)
                     .Str()
              << "\n";
  } else {
    std::cout << absl::StrFormat("matched %zu of %zu keys; tiers %s\n", r->matched, keys->size(),
                                 tiers);
  }
  return 0;
}

int RunStats(const Args& args) {
  FlagSet f("kvstash stats [flags]", "Per-tier capacity, use and counters of a kvstashd.");
  AddConnect(f);
  if (int rc = ParseOrExit(f, args); rc >= 0) return rc;
  absl::StatusOr<std::unique_ptr<Client>> c = ConnectFrom(f);
  if (!c.ok()) return Fail(c.status());
  absl::StatusOr<std::vector<TierStats>> s = (*c)->Stats();
  if (!s.ok()) return Fail(s.status());
  if (f.GetBool("json")) {
    std::string tiers = "[";
    for (size_t i = 0; i < s->size(); ++i) {
      const TierStats& t = (*s)[i];
      JsonObject o;
      o.Add("name", t.name)
          .Add("capacity_bytes", t.capacity_bytes)
          .Add("used_bytes", t.used_bytes)
          .Add("blocks", t.blocks)
          .Add("hits", t.hits)
          .Add("misses", t.misses)
          .Add("bytes_in", t.bytes_in)
          .Add("bytes_out", t.bytes_out)
          .Add("evictions", t.evictions)
          .Add("spills", t.spills)
          .Add("promotions", t.promotions)
          .Add("checksum_failures", t.checksum_failures)
          .Add("read_only", t.read_only)
          .Add("error", t.error);
      for (const auto& [name, value] : t.counters) o.Add(name, value);
      absl::StrAppend(&tiers, i ? ", " : "", o.Str());
    }
    std::cout << JsonObject().AddRaw("tiers", tiers + "]").Str() << "\n";
    return 0;
  }
  std::cout << absl::StrFormat("%-8s %12s %12s %8s %8s %8s %9s %7s %9s %s\n", "tier", "capacity",
                               "used", "blocks", "hits", "misses", "evictions", "spills",
                               "promoted", "state");
  for (const TierStats& t : *s) {
    std::cout << absl::StrFormat("%-8s %12u %12u %8u %8u %8u %9u %7u %9u %s\n", t.name,
                                 t.capacity_bytes, t.used_bytes, t.blocks, t.hits, t.misses,
                                 t.evictions, t.spills, t.promotions,
                                 t.read_only ? "read-only: " + t.error : "ok");
  }
  return 0;
}

namespace {
int RunKeysOp(const Args& args, const char* name, const char* what,
              absl::StatusOr<size_t> (Client::*op)(std::span<const Key>)) {
  FlagSet f(absl::StrCat("kvstash ", name, " --keys K1,K2,... [flags]"), what);
  f.String("keys", "comma-separated u64 sequence hashes");
  AddConnect(f);
  if (int rc = ParseOrExit(f, args); rc >= 0) return rc;
  absl::StatusOr<std::vector<Key>> keys = ParseKeys(f, "keys");
  if (!keys.ok()) return Fail(keys.status());
  absl::StatusOr<std::unique_ptr<Client>> c = ConnectFrom(f);
  if (!c.ok()) return Fail(c.status());
  absl::StatusOr<size_t> n = ((**c).*op)(*keys);
  if (!n.ok()) return Fail(n.status());
  if (f.GetBool("json")) {
    std::cout << JsonObject().Add(name, uint64_t{*n}).Add("keys", uint64_t{keys->size()}).Str()
              << "\n";
  } else {
    std::cout << absl::StrFormat("%s: %zu of %zu keys\n", name, *n, keys->size());
  }
  return 0;
}
}  // namespace

int RunPin(const Args& a) {
  return RunKeysOp(a, "pinned", "Pin blocks: pinned blocks are never evicted.", &Client::Pin);
}
int RunUnpin(const Args& a) {
  return RunKeysOp(a, "unpinned", "Unpin blocks pinned before.", &Client::Unpin);
}
int RunErase(const Args& a) {
  return RunKeysOp(a, "erased", "Erase blocks from every tier.", &Client::Erase);
}

}  // namespace kvstash::tools
