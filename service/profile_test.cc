#include "service/profile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace kvstash::service {
namespace {

using kernels::Format;
using ::testing::HasSubstr;

const std::vector<std::string> kShipped = {"deepseek-v3", "llama-3.1-8b", "llama-3.3-70b",
                                           "qwen3-coder-480b-a35b", "tiny"};

std::vector<std::string> ShippedDir() { return {KVSTASH_PROFILE_SOURCE_DIR}; }

ModelProfile MustLoad(const std::string& name) {
  absl::StatusOr<ModelProfile> p = LoadProfile(name, ShippedDir());
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : ModelProfile{};
}

TEST(ShippedProfiles, EveryOneLoadsAndIsListed) {
  EXPECT_EQ(ListProfiles(ShippedDir()), kShipped);
  for (const std::string& name : kShipped) {
    ModelProfile p = MustLoad(name);
    EXPECT_EQ(p.name, name);
    EXPECT_EQ(p.path, std::string(KVSTASH_PROFILE_SOURCE_DIR) + "/" + name + ".conf");
    EXPECT_FALSE(p.source.empty()) << name;
    EXPECT_EQ(p.geometry.block_tokens, 16u) << name;
    EXPECT_TRUE(p.k_scales.empty() && p.v_scales.empty()) << name;  // dynamic scales
    for (Format f :
         {Format::kBf16, Format::kFp16, Format::kFp8E4M3, Format::kNvfp4, Format::kMxfp4}) {
      EXPECT_TRUE(BlockBytes(p, f).ok()) << name << " " << kernels::FormatName(f);
    }
  }
}

TEST(ShippedProfiles, GeometriesMatchTheModelConfigs) {
  struct Want {
    const char* name;
    uint32_t layers, kv_heads, head_dim, planes;
  };
  for (const Want& w : {Want{"llama-3.1-8b", 32, 8, 128, 2}, Want{"llama-3.3-70b", 80, 8, 128, 2},
                        Want{"qwen3-coder-480b-a35b", 62, 8, 128, 2},
                        Want{"deepseek-v3", 61, 1, 576, 1}, Want{"tiny", 2, 2, 64, 2}}) {
    const kernels::KvGeometry g = MustLoad(w.name).geometry;
    EXPECT_EQ(g.layers, w.layers) << w.name;
    EXPECT_EQ(g.kv_heads, w.kv_heads) << w.name;
    EXPECT_EQ(g.head_dim, w.head_dim) << w.name;
    EXPECT_EQ(g.planes, w.planes) << w.name;
  }
}

TEST(ShippedProfiles, BlockSizes) {
  const ModelProfile tiny = MustLoad("tiny");
  EXPECT_EQ(*BlockBytes(tiny, Format::kBf16), 16u * 1024);
  EXPECT_EQ(*BlockBytes(tiny, Format::kNvfp4), 4608u);  // 4.5 bits per value
  const ModelProfile llama = MustLoad("llama-3.1-8b");
  // Per head and token: 128 values / 2 bytes + 128 / 16 E4M3 scales = 72 bytes.
  EXPECT_EQ(*BytesPerToken(llama, Format::kNvfp4), 32u * 2 * 8 * 72);
  EXPECT_EQ(*BytesPerToken(llama, Format::kBf16), 32u * 2 * 8 * 128 * 2);
  EXPECT_EQ(*BytesPerToken(llama, Format::kFp8E4M3), 32u * 2 * 8 * 128);
  EXPECT_EQ(*BlockBytes(llama, Format::kNvfp4), 16u * 32 * 2 * 8 * 72);
  const ModelProfile deepseek = MustLoad("deepseek-v3");
  EXPECT_EQ(deepseek.geometry.planes, 1u);
  EXPECT_EQ(*BytesPerToken(deepseek, Format::kBf16), 61u * 576 * 2);
  EXPECT_EQ(*BytesPerToken(deepseek, Format::kNvfp4), 61u * (288 + 36));
}

TEST(ParseProfile, DefaultsAndScales) {
  absl::StatusOr<ModelProfile> p = ParseProfile(
      "name = x\nlayers = 2\nkv_heads = 1\nhead_dim = 16\n"
      "k_scales = 0.5, 0.25\nv_scales = 1, 2\n",
      "x.conf");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->geometry.block_tokens, kDefaultBlockTokens);
  EXPECT_EQ(p->geometry.planes, 2u);
  EXPECT_EQ(p->k_scales, (std::vector<float>{0.5f, 0.25f}));
  EXPECT_EQ(p->v_scales, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(p->path, "");
  // MLA: one plane, k_scales only.
  p = ParseProfile("name = m\nlayers = 1\nkv_heads = 1\nhead_dim = 32\nplanes = 1\nk_scales = 3\n",
                   "m.conf");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->k_scales, std::vector<float>{3.0f});
}

