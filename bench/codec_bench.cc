// Throughput of the CPU block codec (kernels/codec.h), fast path against the
// reference and against memcpy, single thread.
//
// GB/s counts the bytes of the UNQUANTISED side of the tensor: the input of a
// quantiser (f32 or bf16), the output of a dequantiser (f32, bf16 or fp8),
// divided by wall-clock time (1 GB = 1e9 bytes). Every tensor is --size_mib
// MiB (default 64) on that side, and the memcpy baseline copies that many
// bytes, measured in the same run. So "ratio >= 0.5" reads: the codec moves
// the tensor at least half as fast as copying it would. The speedup rows are
// fast GB/s over reference GB/s.
//
//   kvstash_codec_bench [--json] [--size_mib=N] [--min_time=S] [--benchmark_* flags]
//
// --min_time (default 0.2) is the seconds each case runs at least; it
// replaces --benchmark_min_time, which the per-case setting would override.
//
// Prints Google Benchmark's console output, then the kvstash result table
// (bench/report.h); with --json, the console output goes to stderr and stdout
// gets only the JSON. With --benchmark_repetitions, the best run counts.
// Targets are printed, never asserted.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "bench/report.h"
#include "kernels/codec.h"
#include "kernels/testutil.h"

namespace kvstash::bench {
namespace {

using kernels::DType;
using kernels::Impl;

// The source tensors (N(0,1) as in NVFP4.md, f32 and bf16) and their
// quantised forms, built once, large enough for every case; the NVFP4 data
// cover `bytes` elements for the dequantise-to-fp8 case.
struct Data {
  explicit Data(size_t bytes);
  size_t bytes;
  std::vector<float> f32;      // bytes / 4 elements, N(0,1)
  std::vector<uint16_t> bf16;  // bytes / 2 elements
  std::vector<uint8_t> nvfp4_data, nvfp4_scales, mxfp4_data, mxfp4_scales;  // bytes elements
  std::vector<uint8_t> fp8;                                                 // bytes / 2
  float g_dec = 1.0f, fp8_scale = 1.0f;
};

// Repeats the first `have` bytes of v until it holds `want` bytes.
void Tile(std::vector<uint8_t>* v, size_t have, size_t want) {
  v->resize(want);
  for (size_t i = have; i < want; ++i) (*v)[i] = (*v)[i - have];
}

Data::Data(size_t size) : bytes(size) {
  const size_t n = bytes / 2;  // enough f32 values for the bf16 tensor
  f32 = kernels::testing::NormalData(1, n);
  bf16.resize(n);
  kernels::ConvertDType(DType::kF32, f32.data(), n, DType::kBf16, bf16.data());
  const float amax = kernels::AbsMax(DType::kF32, f32.data(), n);
  g_dec = *kernels::GDecFromAmax(amax, kernels::kNvfp4Amax2688);
  fp8_scale = amax / 448.0f;
  nvfp4_data.resize(n / 2);
  nvfp4_scales.resize(n / 16);
  kernels::Nvfp4Quantize(DType::kF32, f32.data(), n, g_dec, nvfp4_data.data(), nvfp4_scales.data());
  mxfp4_data.resize(n / 2);
  mxfp4_scales.resize(n / 32);
  kernels::Mxfp4Quantize(DType::kF32, f32.data(), n, kernels::MxScaleMode::kFloor,
                         mxfp4_data.data(), mxfp4_scales.data());
  // NVFP4 -> fp8 needs `bytes` elements: repeat the quantised tensor.
  Tile(&nvfp4_data, n / 2, bytes / 2);
  Tile(&nvfp4_scales, n / 16, bytes / 16);
  fp8.resize(n);
  kernels::Fp8Quantize(DType::kF32, f32.data(), n, fp8_scale, fp8.data());
  f32.resize(bytes / 4);
}

struct Case {
  std::string name;
  std::function<void(const Data&, Impl, void* out)> run;
};

constexpr DType kSourceTypes[] = {DType::kF32, DType::kBf16};

const void* Source(const Data& d, DType t) {
  return t == DType::kF32 ? static_cast<const void*>(d.f32.data()) : d.bf16.data();
}
// Elements of the unquantised tensor of dtype t (bytes of dtype t).
size_t Elements(const Data& d, DType t) { return d.bytes / kernels::DTypeSize(t); }
std::string Name(absl::string_view op, DType t) {
  return absl::StrCat(op, "_", kernels::DTypeName(t));
}

void AddNvfp4Cases(std::vector<Case>* c) {
  for (DType t : kSourceTypes) {
    c->push_back({Name("nvfp4_quantize", t), [t](const Data& d, Impl impl, void* out) {
                    const size_t n = Elements(d, t);
                    uint8_t* q = static_cast<uint8_t*>(out);
                    kernels::Nvfp4Quantize(t, Source(d, t), n, d.g_dec, q, q + n / 2, impl);
                  }});
  }
  for (DType t : kSourceTypes) {
    c->push_back({Name("nvfp4_dequantize", t), [t](const Data& d, Impl impl, void* out) {
                    kernels::Nvfp4Dequantize(d.nvfp4_data.data(), d.nvfp4_scales.data(),
                                             Elements(d, t), d.g_dec, t, out, impl);
                  }});
  }
  c->push_back({"nvfp4_dequantize_fp8", [](const Data& d, Impl impl, void* out) {
                  kernels::Nvfp4DequantizeToFp8(d.nvfp4_data.data(), d.nvfp4_scales.data(), d.bytes,
                                                static_cast<uint8_t*>(out), impl);
                }});
}

void AddMxfp4Cases(std::vector<Case>* c) {
  for (DType t : kSourceTypes) {
    c->push_back({Name("mxfp4_quantize", t), [t](const Data& d, Impl impl, void* out) {
                    const size_t n = Elements(d, t);
                    uint8_t* q = static_cast<uint8_t*>(out);
                    kernels::Mxfp4Quantize(t, Source(d, t), n, kernels::MxScaleMode::kFloor, q,
                                           q + n / 2, impl);
                  }});
  }
  for (DType t : kSourceTypes) {
    c->push_back({Name("mxfp4_dequantize", t), [t](const Data& d, Impl impl, void* out) {
                    kernels::Mxfp4Dequantize(d.mxfp4_data.data(), d.mxfp4_scales.data(),
                                             Elements(d, t), t, out, impl);
                  }});
  }
}

void AddFp8Cases(std::vector<Case>* c) {
  for (DType t : kSourceTypes) {
    c->push_back({Name("fp8_quantize", t), [t](const Data& d, Impl impl, void* out) {
                    kernels::Fp8Quantize(t, Source(d, t), Elements(d, t), d.fp8_scale,
                                         static_cast<uint8_t*>(out), impl);
                  }});
  }
  for (DType t : kSourceTypes) {
    c->push_back({Name("fp8_dequantize", t), [t](const Data& d, Impl impl, void* out) {
                    kernels::Fp8Dequantize(d.fp8.data(), Elements(d, t), d.fp8_scale, t, out, impl);
                  }});
  }
}

std::vector<Case> Cases() {
  std::vector<Case> c;
  AddNvfp4Cases(&c);
  AddMxfp4Cases(&c);
  AddFp8Cases(&c);
  return c;
}

// Console output as usual (to `console`), plus the best GB/s of every name.
class Collector : public benchmark::ConsoleReporter {
 public:
  explicit Collector(std::ostream* console) { SetOutputStream(console); }

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred || run.run_type != Run::RT_Iteration) continue;
      const auto it = run.counters.find("bytes_per_second");
      if (it == run.counters.end()) continue;
      double& best = gbps_[run.run_name.function_name];
      best = std::max(best, it->second.value / 1e9);
    }
    ConsoleReporter::ReportRuns(runs);
  }

  // 0 when `name` did not run (e.g. filtered out).
  double Gbps(const std::string& name) const {
    const auto it = gbps_.find(name);
    return it == gbps_.end() ? 0.0 : it->second;
  }

 private:
  std::map<std::string, double> gbps_;
};

