#include "service/profile.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

#ifndef KVSTASH_PROFILE_SOURCE_DIR
#error "KVSTASH_PROFILE_SOURCE_DIR must name the source tree's service/profiles (CMake sets it)"
#endif

namespace kvstash::service {
namespace {

constexpr absl::string_view kKnownKeys[] = {
    "name",     "source",       "layers",  "kv_heads",    "head_dim",   "planes",       "k_scales",
    "v_scales", "block_tokens", "q_heads", "qk_head_dim", "v_head_dim", "active_params"};
constexpr absl::string_view kSuffix = ".conf";

bool IsValidName(absl::string_view name) {
  if (name.empty() || name.front() == '.' || name.front() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_islower(static_cast<unsigned char>(c)) ||
           absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

// Reads key as an integer in [lo, hi]; a missing key gives `fallback`, or an
// error when there is none (fallback == 0).
absl::Status ReadU32(const ConfigMap& config, absl::string_view key, uint32_t lo, uint32_t hi,
                     uint32_t fallback, uint32_t& out) {
  const ConfigValue* v = config.Find(key);
  if (v == nullptr) {
    if (fallback == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(config.source(), ": missing required field '", key, "'"));
    }
    out = fallback;
    return absl::OkStatus();
  }
  absl::StatusOr<uint64_t> n = ParseUint(v->value, hi);
  if (!n.ok() || *n < lo) {
    return config.Annotate(key, absl::InvalidArgumentError(absl::StrCat(
                                    "'", v->value, "' is not an integer in ", lo, "..", hi)));
  }
  out = static_cast<uint32_t>(*n);
  return absl::OkStatus();
}

absl::Status ReadScales(const ConfigMap& config, absl::string_view key, uint32_t layers,
                        std::vector<float>& out) {
  const ConfigValue* v = config.Find(key);
  if (v == nullptr) return absl::OkStatus();
  absl::StatusOr<std::vector<float>> scales = ParseFloatList(v->value);
  if (!scales.ok()) return config.Annotate(key, scales.status());
  if (scales->size() != layers) {
    return config.Annotate(
        key, absl::InvalidArgumentError(absl::StrCat(
                 "has ", scales->size(), " values, expected one per layer (", layers, ")")));
  }
  for (size_t i = 0; i < scales->size(); ++i) {
    if (!((*scales)[i] > 0.0f)) {
      return config.Annotate(key, absl::InvalidArgumentError(absl::StrCat(
                                      "value ", i, " (", (*scales)[i], ") is not positive")));
    }
  }
  out = *std::move(scales);
  return absl::OkStatus();
}

absl::Status CheckKeys(const ConfigMap& config) {
  for (const auto& [key, value] : config.entries()) {
    if (std::find(std::begin(kKnownKeys), std::end(kKnownKeys), key) == std::end(kKnownKeys)) {
      return absl::InvalidArgumentError(absl::StrCat(config.Where(key), ": unknown field '", key,
                                                     "' (expected one of ",
                                                     absl::StrJoin(kKnownKeys, ", "), ")"));
    }
  }
  const ConfigValue* name = config.Find("name");
  if (name == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.source(), ": missing required field 'name'"));
  }
  if (!IsValidName(name->value)) {
    return config.Annotate("name", absl::InvalidArgumentError(absl::StrCat(
                                       "'", name->value,
                                       "' is not a profile name (lower-case letters, digits, "
                                       "'-', '_' and '.')")));
  }
  return absl::OkStatus();
}

absl::Status ReadGeometry(const ConfigMap& config, kernels::KvGeometry& g) {
  absl::Status s = ReadU32(config, "layers", 1, kMaxLayers, 0, g.layers);
  if (s.ok()) s = ReadU32(config, "kv_heads", 1, kMaxKvHeads, 0, g.kv_heads);
  if (s.ok()) s = ReadU32(config, "head_dim", 1, kMaxHeadDim, 0, g.head_dim);
  if (s.ok())
    s = ReadU32(config, "block_tokens", 1, kMaxBlockTokens, kDefaultBlockTokens, g.block_tokens);
  if (s.ok()) s = ReadU32(config, "planes", 1, 2, 2, g.planes);
  if (!s.ok()) return s;
  absl::StatusOr<kernels::KvBlockLayout> layout =
      kernels::KvBlockLayout::Create(g, kernels::Format::kNvfp4);
  if (!layout.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.Where("head_dim"),
                     ": geometry is not valid for nvfp4: ", layout.status().message()));
  }
  absl::StatusOr<kernels::KvBlockLayout> bf16 =
      kernels::KvBlockLayout::Create(g, kernels::Format::kBf16);
  if (!bf16.ok() || bf16->block_bytes() > kMaxBf16BlockBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.source(), ": a bf16 block of this geometry exceeds ",
                     kMaxBf16BlockBytes, " bytes; lower block_tokens"));
  }
  return absl::OkStatus();
}

