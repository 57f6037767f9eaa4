// kvstash_gpu_codec_bench: throughput of the CUDA codec on large buffers,
// against a cudaMemcpy device-to-device copy of the same bytes measured in
// the same run (bench/report.h shape).
//
// Two rows per kernel: "<op>" counts the bytes of the unquantised side (what
// the user has: the bf16/f32 input of a quantise, the bf16/fp8 output of a
// dequantise) against the copy's GB/s of the same kind (bytes copied), with
// target >= 0.8; "<op>/rw" counts every byte read and written against the
// copy's read+write GB/s (informational: how close to the memory roofline).
//
// Usage: kvstash_gpu_codec_bench [--json] [--mib=256] [--iters=20]
// Without a CUDA device it prints "no CUDA device: ..., skipping" and exits 0.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "bench/report.h"
#include "kernels/codec.h"
#include "kernels/cuda/cuda_codec.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/testutil.h"

namespace kvstash::kernels::cuda {
namespace {

struct Options {
  bool json = false;
  size_t mib = 256;  // size of the bf16 input
  int iters = 20;
};

absl::StatusOr<Options> ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      o.json = true;
    } else if (arg.rfind("--mib=", 0) == 0) {
      o.mib = std::strtoull(arg.c_str() + 6, nullptr, 10);
    } else if (arg.rfind("--iters=", 0) == 0) {
      o.iters = std::atoi(arg.c_str() + 8);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag ", arg, " (usage: [--json] [--mib=N] [--iters=N])"));
    }
  }
  if (o.mib == 0 || o.iters <= 0)
    return absl::InvalidArgumentError("--mib and --iters must be > 0");
  return o;
}

absl::Status Cuda(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": ", cudaGetErrorString(err)));
}

// Mean milliseconds per call of `op`, best of 3 runs of `iters` calls each
// (after 2 warm-up calls), timed with CUDA events on the default stream.
absl::StatusOr<double> TimeMs(const std::function<absl::Status()>& op, int iters) {
  cudaEvent_t start = nullptr, stop = nullptr;
  if (absl::Status s = Cuda(cudaEventCreate(&start), "cudaEventCreate"); !s.ok()) return s;
  const std::unique_ptr<CUevent_st, cudaError_t (*)(cudaEvent_t)> own_start(start,
                                                                            &cudaEventDestroy);
  if (absl::Status s = Cuda(cudaEventCreate(&stop), "cudaEventCreate"); !s.ok()) return s;
  const std::unique_ptr<CUevent_st, cudaError_t (*)(cudaEvent_t)> own_stop(stop, &cudaEventDestroy);
  for (int i = 0; i < 2; ++i) {
    if (absl::Status s = op(); !s.ok()) return s;
  }
  double best = 0;
  for (int run = 0; run < 3; ++run) {
    if (absl::Status s = Cuda(cudaEventRecord(start), "cudaEventRecord"); !s.ok()) return s;
    for (int i = 0; i < iters; ++i) {
      if (absl::Status s = op(); !s.ok()) return s;
    }
    if (absl::Status s = Cuda(cudaEventRecord(stop), "cudaEventRecord"); !s.ok()) return s;
    if (absl::Status s = Cuda(cudaEventSynchronize(stop), "kernel run"); !s.ok()) return s;
    float ms = 0;
    if (absl::Status s = Cuda(cudaEventElapsedTime(&ms, start, stop), "elapsed"); !s.ok()) {
      return s;
    }
    const double per_call = ms / iters;
    if (run == 0 || per_call < best) best = per_call;
  }
  return best;
}

double GBps(double bytes, double ms) { return bytes / (ms * 1e-3) / 1e9; }

struct Buffers {
  std::unique_ptr<DeviceBuffer> bf16_in, f32_in, data, scales, bf16_out, fp8_out, copy_dst;
};