// memcpy first, then per case: reference and fast against memcpy, and the
// speedup of fast over reference. Cases that did not run are left out.
std::vector<Result> Results(const Collector& c, const std::vector<std::string>& names,
                            const std::string& memcpy_name) {
  const double copy = c.Gbps(memcpy_name);
  std::vector<Result> results;
  if (copy > 0) results.push_back({memcpy_name, "GB/s", copy, memcpy_name, copy, ""});
  for (const std::string& name : names) {
    const double ref = c.Gbps(name + "/reference");
    const double fast = c.Gbps(name + "/fast");
    if (ref > 0) results.push_back({name + "/reference", "GB/s", ref, memcpy_name, copy, ""});
    if (fast > 0) results.push_back({name + "/fast", "GB/s", fast, memcpy_name, copy, ">= 0.5"});
    if (ref > 0 && fast > 0) {
      results.push_back({name + "/speedup", "x", fast / ref, "reference", 1.0, ">= 10"});
    }
  }
  return results;
}

struct Flags {
  bool json = false;
  size_t size_mib = 64;
  double min_time = 0.2;  // seconds per benchmark
};

// Takes our flags out of argv (benchmark::Initialize rejects unknown ones).
bool ParseFlags(int* argc, char** argv, Flags* flags) {
  int kept = 0;
  for (int i = 0; i < *argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      flags->json = true;
    } else if (std::strncmp(argv[i], "--size_mib=", 11) == 0) {
      flags->size_mib = std::strtoul(argv[i] + 11, nullptr, 10);
      if (flags->size_mib == 0) return false;
    } else if (std::strncmp(argv[i], "--min_time=", 11) == 0) {
      char* end = nullptr;
      flags->min_time = std::strtod(argv[i] + 11, &end);
      if (*end != '\0' || !(flags->min_time > 0)) return false;
    } else {
      argv[kept++] = argv[i];
    }
  }
  *argc = kept;
  return true;
}