void ExpectRejected(const std::string& text, const std::string& want) {
  absl::StatusOr<ModelProfile> p = ParseProfile(text, "bad.conf");
  ASSERT_FALSE(p.ok()) << "accepted:\n" << text;
  EXPECT_TRUE(absl::IsInvalidArgument(p.status())) << p.status();
  EXPECT_THAT(std::string(p.status().message()), HasSubstr(want)) << text;
}

TEST(ParseProfile, MalformedProfilesNameTheField) {
  const std::string base = "name = x\nkv_heads = 8\nhead_dim = 128\n";  // lines 1..3
  ExpectRejected(base, "bad.conf: missing required field 'layers'");
  ExpectRejected("layers = 1\nkv_heads = 1\nhead_dim = 16\n", "missing required field 'name'");
  ExpectRejected(base + "layers = 0\n", "bad.conf:4: layers: '0' is not an integer in 1..1024");
  ExpectRejected(base + "layers = -3\n", "bad.conf:4: layers: '-3' is not an integer");
  ExpectRejected(base + "layers = 32.5\n", "bad.conf:4: layers:");
  ExpectRejected(base + "layers = 99999999999999999999\n", "bad.conf:4: layers:");
  ExpectRejected("name = x\nlayers = 1\nkv_heads = 1\nhead_dim = 100\n",
                 "bad.conf:4: geometry is not valid for nvfp4: head_dim 100");
  ExpectRejected(base + "layers = 1\nplanes = 3\n", "bad.conf:5: planes: '3' is not an integer");
  ExpectRejected(base + "layers = 1\nblock_tokens = 0\n", "bad.conf:5: block_tokens:");
  ExpectRejected(base + "layers = 1\nkv_head = 2\n", "bad.conf:5: unknown field 'kv_head'");
  ExpectRejected("name = Bad Name\nlayers = 1\nkv_heads = 1\nhead_dim = 16\n",
                 "bad.conf:1: name: 'Bad Name' is not a profile name");
  ExpectRejected(base + "layers = 2\nk_scales = 1\nv_scales = 1, 1\n",
                 "bad.conf:5: k_scales: has 1 values, expected one per layer (2)");
  ExpectRejected(base + "layers = 2\nk_scales = 1, 0\nv_scales = 1, 1\n",
                 "bad.conf:5: k_scales: value 1 (0) is not positive");
  ExpectRejected(base + "layers = 2\nk_scales = 1, x\nv_scales = 1, 1\n",
                 "bad.conf:5: k_scales: item 1: 'x' is not a finite number");
  ExpectRejected(base + "layers = 2\nk_scales = 1, 1\n",
                 "bad.conf:5: k_scales: k_scales and v_scales must be given together");
  ExpectRejected("name = m\nlayers = 1\nkv_heads = 1\nhead_dim = 32\nplanes = 1\nv_scales = 1\n",
                 "bad.conf:6: v_scales: planes = 1 (MLA latent cache) has no V plane");
  ExpectRejected(base + "layers = 1024\nblock_tokens = 65536\n", "exceeds");
  ExpectRejected(base + "layers = 1\nlayers = 2\n", "duplicate key 'layers'");
  ExpectRejected(base + "layers = 1\nactive_params = 8e9\n",
                 "bad.conf:5: active_params: active_params and q_heads must be given together");
  ExpectRejected(base + "layers = 1\nactive_params = -1\nq_heads = 4\n",
                 "bad.conf:5: active_params: '-1' is not a positive parameter count");
  ExpectRejected(base + "layers = 1\nactive_params = 1e9\nq_heads = 0\n",
                 "bad.conf:6: q_heads: '0' is not an integer");
}

TEST(ShippedProfiles, ComputeModels) {
  const ComputeShape l8 = MustLoad("llama-3.1-8b").compute;
  EXPECT_DOUBLE_EQ(l8.active_params, 8.03e9);
  EXPECT_EQ(l8.q_heads, 32u);
  EXPECT_EQ(l8.qk_head_dim, 128u);  // defaults to head_dim
  EXPECT_EQ(l8.v_head_dim, 128u);
  const ComputeShape ds = MustLoad("deepseek-v3").compute;
  EXPECT_EQ(ds.q_heads, 128u);
  EXPECT_EQ(ds.qk_head_dim, 192u);
  EXPECT_EQ(ds.v_head_dim, 128u);
  for (const std::string& name : ListProfiles())
    EXPECT_TRUE(MustLoad(name).compute.known()) << name;
  absl::StatusOr<ModelProfile> none =
      ParseProfile("name = x\nlayers = 1\nkv_heads = 1\nhead_dim = 16\n", "x.conf");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->compute.known());
}

