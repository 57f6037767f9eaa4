#include "service/router/msgpack_reader.h"

#include <cstdint>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "msgpack.hpp"

namespace kvstash::router::msgpack_internal {
namespace {

using ::testing::HasSubstr;

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

Item ReadOne(const std::string& data) {
  Reader r(data);
  Item item;
  absl::Status s = r.Read(&item);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(r.remaining(), 0u);
  return item;
}

TEST(MsgpackReaderTest, IntegersOfEveryWidthNormaliseBySign) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_fix_uint8(200);
  pk.pack_fix_uint16(60000);
  pk.pack_fix_uint32(4000000000u);
  pk.pack_fix_uint64(18446744073709551615ull);
  pk.pack_fix_int8(-5);
  pk.pack_fix_int16(7);  // a signed encoding of a non-negative value
  pk.pack_fix_int32(-70000);
  pk.pack_fix_int64(-1);
  pk.pack(-3);  // negative fixint
  Reader r(absl::string_view(buf.data(), buf.size()));
  Item it;
  auto next = [&] {
    absl::Status s = r.Read(&it);
    EXPECT_TRUE(s.ok()) << s;
  };
  next();
  EXPECT_EQ(it.kind, Kind::kUint);
  EXPECT_EQ(it.uint, 200u);
  next();
  EXPECT_EQ(it.uint, 60000u);
  next();
  EXPECT_EQ(it.uint, 4000000000u);
  next();
  EXPECT_EQ(it.uint, 18446744073709551615ull);
  next();
  EXPECT_EQ(it.kind, Kind::kInt);
  EXPECT_EQ(it.sint, -5);
  next();
  EXPECT_EQ(it.kind, Kind::kUint);
  EXPECT_EQ(it.uint, 7u);
  next();
  EXPECT_EQ(it.sint, -70000);
  next();
  EXPECT_EQ(it.kind, Kind::kInt);
  EXPECT_EQ(it.sint, -1);
  next();
  EXPECT_EQ(it.sint, -3);
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(MsgpackReaderTest, FloatsStringsBytesExt) {
  EXPECT_EQ(ReadOne(Bytes({0xca, 0x3f, 0xc0, 0x00, 0x00})).real, 1.5);
  Item d = ReadOne(Bytes({0xcb, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18}));
  EXPECT_EQ(d.kind, Kind::kFloat);
  EXPECT_DOUBLE_EQ(d.real, 3.141592653589793);
  // Str/bin/ext items view their input: keep it alive.
  const std::string str8 = Bytes({0xd9, 0x03, 'G', 'P', 'U'});
  const std::string bin16 = Bytes({0xc5, 0x00, 0x02, 0xab, 0xcd});
  Item s = ReadOne(str8);
  EXPECT_EQ(s.kind, Kind::kStr);
  EXPECT_EQ(s.bytes, "GPU");
  Item b = ReadOne(bin16);
  EXPECT_EQ(b.kind, Kind::kBin);
  EXPECT_EQ(b.bytes, Bytes({0xab, 0xcd}));
  EXPECT_EQ(ReadOne(Bytes({0xd5, 0x07, 0x01, 0x02})).kind, Kind::kExt);
  EXPECT_EQ(ReadOne(Bytes({0xc7, 0x01, 0x07, 0x09})).kind, Kind::kExt);
  EXPECT_EQ(ReadOne(Bytes({0xc0})).kind, Kind::kNil);
  EXPECT_TRUE(ReadOne(Bytes({0xc3})).boolean);
}

TEST(MsgpackReaderTest, ReservedByteIsAnError) {
  const std::string data = Bytes({0xc1});
  Reader r(data);
  Item it;
  EXPECT_THAT(std::string(r.Read(&it).message()), HasSubstr("reserved byte 0xc1"));
}

TEST(MsgpackReaderTest, ForgedContainerLengthsFailBeforeAnyWork) {
  for (const std::string& data :
       {Bytes({0xdd, 0xff, 0xff, 0xff, 0xff, 0x01}), Bytes({0xdf, 0x7f, 0xff, 0xff, 0xff}),
        Bytes({0xdc, 0x00, 0x05, 1, 2, 3, 4}), Bytes({0x82, 0x01, 0x02, 0x03})}) {
    Reader r(data);
    Item it;
    absl::Status s = r.Read(&it);
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(std::string(s.message()), HasSubstr("cannot fit"));
  }
  const std::string str32 = Bytes({0xdb, 0xff, 0xff, 0xff, 0xf0, 'a'});  // str32 of ~4 GiB
  Reader r(str32);
  Item it;
  EXPECT_THAT(std::string(r.Read(&it).message()), HasSubstr("truncated"));
}

TEST(MsgpackReaderTest, SkipWalksDeepNestingWithoutRecursion) {
  // 200,000 nested single-element arrays around a nil: a recursive skipper
  // would exhaust the stack.
  std::string deep(200000, static_cast<char>(0x91));
  deep.push_back(static_cast<char>(0xc0));
  deep.push_back(static_cast<char>(0x2a));
  Reader r(deep);
  ASSERT_TRUE(r.Skip().ok());
  Item it;
  ASSERT_TRUE(r.Read(&it).ok());
  EXPECT_EQ(it.uint, 42u);
  // Truncated: the innermost value is missing.
  const std::string cut(1000, static_cast<char>(0x91));
  Reader t(cut);
  EXPECT_FALSE(t.Skip().ok());
}

}  // namespace
}  // namespace kvstash::router::msgpack_internal