// Runs `body` once per iteration over the whole tensor.
void Register(const std::string& name, size_t bytes, double min_time, std::function<void()> body) {
  benchmark::RegisterBenchmark(
      name.c_str(),
      [bytes, body](benchmark::State& state) {
        for (auto _ : state) {
          body();
          benchmark::ClobberMemory();
        }
        state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
      })
      ->UseRealTime()
      ->MinTime(min_time);
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(&argc, argv, &flags)) {
    std::cerr << "error: --size_mib must be a positive integer and --min_time a positive number "
                 "of seconds\n";
    return 2;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  const Data data(flags.size_mib << 20);
  const std::string size = absl::StrCat("_", flags.size_mib, "MiB");
  const std::string memcpy_name = "memcpy" + size;
  const std::vector<uint8_t> copy_src(data.bytes, 1);
  std::vector<uint8_t> out(data.bytes, 0);  // pre-faulted destination
  Register(memcpy_name, data.bytes, flags.min_time,
           [&] { std::memcpy(out.data(), copy_src.data(), data.bytes); });
  std::vector<std::string> names;
  for (const Case& c : Cases()) {
    names.push_back(c.name + size);
    Register(names.back() + "/reference", data.bytes, flags.min_time,
             [&, c] { c.run(data, Impl::kReference, out.data()); });
    Register(names.back() + "/fast", data.bytes, flags.min_time,
             [&, c] { c.run(data, Impl::kFast, out.data()); });
  }

  Collector collector(flags.json ? &std::cerr : &std::cout);
  benchmark::RunSpecifiedBenchmarks(&collector);
  benchmark::Shutdown();
  const std::vector<Result> results = Results(collector, names, memcpy_name);
  if (flags.json) {
    PrintJson(results, std::cout);
  } else {
    std::cout << "\n" << MachineDescription() << "; GB/s of the unquantised side, single thread\n";
    PrintTable(results, std::cout);
  }
  return 0;
}

}  // namespace
}  // namespace kvstash::bench

int main(int argc, char** argv) { return kvstash::bench::Main(argc, argv); }