class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/kvstash_profile_test_XXXXXX";
    EXPECT_NE(mkdtemp(name), nullptr);
    path_ = name;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& file, const std::string& text) const {
    const std::string p = path_ + "/" + file;
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::string path_;
};

constexpr char kSmall[] = "layers = 1\nkv_heads = 1\nhead_dim = 16\nsource = \"test\"\n";

TEST(LoadProfile, SearchPathOrderAndDirectPaths) {
  TempDir a, b;
  a.Write("mine.conf", std::string("name = mine\n") + kSmall);
  b.Write("mine.conf", std::string("name = mine\nblock_tokens = 32\n") + kSmall);
  b.Write("other.conf", std::string("name = other\n") + kSmall);
  b.Write("README", "not a profile");

  absl::StatusOr<ModelProfile> p = LoadProfile("mine", {a.path(), b.path()});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->path, a.path() + "/mine.conf");  // first directory wins
  EXPECT_EQ(p->geometry.block_tokens, 16u);
  EXPECT_EQ(ListProfiles({a.path(), b.path(), "/nonexistent"}),
            (std::vector<std::string>{"mine", "other"}));

  p = LoadProfile(b.path() + "/mine.conf", {});  // a path, no search
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->geometry.block_tokens, 32u);

  p = LoadProfile("absent", {a.path(), b.path()});
  EXPECT_TRUE(absl::IsNotFound(p.status())) << p.status();
  EXPECT_THAT(std::string(p.status().message()), HasSubstr(a.path() + ":" + b.path()));
  EXPECT_TRUE(absl::IsInvalidArgument(LoadProfile("..", {a.path()}).status()));
  EXPECT_TRUE(absl::IsNotFound(LoadProfile("/nonexistent/x.conf", {}).status()));
}

TEST(LoadProfile, NameMustMatchTheFileName) {
  TempDir d;
  const std::string path = d.Write("alpha.conf", std::string("name = beta\n") + kSmall);
  absl::StatusOr<ModelProfile> p = LoadProfileFile(path);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            path + ":1: name: 'beta' does not match the file name 'alpha.conf'");
}

TEST(LoadProfile, EnvironmentDirectoryComesFirst) {
  TempDir d;
  d.Write("tiny.conf", std::string("name = tiny\nblock_tokens = 64\n") + kSmall);
  ASSERT_EQ(setenv("KVSTASH_PROFILE_DIR", (d.path() + "::/nonexistent").c_str(), 1), 0);
  const std::vector<std::string> path = ProfileSearchPath();
  absl::StatusOr<ModelProfile> tiny = LoadProfile("tiny");
  absl::StatusOr<ModelProfile> llama = LoadProfile("llama-3.1-8b");
  unsetenv("KVSTASH_PROFILE_DIR");
  EXPECT_EQ(path, (std::vector<std::string>{d.path(), "/nonexistent", KVSTASH_PROFILE_SOURCE_DIR}));
  ASSERT_TRUE(tiny.ok()) << tiny.status();
  EXPECT_EQ(tiny->geometry.block_tokens, 64u);
  ASSERT_TRUE(llama.ok()) << llama.status();  // still found in the built-in directory
  EXPECT_EQ(ProfileSearchPath(), std::vector<std::string>{KVSTASH_PROFILE_SOURCE_DIR});
}

TEST(BlockBytes, FormatThatDoesNotFitIsAnError) {
  absl::StatusOr<ModelProfile> p =
      ParseProfile("name = x\nlayers = 1\nkv_heads = 1\nhead_dim = 48\n", "x.conf");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(BlockBytes(*p, Format::kNvfp4).ok());
  absl::StatusOr<size_t> mx = BlockBytes(*p, Format::kMxfp4);  // 48 is not a multiple of 32
  EXPECT_TRUE(absl::IsInvalidArgument(mx.status()));
  EXPECT_THAT(std::string(mx.status().message()), HasSubstr("profile x: head_dim 48"));
}

}  // namespace
}  // namespace kvstash::service
