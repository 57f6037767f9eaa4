#include "tools/codec_job.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/element.h"
#include "kernels/testutil.h"

namespace kvstash::tools {
namespace {

using kernels::DType;
using kernels::Format;

std::vector<uint8_t> Bytes(const std::vector<float>& x) {
  std::vector<uint8_t> b(x.size() * 4);
  std::memcpy(b.data(), x.data(), b.size());
  return b;
}

TEST(CodecJob, Nvfp4ReproducesTheErrorTable) {
  const std::vector<float> x = kernels::testing::NormalData(1, 4096 * 1024);
  EncodeOptions o;
  o.cols = 1024;
  std::vector<uint8_t> data, scales;
  absl::StatusOr<CodecReport> r = Encode(o, Bytes(x), &data, &scales);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows, 4096u);
  EXPECT_EQ(data.size(), 4096u * 512);
  EXPECT_EQ(scales.size(), 4096u * 64);
  ASSERT_TRUE(r->g_dec.has_value());
  EXPECT_EQ(*r->g_dec, r->amax / 2688.0f);
  EXPECT_NEAR(r->sqnr_db, 20.44, 0.05);

  // Decoding with the printed scale gives back the same round trip.
  DecodeOptions d;
  d.cols = 1024;
  d.g_dec = r->g_dec;
  std::vector<uint8_t> out;
  ASSERT_TRUE(Decode(d, data, scales, &out).ok());
  std::vector<float> y(x.size());
  std::memcpy(y.data(), out.data(), out.size());
  CodecReport check;
  FillError(x.data(), y.data(), x.size(), &check);
  EXPECT_DOUBLE_EQ(check.rel_rmse, r->rel_rmse);
}

TEST(CodecJob, EveryFormatRoundTripsBf16Input) {
  std::vector<uint16_t> x(64 * 32);
  for (size_t i = 0; i < x.size(); ++i) x[i] = kernels::FloatToBf16(std::sin(i * 0.1f));
  std::vector<uint8_t> in(x.size() * 2);
  std::memcpy(in.data(), x.data(), in.size());
  for (Format f :
       {Format::kNvfp4, Format::kMxfp4, Format::kFp8E4M3, Format::kBf16, Format::kFp16}) {
    EncodeOptions o;
    o.format = f;
    o.dtype = DType::kBf16;
    o.cols = 32;
    std::vector<uint8_t> data, scales, out;
    absl::StatusOr<CodecReport> r = Encode(o, in, &data, &scales);
    ASSERT_TRUE(r.ok()) << kernels::FormatName(f) << ": " << r.status();
    EXPECT_GT(r->sqnr_db, f == Format::kBf16 ? 1000 : 15) << kernels::FormatName(f);
    DecodeOptions d;
    d.format = f;
    d.cols = 32;
    d.g_dec = r->g_dec;
    d.dtype = DType::kBf16;
    ASSERT_TRUE(Decode(d, data, scales, &out).ok()) << kernels::FormatName(f);
    EXPECT_EQ(out.size(), in.size());
  }
}

TEST(CodecJob, BadInputIsNamed) {
  EncodeOptions o;
  o.cols = 24;
  std::vector<uint8_t> data, scales;
  absl::StatusOr<CodecReport> r = Encode(o, Bytes(std::vector<float>(48)), &data, &scales);
  EXPECT_NE(r.status().message().find("not a multiple of the nvfp4 block size 16"),
            absl::string_view::npos)
      << r.status();
  o.cols = 16;
  r = Encode(o, std::vector<uint8_t>(63), &data, &scales);
  EXPECT_NE(r.status().message().find("wrong --dtype"), absl::string_view::npos) << r.status();
  std::vector<float> x(32, 1.0f);
  x[17] = std::numeric_limits<float>::quiet_NaN();
  r = Encode(o, Bytes(x), &data, &scales);
  EXPECT_NE(r.status().message().find("element 17 (row 1, col 1) is NaN"), absl::string_view::npos)
      << r.status();
  o.nan_poison = true;
  r = Encode(o, Bytes(x), &data, &scales);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->poisoned_blocks, 1u);
  EXPECT_EQ(scales[1], 0x7f);
  EXPECT_EQ(scales[0], kernels::EncodeE4m3((1.0f / 6.0f) * (1.0f / *r->g_dec)));
}

TEST(CodecJob, DecodeChecksSizesAndScale) {
  DecodeOptions d;
  d.cols = 16;
  std::vector<uint8_t> out;
  EXPECT_FALSE(Decode(d, std::vector<uint8_t>(8), std::vector<uint8_t>(1), &out).ok());  // no g
  d.g_dec = 1.0f;
  absl::Status s = Decode(d, std::vector<uint8_t>(8), std::vector<uint8_t>(2), &out).status();
  EXPECT_NE(s.message().find("scales have 2 bytes"), absl::string_view::npos) << s;
  EXPECT_TRUE(Decode(d, std::vector<uint8_t>(8), std::vector<uint8_t>(1), &out).ok());
  d.format = Format::kMxfp4;
  d.to_fp8 = true;
  EXPECT_FALSE(Decode(d, std::vector<uint8_t>(16), std::vector<uint8_t>(1), &out).ok());
}

TEST(ParseGlobalScale, Forms) {
  EXPECT_EQ(ParseGlobalScale("amax2688")->value, 2688.0f);
  EXPECT_EQ(ParseGlobalScale("0x3f800000")->value, 1.0f);
  EXPECT_EQ(ParseGlobalScale("0.5")->value, 0.5f);
  EXPECT_FALSE(ParseGlobalScale("-1").ok());
  EXPECT_FALSE(ParseGlobalScale("0x7fc00000").ok());
  EXPECT_FALSE(ParseGlobalScale("amax").ok());
}

}  // namespace
}  // namespace kvstash::tools
