// Host half of `kvstash bench tiers` (tier_bench.h).
#include <cstring>

#include "tiers/host_tier.h"
#include "tiers/tier_bench_internal.h"

namespace kvstash::tiers::bench_internal {

namespace {

absl::StatusOr<std::unique_ptr<HostTier>> NewTier(uint64_t size, size_t n, bool verify_reads) {
  HostTierOptions ho;
  ho.slot_sizes = {size};
  ho.capacity_bytes = n * SlotAllocator(uint64_t{1} << 40, {size}).ClassSize(size);
  ho.prefault = true;
  ho.verify_reads = verify_reads;
  return HostTier::Create(ho);
}

}  // namespace

absl::Status BenchHost(const TierBenchOptions& o, const std::vector<std::string>& blocks, size_t n,
                       std::vector<bench::Result>* out) {
  const uint64_t size = blocks[0].size();
  const uint64_t bytes = n * size;
  Buffer plain(bytes), dst(bytes);
  if (plain.data() == nullptr || dst.data() == nullptr) {
    return absl::ResourceExhaustedError("cannot allocate the benchmark buffers");
  }
  absl::Status status;
  auto memcpy_in = [&] {
    for (size_t i = 0; i < n; ++i) std::memcpy(plain.data() + i * size, blocks[i].data(), size);
  };
  auto memcpy_out = [&] {
    for (size_t i = 0; i < n; ++i)
      std::memcpy(dst.data() + i * size, plain.data() + i * size, size);
  };
  double put_gbs = 0, get_gbs = 0, verified_gbs = 0;
  for (const bool verify : {false, true}) {
    absl::StatusOr<std::unique_ptr<HostTier>> tier = NewTier(size, n, verify);
    if (!tier.ok()) return tier.status();
    auto put = [&] {
      for (size_t i = 0; i < n; ++i) status.Update((*tier)->Put(blocks[i]));
    };
    auto erase_all = [&] {
      for (size_t i = 0; i < n; ++i) status.Update((*tier)->Erase(BenchKey(i)));
    };
    auto get = [&] {
      for (size_t i = 0; i < n; ++i) {
        status.Update(
            (*tier)->ReadInto(BenchKey(i), absl::MakeSpan(dst.data() + i * size, size)).status());
      }
    };
    if (!verify) put_gbs = Measure(o.host_seconds, bytes, put, erase_all);
    put();
    (verify ? verified_gbs : get_gbs) = Measure(o.host_seconds, bytes, get);
    if (!status.ok()) return status;
  }
  const double memcpy_in_gbs = Measure(o.host_seconds, bytes, memcpy_in);
  const double memcpy_out_gbs = Measure(o.host_seconds, bytes, memcpy_out);
  const std::string s = SizeName(size - EncodedHeaderBytes(*ParseHeader(blocks[0])));
  out->push_back(MakeResult(absl::StrCat("host_put_", s), put_gbs, "memcpy", memcpy_in_gbs));
  out->push_back(MakeResult(absl::StrCat("host_get_", s), get_gbs, "memcpy", memcpy_out_gbs));
  bench::Result verified =
      MakeResult(absl::StrCat("host_get_verified_", s), verified_gbs, "memcpy", memcpy_out_gbs);
  verified.target = "(verify_reads)";
  out->push_back(std::move(verified));
  return absl::OkStatus();
}

}  // namespace kvstash::tiers::bench_internal
