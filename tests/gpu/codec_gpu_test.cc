// The CUDA codec (kernels/cuda/cuda_codec.h) against the CPU reference
// (kernels/reference.cc), byte for byte: NVFP4, MXFP4 and FP8 quantise and
// every dequantise target, over KV-shaped tensors, every bf16/fp16 bit
// pattern, random f32 bit patterns, special blocks (zero, NaN, Inf, huge,
// subnormal), extreme global scales, misaligned buffers (the scalar path)
// and large tensors (the grid-stride loop). Output buffers are poisoned and
// guarded so unwritten bytes and overruns fail too.
//
// The one difference allowed: an f32 NaN output may have any payload (GPUs
// produce the canonical 0x7FFFFFFF, x86 propagates the operand's NaN). bf16,
// fp16 and FP8 outputs canonicalise NaN in the shared element code, so they
// match exactly.
//
// Without a CUDA device the device tests skip with the reason; the argument
// validation tests need no device and always run.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kernels/codec.h"
#include "kernels/cuda/codec_cases.h"
#include "kernels/cuda/cuda_codec.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/testutil.h"

#define KV_ASSERT_OK(expr)                 \
  do {                                     \
    const absl::Status s_ = (expr);        \
    ASSERT_TRUE(s_.ok()) << s_.ToString(); \
  } while (0)

namespace kvstash::kernels::cuda {
namespace {

using cases::AsDType;
using cases::GDec;
using cases::kDTypes;
using cases::KvData;

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr uint8_t kPoison = 0xA5;
constexpr size_t kGuard = 64;  // poisoned bytes before and after every output

// Byte equality of a fetched device payload (see cases::SameBytes).
::testing::AssertionResult SameBytes(const std::vector<uint8_t>& want,
                                     const absl::StatusOr<std::vector<uint8_t>>& got, size_t width,
                                     bool f32_nan_any = false) {
  if (!got.ok()) return ::testing::AssertionFailure() << got.status();
  return cases::SameBytes(want, *got, width, f32_nan_any);
}

// ------------------------------------------------------------- helpers ----
// Device memory laid out [guard + shift][payload][guard], all poisoned
// except a payload copied from the host. `shift` bytes misalign the payload.
class DevArray {
 public:
  static absl::StatusOr<DevArray> Make(size_t bytes, size_t shift, const void* host = nullptr) {
    auto buf = DeviceBuffer::Create(kGuard + shift + bytes + kGuard);
    if (!buf.ok()) return buf.status();
    DevArray a(std::move(*buf), kGuard + shift, bytes);
    if (absl::Status s = a.buf_->Fill(kPoison); !s.ok()) return s;
    if (host != nullptr) {
      if (absl::Status s = a.buf_->CopyFromHost(host, bytes, a.offset_); !s.ok()) return s;
    }
    return a;
  }

  template <class T = void>
  T* get() const {
    return reinterpret_cast<T*>(buf_->bytes() + offset_);
  }

  // The payload; an error if a guard byte changed.
  absl::StatusOr<std::vector<uint8_t>> Fetch() const {
    std::vector<uint8_t> all(buf_->size());
    if (absl::Status s = buf_->CopyToHost(all.data(), all.size()); !s.ok()) return s;
    for (size_t i = 0; i < all.size(); ++i) {
      if ((i < offset_ || i >= offset_ + bytes_) && all[i] != kPoison) {
        return absl::InternalError(absl::StrCat("kernel wrote guard byte ", i, " (payload at ",
                                                offset_, ", ", bytes_, " bytes)"));
      }
    }
    return std::vector<uint8_t>(all.begin() + offset_, all.begin() + offset_ + bytes_);
  }

 private:
  DevArray(std::unique_ptr<DeviceBuffer> buf, size_t offset, size_t bytes)
      : buf_(std::move(buf)), offset_(offset), bytes_(bytes) {}

