// kvstash codec encode|decode: quantise a tensor file to nvfp4/mxfp4/fp8 (or
// bf16/fp16) and back, printing the global scale and the error.
#include <cmath>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kernels/element.h"
#include "kernels/testutil.h"
#include "tools/codec_job.h"
#include "tools/commands.h"
#include "tools/file_io.h"
#include "tools/flags.h"
#include "tools/json_writer.h"

namespace kvstash::tools {
namespace {

constexpr char kCodecHelp[] =
    "usage: kvstash codec encode|decode|gen [flags]\n\n"
    "Quantise a row-major tensor file to a KV-cache storage format and back.\n"
    "Blocks run along rows (nvfp4: 16 elements, mxfp4: 32). Run\n"
    "`kvstash codec encode --help` or `kvstash codec decode --help` for the flags;\n"
    "`kvstash codec gen` writes test tensors (NVFP4.md's generator).\n";

int Fail(const absl::Status& s) {
  std::cerr << "error: " << s.message() << "\n";
  return s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

std::string Hex(float f) { return absl::StrFormat("0x%08x", kernels::FloatBits(f)); }

void PrintReport(const char* verb, kernels::Format f, const std::string& dtype,
                 const CodecReport& r, bool json, bool with_error) {
  if (json) {
    JsonObject o;
    o.Add("command", verb).Add("format", kernels::FormatName(f)).Add("dtype", dtype);
    o.Add("rows", uint64_t{r.rows}).Add("cols", uint64_t{r.cols});
    o.Add("elements", uint64_t{r.elements});
    if (with_error) o.Add("amax", double{r.amax});
    if (r.g_dec) {
      o.Add("g_dec", double{*r.g_dec}).Add("g_dec_bits", Hex(*r.g_dec));
    }
    o.Add("data_bytes", uint64_t{r.data_bytes}).Add("scale_bytes", uint64_t{r.scale_bytes});
    o.Add("poisoned_blocks", uint64_t{r.poisoned_blocks});
    if (with_error) o.Add("rel_rmse", r.rel_rmse).Add("sqnr_db", r.sqnr_db);
    std::cout << o.Str() << "\n";
    return;
  }
  std::cout << absl::StrFormat("%s %s: %zu x %zu (%zu elements), %s\n", verb,
                               kernels::FormatName(f), r.rows, r.cols, r.elements, dtype);
  if (r.g_dec) {
    std::cout << absl::StrFormat("global decode scale g_dec = %.9g (bits %s)\n", *r.g_dec,
                                 Hex(*r.g_dec));
  }
  std::cout << absl::StrFormat("data %zu bytes, scales %zu bytes, poisoned blocks %zu\n",
                               r.data_bytes, r.scale_bytes, r.poisoned_blocks);
  if (with_error) {
    std::cout << absl::StrFormat("amax %.9g, relative RMSE %.4e, SQNR %.2f dB\n", r.amax,
                                 r.rel_rmse, r.sqnr_db);
  }
}

absl::Status ParseCommon(const FlagSet& flags, kernels::Format* format, size_t* cols,
                         kernels::Impl* impl) {
  absl::StatusOr<kernels::Format> f = kernels::ParseFormat(flags.Get("format"));
  if (!f.ok()) return f.status();
  *format = *f;
  absl::StatusOr<uint64_t> c = flags.GetU64("cols");
  if (!c.ok()) return c.status();
  *cols = *c;
  const std::string i = flags.Get("impl");
  if (i != "fast" && i != "reference") {
    return absl::InvalidArgumentError("--impl must be fast or reference, got '" + i + "'");
  }
  *impl = i == "fast" ? kernels::Impl::kFast : kernels::Impl::kReference;
  return absl::OkStatus();
}

absl::Status BuildEncodeOptions(const FlagSet& flags, EncodeOptions* o) {
  if (absl::Status s = ParseCommon(flags, &o->format, &o->cols, &o->impl); !s.ok()) return s;
  absl::StatusOr<kernels::DType> d = kernels::ParseDType(flags.Get("dtype"));
  if (!d.ok()) return d.status();
  o->dtype = *d;
  const bool scaled =
      o->format == kernels::Format::kNvfp4 || o->format == kernels::Format::kFp8E4M3;
  if (flags.Has("global-scale")) {
    if (!scaled)
      return absl::InvalidArgumentError("--global-scale applies to nvfp4 and fp8_e4m3 only");
    absl::StatusOr<GlobalScale> g = ParseGlobalScale(flags.Get("global-scale"));
    if (!g.ok()) return g.status();
    o->global_scale = *g;
  }
  if (flags.Has("mx-scale")) {
    if (o->format != kernels::Format::kMxfp4)
      return absl::InvalidArgumentError("--mx-scale applies to mxfp4 only");
    const std::string m = flags.Get("mx-scale");
    if (m != "floor" && m != "rceil") {
      return absl::InvalidArgumentError("--mx-scale must be floor or rceil, got '" + m + "'");
    }
    o->mx_scale = m == "floor" ? kernels::MxScaleMode::kFloor : kernels::MxScaleMode::kRceil;
  }
  const std::string nan = flags.Get("nan");
  if (nan != "reject" && nan != "poison") {
    return absl::InvalidArgumentError("--nan must be reject or poison, got '" + nan + "'");
  }
  o->nan_poison = nan == "poison";
  if (kernels::FormatBlock(o->format) > 1 && !flags.Has("out-scales")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--out-scales is required for ", kernels::FormatName(o->format)));
  }
  return absl::OkStatus();
}

int RunEncode(const Args& args) {
  FlagSet flags(
      "kvstash codec encode --format F --in FILE --dtype T --cols N --out-data FILE [--out-scales "
      "FILE] [flags]",
      "Quantise a row-major tensor (rows = elements / cols) with blocks along rows; write the\n"
      "packed data (nvfp4/mxfp4: rows x cols/2 bytes, low nibble first; fp8: rows x cols) and the\n"
      "scales (nvfp4: one E4M3 byte per 16 elements; mxfp4: one E8M0 byte per 32) in row-major\n"
      "order; print the global decode scale, relative RMSE and SQNR against the input.");
  flags.String("format", "nvfp4, mxfp4, fp8_e4m3, bf16 or fp16");
  flags.String("in", "input tensor file (raw little-endian elements)");
  flags.String("dtype", "input element type: f32, bf16 or f16");
  flags.String("cols", "row length in elements (a multiple of the format's block)");
  flags.String("out-data", "output file for the packed data");
  flags.String("out-scales", "output file for the block scales (nvfp4, mxfp4)", std::nullopt, true);
  flags.String("global-scale",
               "nvfp4/fp8: amax2688, amax448, a float g_dec or its 0x bit pattern (default: "
               "amax2688 for nvfp4, amax448 for fp8)",
               std::nullopt, true);
  flags.String("mx-scale", "mxfp4 scale rule: floor (OCP) or rceil (never clips) (default: floor)",
               std::nullopt, true);
  flags.String("nan",
               "NaN policy: reject (error naming the element) or poison (its block decodes to NaN)",
               "reject");
  flags.String("impl", "fast or reference", "fast");
  flags.Bool("json", "print one JSON object instead of text");
  if (int rc = ParseOrExit(flags, args); rc >= 0) return rc;
  EncodeOptions o;
  if (absl::Status s = BuildEncodeOptions(flags, &o); !s.ok()) return Fail(s);
  absl::StatusOr<std::vector<uint8_t>> input = ReadWholeFile(flags.Get("in"), "--in");
  if (!input.ok()) return Fail(input.status());
  std::vector<uint8_t> data, scales;
  absl::StatusOr<CodecReport> r = Encode(o, *input, &data, &scales);
  if (!r.ok()) return Fail(r.status());
  if (absl::Status s =
          WriteWholeFile(flags.Get("out-data"), "--out-data", data.data(), data.size());
      !s.ok())
    return Fail(s);
  if (flags.Has("out-scales")) {
    if (absl::Status s =
            WriteWholeFile(flags.Get("out-scales"), "--out-scales", scales.data(), scales.size());
        !s.ok())
      return Fail(s);
  }
  PrintReport("encode", o.format, std::string(kernels::DTypeName(o.dtype)), *r,
              flags.GetBool("json"), true);
  return 0;
}

absl::Status BuildDecodeOptions(const FlagSet& flags, DecodeOptions* o) {
  if (absl::Status s = ParseCommon(flags, &o->format, &o->cols, &o->impl); !s.ok()) return s;
  const std::string dtype = flags.Get("dtype");
  if (dtype == "fp8_e4m3") {
    o->to_fp8 = true;
  } else {
    absl::StatusOr<kernels::DType> d = kernels::ParseDType(dtype);
    if (!d.ok()) return d.status();
    o->dtype = *d;
  }
  if (flags.Has("global-scale")) {
    absl::StatusOr<float> g = ParseScaleValue(flags.Get("global-scale"));
    if (!g.ok()) return g.status();
    o->g_dec = *g;
  }
  if (kernels::FormatBlock(o->format) > 1 && !flags.Has("in-scales")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--in-scales is required for ", kernels::FormatName(o->format)));
  }
  return absl::OkStatus();
}

// Decoded output as f32 (FP8 bytes are scaled by g_dec).
std::vector<float> DecodedAsF32(const DecodeOptions& o, const std::vector<uint8_t>& out, size_t n) {
  std::vector<float> f(n);
  if (o.to_fp8) {
    kernels::Fp8Dequantize(out.data(), n, *o.g_dec, kernels::DType::kF32, f.data());
  } else {
    kernels::ConvertDType(o.dtype, out.data(), n, kernels::DType::kF32, f.data());
  }
  return f;
}

absl::Status CompareToReference(const FlagSet& flags, const DecodeOptions& o,
                                const std::vector<uint8_t>& out, CodecReport* r) {
  absl::StatusOr<kernels::DType> rt = kernels::ParseDType(flags.Get("reference-dtype"));
  if (!rt.ok()) return rt.status();
  absl::StatusOr<std::vector<uint8_t>> ref = ReadWholeFile(flags.Get("reference"), "--reference");
  if (!ref.ok()) return ref.status();
  if (ref->size() != r->elements * kernels::DTypeSize(*rt)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--reference has ", ref->size(), " bytes; ", r->elements, " ", kernels::DTypeName(*rt),
        " elements need ", r->elements * kernels::DTypeSize(*rt)));
  }
  std::vector<float> x(r->elements);
  kernels::ConvertDType(*rt, ref->data(), r->elements, kernels::DType::kF32, x.data());
  for (float v : x) r->amax = std::isnan(v) ? r->amax : std::max(r->amax, std::fabs(v));
  const std::vector<float> y = DecodedAsF32(o, out, r->elements);
  FillError(x.data(), y.data(), r->elements, r);
  return absl::OkStatus();
}

int RunDecode(const Args& args) {
  FlagSet flags(
      "kvstash codec decode --format F --in-data FILE [--in-scales FILE] --cols N --out FILE "
      "[flags]",
      "Dequantise packed data and scales written by `kvstash codec encode` back to f32, bf16\n"
      "or f16 (or, for nvfp4, to FP8 E4M3 bytes whose per-tensor scale is g_dec). With\n"
      "--reference, also print the error against the original tensor.");
  flags.String("format", "nvfp4, mxfp4, fp8_e4m3, bf16 or fp16");
  flags.String("in-data", "packed data file");
  flags.String("in-scales", "block scales file (nvfp4, mxfp4)", std::nullopt, true);
  flags.String("cols", "row length in elements");
  flags.String("global-scale", "nvfp4/fp8: the g_dec that encode printed (float or 0x bit pattern)",
               std::nullopt, true);
  flags.String("dtype", "output element type: f32, bf16, f16, or fp8_e4m3 (nvfp4 only)", "f32");
  flags.String("out", "output tensor file");
  flags.String("reference", "original tensor to compare against", std::nullopt, true);
  flags.String("reference-dtype", "element type of --reference: f32, bf16 or f16", "f32");
  flags.String("impl", "fast or reference", "fast");
  flags.Bool("json", "print one JSON object instead of text");
  if (int rc = ParseOrExit(flags, args); rc >= 0) return rc;
  DecodeOptions o;
  if (absl::Status s = BuildDecodeOptions(flags, &o); !s.ok()) return Fail(s);
  absl::StatusOr<std::vector<uint8_t>> data = ReadWholeFile(flags.Get("in-data"), "--in-data");
  if (!data.ok()) return Fail(data.status());
  std::vector<uint8_t> scales;
  if (flags.Has("in-scales")) {
    absl::StatusOr<std::vector<uint8_t>> s = ReadWholeFile(flags.Get("in-scales"), "--in-scales");
    if (!s.ok()) return Fail(s.status());
    scales = std::move(*s);
  }
  std::vector<uint8_t> out;
  absl::StatusOr<CodecReport> r = Decode(o, *data, scales, &out);
  if (!r.ok()) return Fail(r.status());
  bool with_error = false;
  if (flags.Has("reference")) {
    if (absl::Status s = CompareToReference(flags, o, out, &*r); !s.ok()) return Fail(s);
    with_error = true;
  }
  if (absl::Status s = WriteWholeFile(flags.Get("out"), "--out", out.data(), out.size()); !s.ok())
    return Fail(s);
  PrintReport("decode", o.format, flags.Get("dtype"), *r, flags.GetBool("json"), with_error);
  return 0;
}

int RunGen(const Args& args) {
  FlagSet flags("kvstash codec gen --rows R --cols C --out FILE [flags]",
                "Write a test tensor generated exactly as NVFP4.md describes (std::mt19937_64;\n"
                "normal by Box-Muller, uniform U(-1,1)), optionally with outlier channels\n"
                "(1% of columns x20), as raw f32, bf16 or f16.");
  flags.String("rows", "rows");
  flags.String("cols", "columns");
  flags.String("out", "output file");
  flags.String("dist", "normal or uniform", "normal");
  flags.String("seed", "generator seed", "1");
  flags.String("dtype", "f32, bf16 or f16", "f32");
  flags.Bool("outliers", "multiply 1% of the columns by 20 (keys with outlier channels)");
  if (int rc = ParseOrExit(flags, args); rc >= 0) return rc;
  absl::StatusOr<uint64_t> rows = flags.GetU64("rows"), cols = flags.GetU64("cols"),
                           seed = flags.GetU64("seed");
  for (const auto* v : {&rows, &cols, &seed}) {
    if (!v->ok()) return Fail(v->status());
  }
  absl::StatusOr<kernels::DType> dtype = kernels::ParseDType(flags.Get("dtype"));
  if (!dtype.ok()) return Fail(dtype.status());
  const std::string dist = flags.Get("dist");
  if (dist != "normal" && dist != "uniform") {
    return Fail(absl::InvalidArgumentError("--dist must be normal or uniform, got '" + dist + "'"));
  }
  const size_t n = *rows * *cols;
  if (n == 0 || n > (size_t{1} << 32)) {
    return Fail(absl::InvalidArgumentError("--rows x --cols must be between 1 and 2^32"));
  }
  std::vector<float> x = dist == "normal" ? kernels::testing::NormalData(*seed, n)
                                          : kernels::testing::UniformData(*seed, n);
  if (flags.GetBool("outliers")) {
    for (size_t i = 0; i < n; ++i) x[i] *= (i % *cols) % 100 == 0 ? 20.0f : 1.0f;
  }
  std::vector<uint8_t> out(n * kernels::DTypeSize(*dtype));
  kernels::ConvertDType(kernels::DType::kF32, x.data(), n, *dtype, out.data());
  if (absl::Status s = WriteWholeFile(flags.Get("out"), "--out", out.data(), out.size()); !s.ok()) {
    return Fail(s);
  }
  std::cout << absl::StrFormat("wrote %zu x %zu %s %s to %s\n", *rows, *cols, dist,
                               kernels::DTypeName(*dtype), flags.Get("out"));
  return 0;
}

}  // namespace

int RunCodec(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kCodecHelp;
    return args.empty() ? 2 : 0;
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "encode") return RunEncode(rest);
  if (args[0] == "decode") return RunDecode(rest);
  if (args[0] == "gen") return RunGen(rest);
  std::cerr << "error: unknown codec subcommand '" << args[0]
            << "' (expected encode, decode or gen)\n";
  return 2;
}

}  // namespace kvstash::tools
