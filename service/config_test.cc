#include "service/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace kvstash::service {
namespace {

using ::testing::HasSubstr;

TEST(ParseConfig, KeysValuesCommentsAndBlankLines) {
  absl::StatusOr<ConfigMap> c = ParseConfig(
      "# leading comment\n"
      "\n"
      "layers = 32\n"
      "  kv_heads=8   # trailing comment\n"
      "empty =\n"
      "dotted.key-name_1 = a b  c\r\n"
      "\t# indented comment\n",
      "test.conf");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->size(), 4u);
  EXPECT_EQ(c->Find("layers")->value, "32");
  EXPECT_EQ(c->Find("layers")->line, 3);
  EXPECT_EQ(c->Find("kv_heads")->value, "8");
  EXPECT_EQ(c->Find("empty")->value, "");
  EXPECT_EQ(c->Find("dotted.key-name_1")->value, "a b  c");
  EXPECT_EQ(c->Find("missing"), nullptr);
  EXPECT_FALSE(c->Has("missing"));
  EXPECT_EQ(c->Where("kv_heads"), "test.conf:4");
  EXPECT_EQ(c->Where("missing"), "test.conf");
  EXPECT_EQ(c->KeysInOrder(),
            (std::vector<std::string>{"layers", "kv_heads", "empty", "dotted.key-name_1"}));
}

TEST(ParseConfig, QuotedValues) {
  absl::StatusOr<ConfigMap> c = ParseConfig(
      "a = \"has # hash and = sign\"  # comment\n"
      "b = \"esc \\\" \\\\ \\n \\t\"\n"
      "c = 'single \\n kept'\n"
      "d = \"\"\n"
      "e = \"  padded  \"\n",
      "q.conf");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->Find("a")->value, "has # hash and = sign");
  EXPECT_EQ(c->Find("b")->value, "esc \" \\ \n \t");
  EXPECT_EQ(c->Find("c")->value, "single \\n kept");
  EXPECT_EQ(c->Find("d")->value, "");
  EXPECT_EQ(c->Find("e")->value, "  padded  ");
}

TEST(ParseConfig, EmptyTextIsAnEmptyMap) {
  absl::StatusOr<ConfigMap> c = ParseConfig("", "empty.conf");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->empty());
  EXPECT_EQ(c->source(), "empty.conf");
}

void ExpectError(absl::string_view text, absl::string_view want) {
  absl::StatusOr<ConfigMap> c = ParseConfig(text, "bad.conf");
  ASSERT_FALSE(c.ok()) << "accepted: " << text;
  EXPECT_THAT(std::string(c.status().message()), HasSubstr(std::string(want))) << text;
}

TEST(ParseConfig, ErrorsNameFileLineAndKey) {
  ExpectError("a = 1\nno equals sign\n", "bad.conf:2: expected 'key = value'");
  ExpectError("= 3\n", "bad.conf:1: missing key");
  ExpectError("bad key = 3\n", "bad.conf:1: invalid key 'bad key'");
  ExpectError("k$ = 3\n", "invalid key 'k$'");
  ExpectError("\n\nname = \"open\n", "bad.conf:3: name: missing closing '\"'");
  ExpectError("name = 'open\n", "bad.conf:1: name: missing closing");
  ExpectError("name = \"x\" junk\n", "bad.conf:1: name: unexpected text after the closing quote");
  ExpectError("name = \"\\q\"\n", "bad.conf:1: name: unknown escape '\\q'");
}

TEST(ParseConfig, DuplicateKeyIsAnError) {
  absl::StatusOr<ConfigMap> c = ParseConfig("layers = 1\n# x\nlayers = 2\n", "dup.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "dup.conf:3: duplicate key 'layers' (first set on line 1)");
}

TEST(ConfigMap, AnnotatePrefixesWhereAndKey) {
  absl::StatusOr<ConfigMap> c = ParseConfig("\nlayers = x\n", "p.conf");
  ASSERT_TRUE(c.ok());
  absl::Status s = c->Annotate("layers", absl::InvalidArgumentError("'x' is bad"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "p.conf:2: layers: 'x' is bad");
  EXPECT_TRUE(c->Annotate("layers", absl::OkStatus()).ok());
}

class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    char name[] = "/tmp/kvstash_config_test_XXXXXX";
    const int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    close(fd);
    path_ = name;
    std::ofstream(path_, std::ios::binary) << contents;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(LoadConfigFile, ReadsAFile) {
  TempFile f("a = 1\nb = \"two\"\n");
  absl::StatusOr<ConfigMap> c = LoadConfigFile(f.path());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->Find("b")->value, "two");
  EXPECT_EQ(c->Where("b"), f.path() + ":2");
}

TEST(LoadConfigFile, MissingFileIsNotFound) {
  absl::StatusOr<ConfigMap> c = LoadConfigFile("/nonexistent/kvstash.conf");
  EXPECT_TRUE(absl::IsNotFound(c.status())) << c.status();
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("/nonexistent/kvstash.conf"));
}

TEST(LoadConfigFile, TooLargeIsRejected) {
  TempFile f(std::string(kMaxConfigFileBytes + 1, '#'));
  absl::StatusOr<ConfigMap> c = LoadConfigFile(f.path());
  EXPECT_TRUE(absl::IsInvalidArgument(c.status())) << c.status();
}

TEST(ParseValues, Uint) {
  EXPECT_EQ(*ParseUint("0"), 0u);
  EXPECT_EQ(*ParseUint("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(*ParseUint("65535", 65535), 65535u);
  EXPECT_TRUE(absl::IsOutOfRange(ParseUint("65536", 65535).status()));
  EXPECT_TRUE(absl::IsOutOfRange(ParseUint("18446744073709551616").status()));
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "0x10", "1.0", "12abc"}) {
    absl::StatusOr<uint64_t> v = ParseUint(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(v.status())) << bad;
    EXPECT_EQ(v.status().message(), absl::StrCat("'", bad, "' is not a non-negative integer"));
  }
}

TEST(ParseValues, Doubles) {
  EXPECT_EQ(*ParseDouble("0.25"), 0.25);
  EXPECT_EQ(*ParseDouble("-1.5e3"), -1500.0);
  EXPECT_EQ(*ParseNonNegative("0"), 0.0);
  EXPECT_EQ(*ParseNonNegative("64"), 64.0);
  for (const char* bad : {"", "inf", "nan", "1e999", "abc", "1.0x", " 1"}) {
    EXPECT_FALSE(ParseDouble(bad).ok()) << bad;
  }
  EXPECT_EQ(ParseNonNegative("-1").status().message(), "'-1' is not a non-negative number");
}

TEST(ParseValues, FloatList) {
  absl::StatusOr<std::vector<float>> v = ParseFloatList("1, 0.5 ,2e-3");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, (std::vector<float>{1.0f, 0.5f, 2e-3f}));
  EXPECT_EQ(ParseFloatList("1, x").status().message(), "item 1: 'x' is not a finite number");
  EXPECT_FALSE(ParseFloatList("1,,2").ok());
  EXPECT_FALSE(ParseFloatList("1e300").ok());
}

}  // namespace
}  // namespace kvstash::service