// Fills the inputs with N(0,1) data (a 4 Mi-element pattern, repeated).
absl::Status FillInputs(const Buffers& b, size_t n) {
  const size_t pattern_n = std::min<size_t>(n, size_t{1} << 22);
  const std::vector<float> pattern = testing::NormalData(1, pattern_n);
  std::vector<uint16_t> bf16(pattern_n);
  kernels::ConvertDType(DType::kF32, pattern.data(), pattern_n, DType::kBf16, bf16.data());
  for (size_t at = 0; at < n; at += pattern_n) {
    const size_t count = std::min(pattern_n, n - at);
    if (absl::Status s = b.f32_in->CopyFromHost(pattern.data(), 4 * count, 4 * at); !s.ok()) {
      return s;
    }
    if (absl::Status s = b.bf16_in->CopyFromHost(bf16.data(), 2 * count, 2 * at); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Buffers> Allocate(size_t n) {
  Buffers b;
  const std::pair<std::unique_ptr<DeviceBuffer>*, size_t> plan[] = {
      {&b.bf16_in, 2 * n},  {&b.f32_in, 4 * n}, {&b.data, n / 2},    {&b.scales, n / 16},
      {&b.bf16_out, 2 * n}, {&b.fp8_out, n},    {&b.copy_dst, 2 * n}};
  for (const auto& [slot, bytes] : plan) {
    absl::StatusOr<std::unique_ptr<DeviceBuffer>> buf = DeviceBuffer::Create(bytes);
    if (!buf.ok()) return buf.status();
    *slot = std::move(*buf);
  }
  return b;
}

struct Op {
  std::string name;
  double unquantised_bytes;  // the bf16/f32/fp8 side
  double rw_bytes;           // everything read and written
  std::function<absl::Status()> run;
};

std::vector<Op> Ops(const Buffers& b, size_t n, float g_dec) {
  const double nd = static_cast<double>(n), packed = nd / 2 + nd / 16;
  uint8_t* data = b.data->bytes();
  uint8_t* scales = b.scales->bytes();
  const std::string size = absl::StrCat("_", 2 * n >> 20, "MiB/cuda");
  return {
      {"nvfp4_quantize_bf16" + size, 2 * nd, 2 * nd + packed,
       [=, &b] {
         return Nvfp4Quantize(DType::kBf16, b.bf16_in->get(), n, g_dec, data, scales, nullptr);
       }},
      {"nvfp4_quantize_f32" + size, 4 * nd, 4 * nd + packed,
       [=, &b] {
         return Nvfp4Quantize(DType::kF32, b.f32_in->get(), n, g_dec, data, scales, nullptr);
       }},
      {"nvfp4_dequantize_bf16" + size, 2 * nd, 2 * nd + packed,
       [=, &b] {
         return Nvfp4Dequantize(data, scales, n, g_dec, DType::kBf16, b.bf16_out->get(), nullptr);
       }},
      {"nvfp4_dequantize_fp8" + size, nd, nd + packed,
       [=, &b] { return Nvfp4DequantizeToFp8(data, scales, n, b.fp8_out->bytes(), nullptr); }},
      {"mxfp4_quantize_bf16" + size, 2 * nd, 2 * nd + nd / 2 + nd / 32,
       [=, &b] {
         return Mxfp4Quantize(DType::kBf16, b.bf16_in->get(), n, MxScaleMode::kFloor, data, scales,
                              nullptr);
       }},
      {"fp8_quantize_bf16" + size, 2 * nd, 3 * nd,
       [=, &b] {
         return Fp8Quantize(DType::kBf16, b.bf16_in->get(), n, g_dec * 6, b.fp8_out->bytes(),
                            nullptr);
       }},
      {"absmax_bf16" + size, 2 * nd, 2 * nd,
       [=, &b] { return AbsMax(DType::kBf16, b.bf16_in->get(), n, nullptr).status(); }},
  };
}

absl::StatusOr<std::vector<bench::Result>> Run(const Options& o) {
  const size_t n = (o.mib << 20) / 2;  // bf16 elements; a multiple of 32
  absl::StatusOr<Buffers> b = Allocate(n);
  if (!b.ok()) return b.status();
  if (absl::Status s = FillInputs(*b, n); !s.ok()) return s;
  const float g_dec = 4.5f / kNvfp4Amax2688;  // N(0,1): amax of a few million draws ~ 4.5
  const double copy_bytes = 2.0 * n;
  absl::StatusOr<double> copy_ms = TimeMs(
      [&] {
        return Cuda(cudaMemcpyAsync(b->copy_dst->get(), b->bf16_in->get(), copy_bytes,
                                    cudaMemcpyDeviceToDevice),
                    "cudaMemcpyAsync");
      },
      o.iters);
  if (!copy_ms.ok()) return copy_ms.status();
  const double copy = GBps(copy_bytes, *copy_ms), copy_rw = 2 * copy;
  const std::string size = absl::StrCat("_", o.mib, "MiB");
  std::vector<bench::Result> results = {
      {"cudaMemcpy_d2d" + size, "GB/s", copy, "", 0, ""},
      {"cudaMemcpy_d2d" + size + "/rw", "GB/s", copy_rw, "", 0, ""}};
  // AbsMax is synchronous (it returns the value); it is timed the same way.
  for (const Op& op : Ops(*b, n, g_dec)) {
    absl::StatusOr<double> ms = TimeMs(op.run, o.iters);
    if (!ms.ok())
      return absl::Status(ms.status().code(), op.name + ": " + std::string(ms.status().message()));
    results.push_back(
        {op.name, "GB/s", GBps(op.unquantised_bytes, *ms), "cudaMemcpy_d2d", copy, ">= 0.8"});
    results.push_back(
        {op.name + "/rw", "GB/s", GBps(op.rw_bytes, *ms), "cudaMemcpy_d2d/rw", copy_rw, ""});
  }
  return results;
}

int Main(int argc, char** argv) {
  const absl::StatusOr<Options> o = ParseOptions(argc, argv);
  if (!o.ok()) {
    std::cerr << o.status() << "\n";
    return 2;
  }
  if (const absl::Status s = DeviceAvailable(); !s.ok()) {
    std::cout << s.message() << ", skipping\n";
    return 0;
  }
  const absl::StatusOr<std::string> device = DeviceDescription();
  const absl::StatusOr<bool> hw = UsesHardwareE2m1();
  std::ostream& info = o->json ? std::cerr : std::cout;
  info << "# device: " << (device.ok() ? *device : device.status().ToString())
       << "; e2m1 encode: " << (hw.ok() ? (*hw ? "hardware" : "software") : "unknown")
       << "; bf16 input " << o->mib << " MiB; best of 3 x " << o->iters << " calls\n";
  const absl::StatusOr<std::vector<bench::Result>> results = Run(*o);
  if (!results.ok()) {
    std::cerr << "kvstash_gpu_codec_bench: " << results.status() << "\n";
    return 1;
  }
  if (o->json) {
    bench::PrintJson(*results, std::cout);
  } else {
    bench::PrintTable(*results, std::cout);
  }
  return 0;
}

}  // namespace
}  // namespace kvstash::kernels::cuda

int main(int argc, char** argv) { return kvstash::kernels::cuda::Main(argc, argv); }
