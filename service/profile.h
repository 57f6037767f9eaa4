// Model profiles: the KV geometry of one model, shipped as data files
// (service/profiles/<name>.conf, config.h syntax) rather than code.
//
//   name = llama-3.1-8b        # must equal the file name without .conf
//   source = "https://..."      # where the numbers come from (free text)
//   layers = 32                 # config.json num_hidden_layers
//   kv_heads = 8                # num_key_value_heads (1 for an MLA latent cache)
//   head_dim = 128              # head_dim (kv_lora_rank + qk_rope_head_dim for MLA)
//   block_tokens = 16           # optional, default 16
//   planes = 2                  # optional, default 2 (K and V); 1 for MLA
//   k_scales = 0.01, 0.02, ...  # optional: per-layer calibrated FP32 global scales
//   v_scales = ...              #   (exactly `layers` finite positive values each;
//                               #   v_scales only with planes = 2)
//   active_params = 8.03e9      # optional compute model (`kvstash replay`'s
//   q_heads = 32                #   prefill FLOPs): parameters used per token
//   qk_head_dim = 128           #   (MoE: the active ones), attention heads, and
//   v_head_dim = 128            #   their dims (default head_dim; MLA differs)
//
// Without calibrated scales every block carries dynamic per-layer scales in
// its header (tiers/BLOCK_FORMAT.md). Unknown keys are errors, so a typo does
// not silently fall back to a default. Every error names the file, line and
// field.
//
// Search path for LoadProfile(name): $KVSTASH_PROFILE_DIR (colon-separated
// directories), then the source tree's service/profiles baked in at build
// time. A name containing '/' or ending in ".conf" is a path and is loaded
// directly.
//
// Thread safety: pure functions apart from reading files and the environment.
#ifndef KVSTASH_SERVICE_PROFILE_H_
#define KVSTASH_SERVICE_PROFILE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kernels/codec.h"
#include "kernels/kv_layout.h"
#include "service/config.h"

namespace kvstash::service {

// What a prefill costs (replay/cost_model.h). Zero when the profile has none.
struct ComputeShape {
  double active_params = 0;  // parameters touched per token
  uint32_t q_heads = 0;      // attention (query) heads
  uint32_t qk_head_dim = 0;  // per-head dims of Q.K and of V
  uint32_t v_head_dim = 0;
  bool known() const { return active_params > 0 && q_heads > 0; }
};

struct ModelProfile {
  std::string name;
  kernels::KvGeometry geometry;
  ComputeShape compute;
  // Per-layer FP32 global scales; empty when blocks carry dynamic scales.
  std::vector<float> k_scales, v_scales;
  std::string source;  // provenance text from the file
  std::string path;    // the file it was loaded from ("" when parsed from text)
};

inline constexpr uint32_t kDefaultBlockTokens = 16;
// Sanity limits: far above any shipped model, low enough to keep sizes small.
inline constexpr uint32_t kMaxLayers = 1024;
inline constexpr uint32_t kMaxKvHeads = 1024;
inline constexpr uint32_t kMaxHeadDim = 8192;
inline constexpr uint32_t kMaxBlockTokens = 1 << 16;
inline constexpr size_t kMaxBf16BlockBytes = size_t{1} << 30;

// Validates a parsed config as a profile. The geometry must make a valid
// NVFP4 block layout (kernels::KvBlockLayout::Create).
absl::StatusOr<ModelProfile> ProfileFromConfig(const ConfigMap& config);
// Parses and validates profile text; `source_name` appears in errors.
absl::StatusOr<ModelProfile> ParseProfile(absl::string_view text, absl::string_view source_name);
// Loads a file; its `name` must equal the file name without ".conf".
absl::StatusOr<ModelProfile> LoadProfileFile(const std::string& path);

// Directories searched by name, in order (see above).
std::vector<std::string> ProfileSearchPath();
// Loads by name from `search_path` (first match wins), or by path. NotFound
// lists the directories searched.
absl::StatusOr<ModelProfile> LoadProfile(absl::string_view name_or_path);
absl::StatusOr<ModelProfile> LoadProfile(absl::string_view name_or_path,
                                         const std::vector<std::string>& search_path);
// Names of the *.conf files on the search path, sorted, without duplicates.
// Missing directories are skipped.
std::vector<std::string> ListProfiles();
std::vector<std::string> ListProfiles(const std::vector<std::string>& search_path);

// Payload bytes of one block (data and per-16/32-element scales, no block
// header) in format `f`. InvalidArgument when the geometry does not fit the
// format (e.g. head_dim not a multiple of 32 for MXFP4).
absl::StatusOr<size_t> BlockBytes(const ModelProfile& p, kernels::Format f);
// BlockBytes / block_tokens: what one token costs across all layers.
absl::StatusOr<size_t> BytesPerToken(const ModelProfile& p, kernels::Format f);

}  // namespace kvstash::service

#endif  // KVSTASH_SERVICE_PROFILE_H_