// The optional compute model: all of active_params and q_heads, or neither.
absl::Status ReadCompute(const ConfigMap& config, uint32_t head_dim, ComputeShape& c) {
  if (config.Has("active_params") != config.Has("q_heads")) {
    const absl::string_view given = config.Has("active_params") ? "active_params" : "q_heads";
    return config.Annotate(
        given, absl::InvalidArgumentError("active_params and q_heads must be given together"));
  }
  if (const ConfigValue* v = config.Find("active_params")) {
    double d = 0;
    if (!absl::SimpleAtod(v->value, &d) || !(d > 0) || d > 1e15) {
      return config.Annotate(
          "active_params", absl::InvalidArgumentError(
                               absl::StrCat("'", v->value, "' is not a positive parameter count")));
    }
    c.active_params = d;
  }
  absl::Status s = absl::OkStatus();
  if (config.Has("q_heads")) s = ReadU32(config, "q_heads", 1, kMaxKvHeads * 64, 0, c.q_heads);
  if (s.ok()) s = ReadU32(config, "qk_head_dim", 1, kMaxHeadDim, head_dim, c.qk_head_dim);
  if (s.ok()) s = ReadU32(config, "v_head_dim", 1, kMaxHeadDim, head_dim, c.v_head_dim);
  return s;
}

}  // namespace

absl::StatusOr<ModelProfile> ProfileFromConfig(const ConfigMap& config) {
  absl::Status s = CheckKeys(config);
  ModelProfile p;
  if (s.ok()) s = ReadGeometry(config, p.geometry);
  if (s.ok()) s = ReadScales(config, "k_scales", p.geometry.layers, p.k_scales);
  if (s.ok()) s = ReadScales(config, "v_scales", p.geometry.layers, p.v_scales);
  if (s.ok()) s = ReadCompute(config, p.geometry.head_dim, p.compute);
  if (!s.ok()) return s;
  if (p.geometry.planes == 1 && config.Has("v_scales")) {
    return config.Annotate(
        "v_scales", absl::InvalidArgumentError("planes = 1 (MLA latent cache) has no V plane"));
  }
  if (p.geometry.planes == 2 && config.Has("k_scales") != config.Has("v_scales")) {
    const absl::string_view given = config.Has("k_scales") ? "k_scales" : "v_scales";
    return config.Annotate(
        given, absl::InvalidArgumentError("k_scales and v_scales must be given together"));
  }
  p.name = config.Find("name")->value;
  if (const ConfigValue* src = config.Find("source")) p.source = src->value;
  return p;
}

absl::StatusOr<ModelProfile> ParseProfile(absl::string_view text, absl::string_view source_name) {
  absl::StatusOr<ConfigMap> config = ParseConfig(text, source_name);
  if (!config.ok()) return config.status();
  return ProfileFromConfig(*config);
}

absl::StatusOr<ModelProfile> LoadProfileFile(const std::string& path) {
  absl::StatusOr<ConfigMap> config = LoadConfigFile(path);
  if (!config.ok()) return config.status();
  absl::StatusOr<ModelProfile> p = ProfileFromConfig(*config);
  if (!p.ok()) return p.status();
  const std::string stem = std::filesystem::path(path).stem().string();
  if (p->name != stem) {
    return config->Annotate(
        "name", absl::InvalidArgumentError(absl::StrCat(
                    "'", p->name, "' does not match the file name '", stem, kSuffix, "'")));
  }
  p->path = path;
  return p;
}

std::vector<std::string> ProfileSearchPath() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("KVSTASH_PROFILE_DIR")) {
    for (absl::string_view d : absl::StrSplit(env, ':', absl::SkipEmpty())) {
      dirs.emplace_back(d);
    }
  }
  dirs.emplace_back(KVSTASH_PROFILE_SOURCE_DIR);
  return dirs;
}

absl::StatusOr<ModelProfile> LoadProfile(absl::string_view name_or_path) {
  return LoadProfile(name_or_path, ProfileSearchPath());
}

absl::StatusOr<ModelProfile> LoadProfile(absl::string_view name_or_path,
                                         const std::vector<std::string>& search_path) {
  if (absl::StrContains(name_or_path, '/') || absl::EndsWith(name_or_path, kSuffix)) {
    return LoadProfileFile(std::string(name_or_path));
  }
  if (!IsValidName(name_or_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", name_or_path, "' is neither a profile name nor a path"));
  }
  for (const std::string& dir : search_path) {
    const std::string path = absl::StrCat(dir, "/", name_or_path, kSuffix);
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) return LoadProfileFile(path);
  }
  return absl::NotFoundError(absl::StrCat("no profile '", name_or_path, "' in ",
                                          absl::StrJoin(search_path, ":"),
                                          " (set KVSTASH_PROFILE_DIR or give a path)"));
}

std::vector<std::string> ListProfiles() { return ListProfiles(ProfileSearchPath()); }

std::vector<std::string> ListProfiles(const std::vector<std::string>& search_path) {
  std::set<std::string> names;
  for (const std::string& dir : search_path) {
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(dir, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      const std::filesystem::path& p = it->path();
      if (p.extension().string() == kSuffix && IsValidName(p.stem().string())) {
        names.insert(p.stem().string());
      }
    }
  }
  return {names.begin(), names.end()};
}

absl::StatusOr<size_t> BlockBytes(const ModelProfile& p, kernels::Format f) {
  absl::StatusOr<kernels::KvBlockLayout> layout = kernels::KvBlockLayout::Create(p.geometry, f);
  if (!layout.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("profile ", p.name, ": ", layout.status().message()));
  }
  return layout->block_bytes();
}

absl::StatusOr<size_t> BytesPerToken(const ModelProfile& p, kernels::Format f) {
  absl::StatusOr<size_t> bytes = BlockBytes(p, f);
  if (!bytes.ok()) return bytes.status();
  return *bytes / p.geometry.block_tokens;
}

}  // namespace kvstash::service
