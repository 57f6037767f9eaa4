// kvstash hash: block keys of a token sequence with either hash scheme of
// INTEROP.md, as the engines and routers beside kvstash compute them.
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "kvstash/block_hash.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/json_writer.h"

namespace kvstash::tools {
namespace {

absl::StatusOr<std::vector<uint32_t>> ParseTokens(const std::string& text) {
  std::vector<uint32_t> out;
  for (absl::string_view t : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    uint32_t v = 0;
    if (!absl::SimpleAtoi(t, &v)) {
      return absl::InvalidArgumentError(absl::StrCat("--tokens: '", t, "' (token ", out.size(),
                                                     ") is not a token id in 0..4294967295"));
    }
    out.push_back(v);
  }
  return out;
}

struct BlockRow {
  std::string hex;
  uint64_t u64;
};

absl::StatusOr<std::vector<BlockRow>> Compute(const FlagSet& flags,
                                              const std::vector<uint32_t>& tokens, size_t block) {
  std::vector<BlockRow> rows;
  const std::string scheme = flags.Get("scheme");
  if (scheme == "xxh3") {
    Xxh3HashOptions o;
    if (flags.Has("seed")) {
      absl::StatusOr<uint64_t> s = flags.GetU64("seed");
      if (!s.ok()) return s.status();
      o.seed = *s;
    }
    absl::StatusOr<uint64_t> chain = flags.GetU64("chain-seed");
    if (!chain.ok()) return chain.status();
    o.chain_seed = *chain;
    if (flags.Has("lora-name")) o.lora_name = flags.Get("lora-name");
    if (flags.Has("namespace")) o.cache_namespace = flags.Get("namespace");
    for (uint64_t h : Xxh3SequenceHashes(tokens, block, o)) {
      rows.push_back({absl::StrFormat("%016x", h), h});
    }
    return rows;
  }
  if (scheme == "sha256_cbor") {
    Sha256CborOptions o;
    o.none_hash_seed = flags.Has("seed") ? flags.Get("seed") : "vllm-none-hash";
    if (flags.Has("lora-name")) o.extra_keys.push_back(flags.Get("lora-name"));
    if (flags.Has("cache-salt")) o.first_block_extra_keys.push_back(flags.Get("cache-salt"));
    for (const Sha256Digest& d : Sha256CborHashes(tokens, block, o)) {
      rows.push_back({DigestHex(d), DigestToU64(d)});
    }
    return rows;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--scheme must be xxh3 or sha256_cbor, got '", scheme, "'"));
}

}  // namespace

int RunHash(const Args& args) {
  FlagSet flags(
      "kvstash hash --scheme xxh3|sha256_cbor --block-tokens N --tokens 1,2,3,... [flags]",
      "Print the sequence hash of each full block of the tokens (a partial tail block has no\n"
      "key): the hex digest and the u64 form used on the KV-event wire. xxh3 is Dynamo's\n"
      "XXH3-64 chain; sha256_cbor is vLLM's (the u64 is the digest's last 8 bytes, big-endian).");
  flags.String("scheme", "xxh3 or sha256_cbor");
  flags.String("block-tokens", "tokens per block (e.g. 16)");
  flags.String("tokens", "comma-separated token ids");
  flags.String("seed",
               "xxh3: per-block seed (default 1337); sha256_cbor: the NONE_HASH seed, i.e. the "
               "engine's PYTHONHASHSEED (default: vllm-none-hash)",
               std::nullopt, true);
  flags.String("chain-seed", "xxh3: chaining seed (1337 in most Dynamo versions, 0 in the newest)",
               "1337");
  flags.String("lora-name", "LoRA adapter name (both schemes)", std::nullopt, true);
  flags.String("namespace", "xxh3: cache namespace", std::nullopt, true);
  flags.String("cache-salt", "sha256_cbor: cache salt (first block's extra key)", std::nullopt,
               true);
  flags.Bool("json", "print one JSON object");
  if (int rc = ParseOrExit(flags, args); rc >= 0) return rc;
  absl::StatusOr<uint64_t> block = flags.GetU64("block-tokens");
  absl::StatusOr<std::vector<uint32_t>> tokens = ParseTokens(flags.Get("tokens"));
  absl::Status err = !block.ok()    ? block.status()
                     : *block == 0  ? absl::InvalidArgumentError("--block-tokens must be positive")
                     : !tokens.ok() ? tokens.status()
                                    : absl::OkStatus();
  absl::StatusOr<std::vector<BlockRow>> rows =
      err.ok() ? Compute(flags, *tokens, *block) : absl::StatusOr<std::vector<BlockRow>>(err);
  if (!rows.ok()) {
    std::cerr << "error: " << rows.status().message() << "\n";
    return 2;
  }
  if (flags.GetBool("json")) {
    std::string blocks = "[";
    for (size_t i = 0; i < rows->size(); ++i) {
      JsonObject b;
      b.Add("index", uint64_t{i}).Add("hash", (*rows)[i].hex).Add("u64", (*rows)[i].u64);
      absl::StrAppend(&blocks, i ? ", " : "", b.Str());
    }
    JsonObject o;
    o.Add("scheme", flags.Get("scheme")).Add("block_tokens", *block);
    o.Add("tokens", uint64_t{tokens->size()}).AddRaw("blocks", blocks + "]");
    std::cout << o.Str() << "\n";
    return 0;
  }
  std::cout << absl::StrFormat("%s, %d tokens, %d full blocks of %d\n", flags.Get("scheme"),
                               tokens->size(), rows->size(), *block);
  for (size_t i = 0; i < rows->size(); ++i) {
    std::cout << absl::StrFormat("block %zu  %s  u64 %u\n", i, (*rows)[i].hex, (*rows)[i].u64);
  }
  return 0;
}

}  // namespace kvstash::tools
