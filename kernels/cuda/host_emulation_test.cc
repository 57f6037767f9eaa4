// The CUDA kernels' per-thread bodies, run on the host (host_emulation.h),
// against the CPU reference byte for byte: no GPU needed, so this runs in CI
// and catches packing, indexing, vector-path and AbsMax mistakes before a GPU
// run. tests/gpu/codec_gpu_test.cc runs the same cases on the device.
#include "kernels/cuda/host_emulation.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kernels/codec.h"
#include "kernels/cuda/codec_cases.h"
#include "kernels/testutil.h"

namespace kvstash::kernels::cuda {
namespace {

using cases::AsDType;
using cases::kDTypes;
using cases::SameBytes;

using internal::Elem;

Elem ToElem(DType t) { return static_cast<Elem>(static_cast<uint8_t>(t)); }

// A host buffer whose payload starts `shift` bytes past a 64-byte boundary,
// so shift 0 takes the vectorised bodies and odd shifts the scalar ones.
class Shifted {
 public:
  Shifted(size_t bytes, size_t shift) : storage_(bytes + shift + 128, 0xA5) {
    const auto base = reinterpret_cast<uintptr_t>(storage_.data());
    offset_ = (64 - base % 64) % 64 + shift;
    bytes_ = bytes;
  }
  Shifted(const std::vector<uint8_t>& v, size_t shift) : Shifted(v.size(), shift) {
    std::memcpy(get(), v.data(), v.size());
  }
  uint8_t* get() { return storage_.data() + offset_; }
  std::vector<uint8_t> bytes() const {
    return std::vector<uint8_t>(storage_.begin() + offset_, storage_.begin() + offset_ + bytes_);
  }

