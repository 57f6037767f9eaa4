// Block hashes against vectors made by tests/vectors/make_hash_vectors.py with
// independent implementations (python3-cbor2 + hashlib; libxxhash via ctypes).
#include "kvstash/block_hash.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace kvstash {
namespace {

std::vector<std::string> List(absl::string_view field) {
  if (field == "-") return {};
  return absl::StrSplit(field, ',');
}

std::vector<uint32_t> Tokens(absl::string_view field) {
  std::vector<uint32_t> out;
  for (const std::string& t : List(field)) {
    uint32_t v = 0;
    EXPECT_TRUE(absl::SimpleAtoi(t, &v)) << t;
    out.push_back(v);
  }
  return out;
}

uint64_t U64(absl::string_view s) {
  uint64_t v = 0;
  EXPECT_TRUE(absl::SimpleAtoi(s, &v)) << s;
  return v;
}

void CheckXxh3(const std::vector<std::string>& f) {
  Xxh3HashOptions o;
  o.seed = U64(f[2]);
  o.chain_seed = U64(f[3]);
  if (f[4] != "-") o.lora_name = f[4];
  if (f[5] != "-") o.cache_namespace = f[5];
  const std::vector<uint32_t> tokens = Tokens(f[6]);
  std::vector<uint64_t> want;
  for (const std::string& h : List(f[7])) want.push_back(U64(h));
  EXPECT_EQ(Xxh3SequenceHashes(tokens, U64(f[1]), o), want);
}

void CheckSha256Cbor(const std::vector<std::string>& f) {
  Sha256CborOptions o;
  o.none_hash_seed = f[2];
  o.extra_keys = List(f[3]);
  o.first_block_extra_keys = List(f[4]);
  const std::vector<Sha256Digest> got = Sha256CborHashes(Tokens(f[5]), U64(f[1]), o);
  const std::vector<std::string> want = List(f[6]);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(DigestHex(got[i]), want[i]) << i;
}

TEST(BlockHash, MatchesIndependentVectors) {
  std::ifstream in(KVSTASH_HASH_VECTORS);
  ASSERT_TRUE(in) << KVSTASH_HASH_VECTORS;
  std::string line;
  int xxh3 = 0, sha = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::vector<std::string> f = absl::StrSplit(line, " | ");
    SCOPED_TRACE(line.substr(0, 80));
    if (f[0] == "xxh3") {
      ASSERT_EQ(f.size(), 8u);
      CheckXxh3(f);
      ++xxh3;
    } else {
      ASSERT_EQ(f.size(), 7u);
      CheckSha256Cbor(f);
      ++sha;
    }
  }
  EXPECT_GE(xxh3, 10);
  EXPECT_GE(sha, 15);
}

TEST(BlockHash, NoneHashOfVllmSeed) {
  // sha256(cbor2.dumps("vllm-none-hash", canonical=True)), by python3-cbor2 + hashlib.
  EXPECT_EQ(DigestHex(NoneHash("vllm-none-hash")),
            "9bd96a485ad84efdafb72ee48a1d7a69bcead0f8f0433173941b276b9581eef0");
}

TEST(BlockHash, PartialTailHasNoKeyAndPrefixesAgree) {
  std::vector<uint32_t> tokens(40);
  for (uint32_t i = 0; i < tokens.size(); ++i) tokens[i] = i * 7;
  EXPECT_EQ(Xxh3SequenceHashes(tokens, 16).size(), 2u);
  EXPECT_EQ(Sha256CborHashes(tokens, 16).size(), 2u);
  EXPECT_TRUE(Xxh3SequenceHashes(std::span(tokens).first(15), 16).empty());
  // A key names its whole prefix: a shared first block hashes the same, a
  // changed first token changes every later key.
  std::vector<uint32_t> other = tokens;
  other[20] = 1;
  EXPECT_EQ(Xxh3SequenceHashes(tokens, 16)[0], Xxh3SequenceHashes(other, 16)[0]);
  EXPECT_NE(Xxh3SequenceHashes(tokens, 16)[1], Xxh3SequenceHashes(other, 16)[1]);
  other[0] = 1;
  EXPECT_NE(DigestToU64(Sha256CborHashes(tokens, 16)[1]),
            DigestToU64(Sha256CborHashes(other, 16)[1]));
}

TEST(BlockHash, WireU64IsLastEightBytesBigEndian) {
  Sha256Digest d{};
  for (int i = 0; i < 32; ++i) d[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(DigestToU64(d), 0x18191a1b1c1d1e1full);
}

}  // namespace
}  // namespace kvstash
