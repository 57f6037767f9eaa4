#include "tiers/tier_bench.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tiers/tier_bench_internal.h"

namespace kvstash::tiers {
namespace {

using bench_internal::SizeName;

// bf16 blocks of `payload` bytes: 8 KV heads x 16 tokens x head_dim 64, K and
// V, as many layers as it takes.
absl::StatusOr<std::vector<std::string>> MakeBlocks(uint64_t payload, size_t count) {
  constexpr uint64_t kLayerBytes = 2 * 8 * 16 * 64 * 2;
  if (payload == 0 || payload % kLayerBytes != 0 || payload / kLayerBytes > kMaxLayers) {
    return absl::InvalidArgumentError(absl::StrCat("block size ", payload,
                                                   " must be a multiple of ", kLayerBytes,
                                                   " bytes, at most ", kMaxLayers, " of them"));
  }
  BlockHeader h;
  h.format = kernels::Format::kBf16;
  h.geometry = kernels::KvGeometry{static_cast<uint32_t>(payload / kLayerBytes), 8, 64, 16, 2};
  std::string data(payload, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ull;
  std::vector<std::string> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    for (size_t j = 0; j + 8 <= data.size(); j += 8) {  // xorshift: cheap, incompressible
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      std::memcpy(data.data() + j, &x, 8);
    }
    h.key = bench_internal::BenchKey(i);
    absl::StatusOr<std::string> block = SerializeBlock(h, data);
    if (!block.ok()) return block.status();
    out.push_back(*std::move(block));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<bench::Result>> RunTierBench(const TierBenchOptions& options,
                                                        std::ostream* progress) {
  std::string base = options.dir;
  if (base.empty()) base = getenv("TMPDIR") != nullptr ? getenv("TMPDIR") : "/tmp";
  std::string dir = base + "/kvstash-bench-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot create a scratch dir under ", base, ": ", strerror(errno)));
  }
  std::vector<bench::Result> results;
  absl::Status status;
  for (uint64_t size : options.block_bytes) {
    const size_t host_n = std::max<uint64_t>(1, options.host_bytes / size);
    const size_t disk_n = std::max<uint64_t>(1, options.disk_bytes / size);
    if (progress)
      *progress << "tiers: preparing " << std::max(host_n, disk_n) << " blocks of "
                << SizeName(size) << "\n";
    absl::StatusOr<std::vector<std::string>> blocks = MakeBlocks(size, std::max(host_n, disk_n));
    if (!blocks.ok()) {
      status = blocks.status();
      break;
    }
    if (progress) *progress << "tiers: host " << SizeName(size) << "\n";
    status = bench_internal::BenchHost(options, *blocks, host_n, &results);
    if (!status.ok()) break;
    if (progress) *progress << "tiers: disk " << SizeName(size) << "\n";
    status = bench_internal::BenchDisk(options, dir, *blocks, disk_n, &results);
    if (!status.ok()) break;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (!status.ok()) return status;
  return results;
}

}  // namespace kvstash::tiers