  std::unique_ptr<DeviceBuffer> buf_;
  size_t offset_;
  size_t bytes_;
};

std::string Describe(DType t, size_t n, float g, size_t shift) {
  return absl::StrFormat("dtype %s n %zu g %a shift %zu", std::string(DTypeName(t)), n, g, shift);
}

// -------------------------------------------------------------- fixture ---
class GpuCodec : public ::testing::Test {
 protected:
  void SetUp() override {
    const absl::Status s = DeviceAvailable();
    if (!s.ok()) GTEST_SKIP() << std::string(s.message());
  }
};

// Dequantises reference NVFP4 bytes on the GPU to every target.
void ExpectNvfp4Dequantize(const std::vector<uint8_t>& data, const std::vector<uint8_t>& scales,
                           float g, size_t shift) {
  const size_t n = data.size() * 2;
  SCOPED_TRACE(absl::StrCat("dequantize n ", n, " shift ", shift));
  auto d_data = DevArray::Make(data.size(), shift, data.data());
  auto d_scales = DevArray::Make(scales.size(), shift, scales.data());
  ASSERT_TRUE(d_data.ok() && d_scales.ok()) << d_data.status() << d_scales.status();
  for (DType t : kDTypes) {
    std::vector<uint8_t> want(n * DTypeSize(t));
    kernels::Nvfp4Dequantize(data.data(), scales.data(), n, g, t, want.data(), Impl::kReference);
    auto out = DevArray::Make(want.size(), shift * DTypeSize(t));
    ASSERT_TRUE(out.ok()) << out.status();
    KV_ASSERT_OK(Nvfp4Dequantize(d_data->get<uint8_t>(), d_scales->get<uint8_t>(), n, g, t,
                                 out->get(), nullptr));
    KV_ASSERT_OK(StreamSynchronize(nullptr));
    EXPECT_TRUE(SameBytes(want, out->Fetch(), DTypeSize(t), t == DType::kF32)) << DTypeName(t);
  }
  std::vector<uint8_t> want(n);
  kernels::Nvfp4DequantizeToFp8(data.data(), scales.data(), n, want.data(), Impl::kReference);
  auto out = DevArray::Make(n, shift);
  ASSERT_TRUE(out.ok()) << out.status();
  KV_ASSERT_OK(Nvfp4DequantizeToFp8(d_data->get<uint8_t>(), d_scales->get<uint8_t>(), n,
                                    out->get<uint8_t>(), nullptr));
  KV_ASSERT_OK(StreamSynchronize(nullptr));
  EXPECT_TRUE(SameBytes(want, out->Fetch(), 1)) << "fp8";
}

// Quantises x (as dtype t) on both sides and compares, then dequantises.
void ExpectNvfp4(DType t, const std::vector<float>& x, float g, size_t shift = 0,
                 bool dequantize = true) {
  SCOPED_TRACE(Describe(t, x.size(), g, shift));
  const size_t n = x.size();
  const std::vector<uint8_t> in = AsDType(t, x);
  std::vector<uint8_t> data(n / 2), scales(n / 16);
  kernels::Nvfp4Quantize(t, in.data(), n, g, data.data(), scales.data(), Impl::kReference);
  auto d_in = DevArray::Make(in.size(), shift * DTypeSize(t), in.data());
  auto d_data = DevArray::Make(data.size(), shift);
  auto d_scales = DevArray::Make(scales.size(), shift);
  ASSERT_TRUE(d_in.ok() && d_data.ok() && d_scales.ok()) << d_in.status() << d_data.status();
  KV_ASSERT_OK(Nvfp4Quantize(t, d_in->get(), n, g, d_data->get<uint8_t>(), d_scales->get<uint8_t>(),
                             nullptr));
  KV_ASSERT_OK(StreamSynchronize(nullptr));
  EXPECT_TRUE(SameBytes(data, d_data->Fetch(), 1)) << "nvfp4 data";
  EXPECT_TRUE(SameBytes(scales, d_scales->Fetch(), 1)) << "nvfp4 scales";
  if (dequantize) ExpectNvfp4Dequantize(data, scales, g, shift);
}

void ExpectMxfp4(DType t, const std::vector<float>& x, MxScaleMode mode, size_t shift = 0) {
  SCOPED_TRACE(Describe(t, x.size(), 0, shift) + (mode == MxScaleMode::kRceil ? " rceil" : ""));
  const size_t n = x.size();
  const std::vector<uint8_t> in = AsDType(t, x);
  std::vector<uint8_t> data(n / 2), scales(n / 32);
  kernels::Mxfp4Quantize(t, in.data(), n, mode, data.data(), scales.data(), Impl::kReference);
  auto d_in = DevArray::Make(in.size(), shift * DTypeSize(t), in.data());
  auto d_data = DevArray::Make(data.size(), shift);
  auto d_scales = DevArray::Make(scales.size(), shift);
  ASSERT_TRUE(d_in.ok() && d_data.ok() && d_scales.ok()) << d_in.status() << d_data.status();
  KV_ASSERT_OK(Mxfp4Quantize(t, d_in->get(), n, mode, d_data->get<uint8_t>(),
                             d_scales->get<uint8_t>(), nullptr));
  KV_ASSERT_OK(StreamSynchronize(nullptr));
  EXPECT_TRUE(SameBytes(data, d_data->Fetch(), 1)) << "mxfp4 data";
  EXPECT_TRUE(SameBytes(scales, d_scales->Fetch(), 1)) << "mxfp4 scales";
  for (DType o : kDTypes) {
    std::vector<uint8_t> want(n * DTypeSize(o));
    kernels::Mxfp4Dequantize(data.data(), scales.data(), n, o, want.data(), Impl::kReference);
    auto out = DevArray::Make(want.size(), shift * DTypeSize(o));
    ASSERT_TRUE(out.ok()) << out.status();
    KV_ASSERT_OK(Mxfp4Dequantize(d_data->get<uint8_t>(), d_scales->get<uint8_t>(), n, o, out->get(),
                                 nullptr));
    KV_ASSERT_OK(StreamSynchronize(nullptr));
    EXPECT_TRUE(SameBytes(want, out->Fetch(), DTypeSize(o), o == DType::kF32)) << DTypeName(o);
  }
}

void ExpectFp8(DType t, const std::vector<float>& x, float s, size_t shift = 0) {
  SCOPED_TRACE(Describe(t, x.size(), s, shift));
  const size_t n = x.size();
  const std::vector<uint8_t> in = AsDType(t, x);
  std::vector<uint8_t> q(n);
  kernels::Fp8Quantize(t, in.data(), n, s, q.data(), Impl::kReference);
  auto d_in = DevArray::Make(in.size(), shift * DTypeSize(t), in.data());
  auto d_q = DevArray::Make(n, shift);
  ASSERT_TRUE(d_in.ok() && d_q.ok()) << d_in.status() << d_q.status();
  KV_ASSERT_OK(Fp8Quantize(t, d_in->get(), n, s, d_q->get<uint8_t>(), nullptr));
  KV_ASSERT_OK(StreamSynchronize(nullptr));
  EXPECT_TRUE(SameBytes(q, d_q->Fetch(), 1)) << "fp8";
  // Dequantise every byte value, not only those the quantiser produced.
  for (size_t i = 0; i < n; ++i) q[i] = static_cast<uint8_t>(q[i] ^ (i * 37));
  auto d_src = DevArray::Make(n, shift, q.data());
  ASSERT_TRUE(d_src.ok()) << d_src.status();
  for (DType o : kDTypes) {
    std::vector<uint8_t> want(n * DTypeSize(o));
    kernels::Fp8Dequantize(q.data(), n, s, o, want.data(), Impl::kReference);
    auto out = DevArray::Make(want.size(), shift * DTypeSize(o));
    ASSERT_TRUE(out.ok()) << out.status();
    KV_ASSERT_OK(Fp8Dequantize(d_src->get<uint8_t>(), n, s, o, out->get(), nullptr));
    KV_ASSERT_OK(StreamSynchronize(nullptr));
    EXPECT_TRUE(SameBytes(want, out->Fetch(), DTypeSize(o), o == DType::kF32)) << DTypeName(o);
  }
}

// ------------------------------------------------ validation (no GPU) ---
const void* const kFakeSrc = reinterpret_cast<const void*>(uintptr_t{0x1000});
uint8_t* const kFakeOut = reinterpret_cast<uint8_t*>(uintptr_t{0x2000});

::testing::AssertionResult IsInvalid(const absl::Status& s, const std::string& mentions) {
  if (s.code() == absl::StatusCode::kInvalidArgument &&
      std::string(s.message()).find(mentions) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "want InvalidArgument naming '" << mentions << "', got " << s;
}

TEST(CudaCodecValidation, Nvfp4) {
  const float g = 1.0f;
  EXPECT_TRUE(IsInvalid(Nvfp4Quantize(DType::kBf16, kFakeSrc, 17, g, kFakeOut, kFakeOut, nullptr),
                        "n = 17 is not a multiple of the nvfp4 block size 16"));
  EXPECT_TRUE(IsInvalid(
      Nvfp4Quantize(DType::kBf16, kFakeSrc, 16, 0.0f, kFakeOut, kFakeOut, nullptr), "g_dec"));
  for (float bad : {-1.0f, kNan, kInf}) {
    EXPECT_TRUE(IsInvalid(
        Nvfp4Dequantize(kFakeOut, kFakeOut, 16, bad, DType::kF32, kFakeOut, nullptr), "g_dec"));
  }
  EXPECT_TRUE(IsInvalid(Nvfp4Quantize(DType::kBf16, nullptr, 16, g, kFakeOut, kFakeOut, nullptr),
                        "src is null"));
  EXPECT_TRUE(IsInvalid(Nvfp4Quantize(DType::kBf16, kFakeSrc, 16, g, nullptr, kFakeOut, nullptr),
                        "data is null"));
  EXPECT_TRUE(IsInvalid(Nvfp4Quantize(DType::kBf16, kFakeSrc, 16, g, kFakeOut, nullptr, nullptr),
                        "scales is null"));
  EXPECT_TRUE(IsInvalid(Nvfp4Dequantize(kFakeOut, kFakeOut, 16, g, DType::kF32, nullptr, nullptr),
                        "dst is null"));
  EXPECT_TRUE(
      IsInvalid(Nvfp4DequantizeToFp8(kFakeOut, kFakeOut, 48, nullptr, nullptr), "dst is null"));
  EXPECT_TRUE(IsInvalid(Nvfp4DequantizeToFp8(kFakeOut, kFakeOut, 8, kFakeOut, nullptr), "n = 8"));
  EXPECT_TRUE(IsInvalid(Nvfp4Quantize(DType::kF32, static_cast<const uint8_t*>(kFakeSrc) + 2, 16, g,
                                      kFakeOut, kFakeOut, nullptr),
                        "src is not aligned"));
  EXPECT_TRUE(
      IsInvalid(Nvfp4Quantize(static_cast<DType>(9), kFakeSrc, 16, g, kFakeOut, kFakeOut, nullptr),
                "in: unknown dtype 9"));
  EXPECT_TRUE(IsInvalid(
      Nvfp4Dequantize(kFakeOut, kFakeOut, 16, g, static_cast<DType>(7), kFakeOut, nullptr),
      "out: unknown dtype 7"));
}

TEST(CudaCodecValidation, Mxfp4AndFp8) {
  EXPECT_TRUE(IsInvalid(
      Mxfp4Quantize(DType::kF16, kFakeSrc, 16, MxScaleMode::kFloor, kFakeOut, kFakeOut, nullptr),
      "mxfp4 block size 32"));
  EXPECT_TRUE(IsInvalid(Mxfp4Quantize(DType::kF16, kFakeSrc, 32, static_cast<MxScaleMode>(5),
                                      kFakeOut, kFakeOut, nullptr),
                        "mode"));
  EXPECT_TRUE(IsInvalid(Mxfp4Dequantize(kFakeOut, nullptr, 32, DType::kBf16, kFakeOut, nullptr),
                        "scales is null"));
  EXPECT_TRUE(IsInvalid(Fp8Quantize(DType::kF32, kFakeSrc, 5, 0.0f, kFakeOut, nullptr), "s = 0"));
  EXPECT_TRUE(
      IsInvalid(Fp8Dequantize(kFakeOut, 5, kNan, DType::kF32, kFakeOut, nullptr), "s = nan"));
  EXPECT_TRUE(IsInvalid(Fp8Dequantize(kFakeOut, 5, 1.0f, DType::kBf16, kFakeOut + 1, nullptr),
                        "dst is not aligned"));
  EXPECT_TRUE(IsInvalid(AbsMax(DType::kF32, nullptr, 5, nullptr).status(), "src is null"));
}

TEST(CudaCodecValidation, EmptyTensorsAreNoOps) {
  // n == 0 never touches the device, so this passes with or without one.
  EXPECT_TRUE(Nvfp4Quantize(DType::kBf16, nullptr, 0, 1.0f, nullptr, nullptr, nullptr).ok());
  EXPECT_TRUE(Nvfp4Dequantize(nullptr, nullptr, 0, 1.0f, DType::kF16, nullptr, nullptr).ok());
  EXPECT_TRUE(Nvfp4DequantizeToFp8(nullptr, nullptr, 0, nullptr, nullptr).ok());
  EXPECT_TRUE(
      Mxfp4Quantize(DType::kF32, nullptr, 0, MxScaleMode::kRceil, nullptr, nullptr, nullptr).ok());
  EXPECT_TRUE(Fp8Quantize(DType::kF32, nullptr, 0, 1.0f, nullptr, nullptr).ok());
  const absl::StatusOr<float> amax = AbsMax(DType::kBf16, nullptr, 0, nullptr);
  ASSERT_TRUE(amax.ok()) << amax.status();
  EXPECT_EQ(*amax, 0.0f);
}

TEST(CudaCodecValidation, NoDeviceIsAStatusNotACrash) {
  const absl::Status available = DeviceAvailable();
  if (available.ok()) GTEST_SKIP() << "a CUDA device is present; this checks the no-device path";
  EXPECT_EQ(available.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(std::string(available.message()).rfind("no CUDA device: ", 0), 0u) << available;
  const absl::Status s =
      Nvfp4Quantize(DType::kBf16, kFakeSrc, 16, 1.0f, kFakeOut, kFakeOut, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(AbsMax(DType::kF32, kFakeSrc, 8, nullptr).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_FALSE(DeviceBuffer::Create(1024).ok());
  EXPECT_FALSE(StreamSynchronize(nullptr).ok());
}

// ---------------------------------------------------------------- NVFP4 ---
TEST_F(GpuCodec, ReportsDeviceAndE2m1Path) {
  const absl::StatusOr<std::string> desc = DeviceDescription();
  ASSERT_TRUE(desc.ok()) << desc.status();
  const absl::StatusOr<bool> hw = UsesHardwareE2m1();
  ASSERT_TRUE(hw.ok()) << hw.status();
  std::printf("device: %s; e2m1 encode: %s\n", desc->c_str(), *hw ? "hardware" : "software");
  RecordProperty("device", *desc);
  RecordProperty("e2m1", *hw ? "hardware" : "software");
  if (desc->find("compute capability 9.") != std::string::npos) {
    EXPECT_FALSE(*hw) << "sm_90 has no E2M1 conversion instruction";
  }
}

TEST_F(GpuCodec, Nvfp4KvShapes) {
  uint64_t seed = 1;
  for (size_t head_dim : {64, 128, 256}) {
    for (size_t tokens : {1, 3, 17, 33, 129}) {
      for (size_t heads : {1, 2, 8}) {
        const std::vector<float> x = KvData(seed++, heads, tokens, head_dim);
        SCOPED_TRACE(absl::StrCat(heads, "x", tokens, "x", head_dim));
        for (DType t : kDTypes) {
          ExpectNvfp4(t, x, GDec(x, kNvfp4Amax2688));
          ExpectNvfp4(t, x, GDec(x, kNvfp4Amax448), 0, /*dequantize=*/false);
        }
      }
    }
  }
}

TEST_F(GpuCodec, Nvfp4SpecialBlocksAndExtremeScales) {
  const std::vector<float> x = cases::SpecialBlocks();
  for (DType t : kDTypes) {
    for (float g : cases::ExtremeScales()) ExpectNvfp4(t, x, g);
  }
}

TEST_F(GpuCodec, Nvfp4EveryHalfPrecisionPattern) {
  // All 65536 bf16 and fp16 bit patterns (NaNs, Infs, subnormals), in order
  // and shuffled so that blocks mix magnitudes.
  for (DType t : {DType::kBf16, DType::kF16}) {
    for (bool shuffled : {false, true}) {
      const std::vector<float> x = cases::EveryHalfPattern(t, shuffled);
      for (float g : {1.0f, 1.0f / 2688, 1e-6f, 1e6f}) ExpectNvfp4(t, x, g);
    }
  }
}

TEST_F(GpuCodec, Nvfp4RandomF32BitPatterns) {
  const std::vector<float> x = cases::RandomBits(11, 1 << 20);
  for (float g : {1.0f, 1e-20f, 1e20f}) ExpectNvfp4(DType::kF32, x, g);
}

TEST_F(GpuCodec, Nvfp4MisalignedBuffersUseTheScalarPath) {
  const std::vector<float> x = KvData(3, 2, 33, 128);
  for (DType t : kDTypes) {
    for (size_t shift : {1, 2, 3, 8}) ExpectNvfp4(t, x, GDec(x, kNvfp4Amax2688), shift);
  }
}

TEST_F(GpuCodec, Nvfp4LargeTensorsUseTheGridStrideLoop) {
  const std::vector<float> x = testing::NormalData(5, 16 * 1'000'003);
  const float g = GDec(x, kNvfp4Amax2688);
  ExpectNvfp4(DType::kBf16, x, g);
  ExpectNvfp4(DType::kF32, x, g, 0, /*dequantize=*/false);
  ExpectNvfp4(DType::kF16, x, g, 1, /*dequantize=*/false);
}

TEST_F(GpuCodec, Nvfp4DequantizeArbitraryBytes) {
  // Every scale byte (NaN 0x7F/0xFF, negative and zero scales) with every code.
  std::vector<uint8_t> data, scales;
  cases::EveryScaleAndCode(&data, &scales);
  for (float g : cases::ExtremeScales()) {
    for (size_t shift : {0, 1, 4}) ExpectNvfp4Dequantize(data, scales, g, shift);
  }
}

TEST_F(GpuCodec, Nvfp4OnANonDefaultStream) {
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  const std::unique_ptr<CUstream_st, cudaError_t (*)(cudaStream_t)> owner(stream,
                                                                          &cudaStreamDestroy);
  const std::vector<float> x = KvData(17, 4, 129, 128);
  const std::vector<uint8_t> in = AsDType(DType::kBf16, x);
  const float g = GDec(x, kNvfp4Amax2688);
  std::vector<uint8_t> data(x.size() / 2), scales(x.size() / 16);
  kernels::Nvfp4Quantize(DType::kBf16, in.data(), x.size(), g, data.data(), scales.data(),
                         Impl::kReference);
  auto d_in = DevArray::Make(in.size(), 0, in.data());
  auto d_data = DevArray::Make(data.size(), 0);
  auto d_scales = DevArray::Make(scales.size(), 0);
  ASSERT_TRUE(d_in.ok() && d_data.ok() && d_scales.ok());
  KV_ASSERT_OK(Nvfp4Quantize(DType::kBf16, d_in->get(), x.size(), g, d_data->get<uint8_t>(),
                             d_scales->get<uint8_t>(), stream));
  KV_ASSERT_OK(StreamSynchronize(stream));
  EXPECT_TRUE(SameBytes(data, d_data->Fetch(), 1));
  EXPECT_TRUE(SameBytes(scales, d_scales->Fetch(), 1));
}

// ---------------------------------------------------------- MXFP4, FP8 ---
TEST_F(GpuCodec, Mxfp4MatchesReference) {
  const std::vector<float> every_bf16 = cases::EveryHalfPattern(DType::kBf16, true);
  for (MxScaleMode mode : {MxScaleMode::kFloor, MxScaleMode::kRceil}) {
    for (DType t : kDTypes) {
      ExpectMxfp4(t, KvData(21, 8, 33, 128), mode);
      ExpectMxfp4(t, cases::SpecialBlocks(), mode);
      ExpectMxfp4(t, KvData(22, 1, 17, 64), mode, /*shift=*/1);
    }
    ExpectMxfp4(DType::kBf16, every_bf16, mode);
  }
  ExpectMxfp4(DType::kBf16, testing::NormalData(23, 32 * 500'009), MxScaleMode::kFloor);
}

TEST_F(GpuCodec, Fp8MatchesReference) {
  for (DType t : kDTypes) {
    for (size_t n : {1, 7, 8, 9, 4099}) {
      const std::vector<float> x = testing::UniformData(n, n);
      ExpectFp8(t, x, GDec(x, 448.0f));
      ExpectFp8(t, x, 3.0f, /*shift=*/1);
    }
    for (float s : cases::ExtremeScales()) ExpectFp8(t, cases::SpecialBlocks(), s);
  }
  const std::vector<float> big = testing::NormalData(29, 8 * 1'000'003 + 5);
  ExpectFp8(DType::kBf16, big, GDec(big, 448.0f));
}

TEST_F(GpuCodec, AbsMaxMatchesReference) {
  std::vector<float> x = testing::NormalData(31, 1'000'003);
  const auto check = [](DType t, const std::vector<float>& v, size_t shift) {
    const std::vector<uint8_t> in = AsDType(t, v);
    const float want = kernels::AbsMax(t, in.data(), v.size(), Impl::kReference);
    auto d_in = DevArray::Make(in.size(), shift * DTypeSize(t), in.data());
    ASSERT_TRUE(d_in.ok()) << d_in.status();
    const absl::StatusOr<float> got = AbsMax(t, d_in->get(), v.size(), nullptr);
    ASSERT_TRUE(got.ok()) << got.status();
    uint32_t wb, gb;
    std::memcpy(&wb, &want, 4);
    std::memcpy(&gb, &*got, 4);
    EXPECT_EQ(wb, gb) << Describe(t, v.size(), 0, shift) << " want " << want << " got " << *got;
  };
  for (DType t : kDTypes) {
    for (size_t shift : {0, 1}) {
      check(t, x, shift);
      check(t, std::vector<float>(x.begin(), x.begin() + 13), shift);
    }
  }
  x[777'777] = -kInf;
  for (DType t : kDTypes) check(t, x, 0);
  x[12] = -kNan;
  for (DType t : kDTypes) check(t, x, 0);
}

}  // namespace
}  // namespace kvstash::kernels::cuda