 private:
  std::vector<uint8_t> storage_;
  size_t offset_ = 0;
  size_t bytes_ = 0;
};

// Dequantises NVFP4 bytes (any bytes: every scale, NaN scales included) to
// every target.
void ExpectNvfp4Dequantize(const std::vector<uint8_t>& data, const std::vector<uint8_t>& scales,
                           float g, size_t shift) {
  const size_t n = data.size() * 2;
  Shifted d(data, shift), s(scales, shift);
  for (DType o : kDTypes) {
    std::vector<uint8_t> want(n * DTypeSize(o));
    Nvfp4Dequantize(data.data(), scales.data(), n, g, o, want.data(), Impl::kReference);
    Shifted out(want.size(), shift * DTypeSize(o));
    emulation::Nvfp4Dequantize(d.get(), s.get(), n, g, ToElem(o), out.get());
    EXPECT_TRUE(SameBytes(want, out.bytes(), DTypeSize(o), o == DType::kF32)) << DTypeName(o);
  }
  std::vector<uint8_t> want(n);
  Nvfp4DequantizeToFp8(data.data(), scales.data(), n, want.data(), Impl::kReference);
  Shifted out(n, shift);
  emulation::Nvfp4DequantizeToFp8(d.get(), s.get(), n, out.get());
  EXPECT_TRUE(SameBytes(want, out.bytes(), 1)) << "fp8";
}

void ExpectNvfp4(DType t, const std::vector<float>& x, float g, size_t shift) {
  SCOPED_TRACE(absl::StrCat(DTypeName(t), " n ", x.size(), " g ", g, " shift ", shift));
  const size_t n = x.size();
  const std::vector<uint8_t> in = AsDType(t, x);
  std::vector<uint8_t> data(n / 2), scales(n / 16);
  Nvfp4Quantize(t, in.data(), n, g, data.data(), scales.data(), Impl::kReference);
  Shifted src(in, shift * DTypeSize(t)), got_data(n / 2, shift), got_scales(n / 16, shift);
  emulation::Nvfp4Quantize(ToElem(t), src.get(), n, g, got_data.get(), got_scales.get());
  EXPECT_TRUE(SameBytes(data, got_data.bytes(), 1)) << "data";
  EXPECT_TRUE(SameBytes(scales, got_scales.bytes(), 1)) << "scales";
  ExpectNvfp4Dequantize(data, scales, g, shift);
}

void ExpectMxfp4(DType t, const std::vector<float>& x, MxScaleMode mode, size_t shift) {
  SCOPED_TRACE(absl::StrCat(DTypeName(t), " n ", x.size(), " mode ", int(mode), " shift ", shift));
  const size_t n = x.size();
  const std::vector<uint8_t> in = AsDType(t, x);
  std::vector<uint8_t> data(n / 2), scales(n / 32);
  Mxfp4Quantize(t, in.data(), n, mode, data.data(), scales.data(), Impl::kReference);
  Shifted src(in, shift * DTypeSize(t)), got_data(n / 2, shift), got_scales(n / 32, shift);
  emulation::Mxfp4Quantize(ToElem(t), src.get(), n, mode == MxScaleMode::kRceil, got_data.get(),
                           got_scales.get());
  EXPECT_TRUE(SameBytes(data, got_data.bytes(), 1)) << "data";
  EXPECT_TRUE(SameBytes(scales, got_scales.bytes(), 1)) << "scales";
  Shifted d(data, shift), s(scales, shift);
  for (DType o : kDTypes) {
    std::vector<uint8_t> want(n * DTypeSize(o));
    Mxfp4Dequantize(data.data(), scales.data(), n, o, want.data(), Impl::kReference);
    Shifted out(want.size(), shift * DTypeSize(o));
    emulation::Mxfp4Dequantize(d.get(), s.get(), n, ToElem(o), out.get());
    EXPECT_TRUE(SameBytes(want, out.bytes(), DTypeSize(o), o == DType::kF32)) << DTypeName(o);
  }
}

void ExpectFp8(DType t, const std::vector<float>& x, float sc, size_t shift) {
  SCOPED_TRACE(absl::StrCat(DTypeName(t), " n ", x.size(), " s ", sc, " shift ", shift));
  const size_t n = x.size();
  const std::vector<uint8_t> in = AsDType(t, x);
  std::vector<uint8_t> q(n);
  Fp8Quantize(t, in.data(), n, sc, q.data(), Impl::kReference);
  Shifted src(in, shift * DTypeSize(t)), got(n, shift);
  emulation::Fp8Quantize(ToElem(t), src.get(), n, sc, got.get());
  EXPECT_TRUE(SameBytes(q, got.bytes(), 1)) << "fp8";
  for (size_t i = 0; i < n; ++i) q[i] = static_cast<uint8_t>(q[i] ^ (i * 37));  // every byte
  Shifted qs(q, shift);
  for (DType o : kDTypes) {
    std::vector<uint8_t> want(n * DTypeSize(o));
    Fp8Dequantize(q.data(), n, sc, o, want.data(), Impl::kReference);
    Shifted out(want.size(), shift * DTypeSize(o));
    emulation::Fp8Dequantize(qs.get(), n, sc, ToElem(o), out.get());
    EXPECT_TRUE(SameBytes(want, out.bytes(), DTypeSize(o), o == DType::kF32)) << DTypeName(o);
  }
}

TEST(CudaHostEmulation, Nvfp4KvShapesBothPaths) {
  uint64_t seed = 1;
  for (size_t head_dim : {64, 128, 256}) {
    for (size_t tokens : {1, 3, 17, 33}) {
      const std::vector<float> x = cases::KvData(seed++, 2, tokens, head_dim);
      for (DType t : kDTypes) {
        for (size_t shift : {0, 1}) ExpectNvfp4(t, x, cases::GDec(x, kNvfp4Amax2688), shift);
      }
    }
  }
}

TEST(CudaHostEmulation, Nvfp4SpecialBlocksAndExtremeScales) {
  for (DType t : kDTypes) {
    for (float g : cases::ExtremeScales()) ExpectNvfp4(t, cases::SpecialBlocks(), g, 0);
  }
}

TEST(CudaHostEmulation, Nvfp4EveryHalfPattern) {
  for (DType t : {DType::kBf16, DType::kF16}) {
    for (bool shuffled : {false, true}) {
      ExpectNvfp4(t, cases::EveryHalfPattern(t, shuffled), 1.0f / 2688, 0);
    }
  }
  ExpectNvfp4(DType::kF32, cases::RandomBits(3, 1 << 16), 1.0f, 0);
}

TEST(CudaHostEmulation, Nvfp4DequantizeArbitraryBytes) {
  std::vector<uint8_t> data, scales;
  cases::EveryScaleAndCode(&data, &scales);
  for (float g : cases::ExtremeScales()) {
    for (size_t shift : {0, 1, 4}) {
      SCOPED_TRACE(absl::StrCat("g ", g, " shift ", shift));
      ExpectNvfp4Dequantize(data, scales, g, shift);
    }
  }
}

TEST(CudaHostEmulation, Mxfp4DequantizeArbitraryBytes) {
  std::vector<uint8_t> data, scales;
  cases::EveryScaleAndCode(&data, &scales);           // 256 E8M0 scales, NaN 0xFF included
  data.insert(data.end(), data.begin(), data.end());  // 32-element blocks: twice the codes
  const size_t n = data.size() * 2;
  for (size_t shift : {0, 1}) {
    Shifted d(data, shift), s(scales, shift);
    for (DType o : kDTypes) {
      std::vector<uint8_t> want(n * DTypeSize(o));
      Mxfp4Dequantize(data.data(), scales.data(), n, o, want.data(), Impl::kReference);
      Shifted out(want.size(), shift * DTypeSize(o));
      emulation::Mxfp4Dequantize(d.get(), s.get(), n, ToElem(o), out.get());
      EXPECT_TRUE(SameBytes(want, out.bytes(), DTypeSize(o), o == DType::kF32))
          << DTypeName(o) << " shift " << shift;
    }
  }
}

TEST(CudaHostEmulation, Mxfp4) {
  for (MxScaleMode mode : {MxScaleMode::kFloor, MxScaleMode::kRceil}) {
    for (DType t : kDTypes) {
      for (size_t shift : {0, 1}) ExpectMxfp4(t, cases::KvData(5, 2, 17, 128), mode, shift);
      ExpectMxfp4(t, cases::SpecialBlocks(), mode, 0);
    }
    ExpectMxfp4(DType::kBf16, cases::EveryHalfPattern(DType::kBf16, true), mode, 0);
  }
}

TEST(CudaHostEmulation, Fp8WithTails) {
  for (DType t : kDTypes) {
    for (size_t n : {1, 7, 8, 9, 1001}) {
      for (size_t shift : {0, 1}) ExpectFp8(t, testing::UniformData(n, n), 3.0f / 448, shift);
    }
    for (float s : cases::ExtremeScales()) ExpectFp8(t, cases::SpecialBlocks(), s, 0);
  }
}

TEST(CudaHostEmulation, AbsMaxIsTheReferenceFold) {
  std::vector<float> x = testing::NormalData(9, 4099);
  const auto check = [](const std::vector<float>& v) {
    for (DType t : kDTypes) {
      const std::vector<uint8_t> in = AsDType(t, v);
      for (size_t shift : {0, 1}) {
        Shifted src(in, shift * DTypeSize(t));
        const float want = AbsMax(t, in.data(), v.size(), Impl::kReference);
        const float got = emulation::AbsMax(ToElem(t), src.get(), v.size());
        uint32_t wb, gb;
        std::memcpy(&wb, &want, 4);
        std::memcpy(&gb, &got, 4);
        EXPECT_EQ(wb, gb) << DTypeName(t) << " n " << v.size() << " shift " << shift;
      }
    }
  };
  check(x);
  check(std::vector<float>(x.begin(), x.begin() + 5));
  check(cases::SpecialBlocks());
  check(cases::EveryHalfPattern(DType::kBf16, true));
  x[100] = -std::numeric_limits<float>::infinity();
  check(x);
  x[4000] = -std::numeric_limits<float>::quiet_NaN();
  check(x);
}

}  // namespace
}  // namespace kvstash::kernels::cuda
