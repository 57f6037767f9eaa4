#include "common/json_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace kvstash {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

JsonValue MustParse(absl::string_view text) {
  absl::StatusOr<JsonValue> v = ParseJson(text);
  EXPECT_TRUE(v.ok()) << text << " -> " << v.status();
  return v.ok() ? *std::move(v) : JsonValue();
}

// The error message for `text`, or "OK" when it parses. The text is copied to
// a heap buffer of its exact size so ASan sees any read past the end.
std::string ParseError(absl::string_view text, const JsonLimits& limits = {}) {
  std::vector<char> buf(text.begin(), text.end());
  absl::StatusOr<JsonValue> v = ParseJson(absl::string_view(buf.data(), buf.size()), limits);
  if (v.ok()) return "OK";
  EXPECT_TRUE(absl::IsInvalidArgument(v.status())) << v.status();
  return std::string(v.status().message());
}

// ---------------------------------------------------------------------------
// Valid documents

TEST(ParseJson, Scalars) {
  EXPECT_TRUE(MustParse("null").is_null());
  EXPECT_EQ(*MustParse("true").AsBool(), true);
  EXPECT_EQ(*MustParse("false").AsBool(), false);
  EXPECT_EQ(*MustParse("\"hi\"").AsString(), "hi");
  EXPECT_EQ(*MustParse("42").AsU64(), 42u);
  EXPECT_EQ(MustParse("42").type(), JsonValue::Type::kNumber);
  EXPECT_EQ(MustParse("-1.5e3").number_text(), "-1.5e3");
}

TEST(ParseJson, SurroundingWhitespace) {
  EXPECT_EQ(*MustParse(" \t\r\n 7 \n\t\r ").AsU64(), 7u);
  EXPECT_TRUE(MustParse("\n[ ]\n").is_array());
  EXPECT_TRUE(MustParse(" { } ").is_object());
}

TEST(ParseJson, ArraysAndObjects) {
  const JsonValue v =
      MustParse(R"({"z": [1, "two", null, true, {"k": []}], "a": {}, "m": -0.25, "e": ""})");
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.members().size(), 4u);
  // Insertion order, not sorted.
  EXPECT_EQ(v.members()[0].first, "z");
  EXPECT_EQ(v.members()[1].first, "a");
  EXPECT_EQ(v.members()[2].first, "m");
  EXPECT_EQ(v.members()[3].first, "e");
  const JsonValue* z = v.Find("z");
  ASSERT_NE(z, nullptr);
  ASSERT_TRUE(z->is_array());
  ASSERT_EQ(z->items().size(), 5u);
  EXPECT_EQ(*z->items()[0].AsU64(), 1u);
  EXPECT_EQ(*z->items()[1].AsString(), "two");
  EXPECT_TRUE(z->items()[2].is_null());
  EXPECT_TRUE(*z->items()[3].AsBool());
  ASSERT_NE(z->items()[4].Find("k"), nullptr);
  EXPECT_TRUE(z->items()[4].Find("k")->items().empty());
  EXPECT_TRUE(v.Find("a")->members().empty());
  EXPECT_EQ(*v.Find("m")->AsDouble(), -0.25);
  EXPECT_EQ(*v.Find("e")->AsString(), "");
  EXPECT_EQ(v.Find("missing"), nullptr);
  EXPECT_EQ(z->Find("z"), nullptr);  // not an object
}

TEST(ParseJson, ManyKeysStillDetectsDuplicates) {
  std::string doc = "{";
  for (int i = 0; i < 100; ++i) absl::StrAppend(&doc, i ? "," : "", "\"k", i, "\":", i);
  const JsonValue v = MustParse(doc + "}");
  ASSERT_EQ(v.members().size(), 100u);
  EXPECT_EQ(*v.Find("k99")->AsU64(), 99u);
  EXPECT_THAT(ParseError(doc + ",\"k57\":0}"), HasSubstr("duplicate object key \"k57\""));
}

// ---------------------------------------------------------------------------
// Numbers

TEST(JsonNumber, U64Extremes) {
  EXPECT_EQ(*MustParse("18446744073709551615").AsU64(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(*MustParse("0").AsU64(), 0u);
  EXPECT_EQ(*MustParse("-0").AsU64(), 0u);
  EXPECT_EQ(*MustParse("9007199254740993").AsU64(), 9007199254740993u);  // 2^53+1, not a double
  EXPECT_EQ(MustParse("18446744073709551616").AsU64().status().message(),
            "expected an unsigned 64-bit integer, got 18446744073709551616");
  EXPECT_FALSE(MustParse("99999999999999999999999").AsU64().ok());
  EXPECT_EQ(MustParse("-1").AsU64().status().message(),
            "expected an unsigned 64-bit integer, got -1");
  EXPECT_FALSE(MustParse("1.0").AsU64().ok());
  EXPECT_FALSE(MustParse("1e3").AsU64().ok());
  EXPECT_EQ(MustParse("\"5\"").AsU64().status().message(),
            "expected an unsigned 64-bit integer, got \"5\"");
}

TEST(JsonNumber, U64BitsTakesSignedHashes) {
  EXPECT_EQ(*MustParse("-9223372036854775808").AsU64Bits(), uint64_t{1} << 63);
  EXPECT_EQ(*MustParse("-1").AsU64Bits(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(*MustParse("-2").AsU64Bits(), std::numeric_limits<uint64_t>::max() - 1);
  EXPECT_EQ(*MustParse("18446744073709551615").AsU64Bits(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(*MustParse("-0").AsU64Bits(), 0u);
  EXPECT_FALSE(MustParse("-9223372036854775809").AsU64Bits().ok());
  EXPECT_FALSE(MustParse("18446744073709551616").AsU64Bits().ok());
  EXPECT_FALSE(MustParse("-1.5").AsU64Bits().ok());
}

TEST(JsonNumber, I64Extremes) {
  EXPECT_EQ(*MustParse("-9223372036854775808").AsI64(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(*MustParse("9223372036854775807").AsI64(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(*MustParse("-7").AsI64(), -7);
  EXPECT_FALSE(MustParse("9223372036854775808").AsI64().ok());
  EXPECT_FALSE(MustParse("-9223372036854775809").AsI64().ok());
  EXPECT_FALSE(MustParse("2.5").AsI64().ok());
  EXPECT_FALSE(MustParse("true").AsI64().ok());
}

TEST(JsonNumber, Doubles) {
  EXPECT_EQ(*MustParse("0.5").AsDouble(), 0.5);
  EXPECT_EQ(*MustParse("-1.25e-3").AsDouble(), -1.25e-3);
  EXPECT_EQ(*MustParse("1E+2").AsDouble(), 100.0);
  EXPECT_EQ(*MustParse("12").AsDouble(), 12.0);
  EXPECT_EQ(*MustParse("1e308").AsDouble(), 1e308);
  EXPECT_EQ(*MustParse("0.1").AsDouble(), 0.1);     // correctly rounded
  EXPECT_EQ(*MustParse("1e-400").AsDouble(), 0.0);  // underflow rounds to zero
  EXPECT_EQ(MustParse("1e400").AsDouble().status().message(),
            "expected a number within double range, got 1e400");
  EXPECT_FALSE(MustParse("-1e400").AsDouble().ok());
  EXPECT_EQ(MustParse("null").AsDouble().status().message(), "expected a number, got null");
  // The exact text survives for numbers a double would round.
  EXPECT_EQ(MustParse("3.14159265358979323846264338327950288").number_text(),
            "3.14159265358979323846264338327950288");
}

// ---------------------------------------------------------------------------
// Strings

TEST(JsonString, Escapes) {
  EXPECT_EQ(*MustParse(R"("\"\\\/\b\f\n\r\t")").AsString(), "\"\\/\b\f\n\r\t");
  EXPECT_EQ(*MustParse(R"("\u0041\u00e9\u20AC")").AsString(), "A\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(*MustParse(R"("a\u0000b")").AsString(), std::string("a\0b", 3));
  EXPECT_EQ(*MustParse(R"("\u007f\u0080\u07ff\u0800\uffff")").AsString(),
            "\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF");
}

TEST(JsonString, SurrogatePairs) {
  EXPECT_EQ(*MustParse(R"("\ud83d\ude00")").AsString(), "\xF0\x9F\x98\x80");  // U+1F600
  EXPECT_EQ(*MustParse(R"("\uD800\uDC00")").AsString(), "\xF0\x90\x80\x80");  // U+10000
  EXPECT_EQ(*MustParse(R"("\uDBFF\uDFFF")").AsString(), "\xF4\x8F\xBF\xBF");  // U+10FFFF
}

TEST(JsonString, RawUtf8PassesThrough) {
  const std::string s = "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF\"";
  EXPECT_EQ(*MustParse(s).AsString(), s.substr(1, s.size() - 2));
}

TEST(JsonString, LoneSurrogates) {
  EXPECT_THAT(ParseError(R"("\ud800")"), HasSubstr("high surrogate escape not followed"));
  EXPECT_THAT(ParseError(R"("\ud800x")"), HasSubstr("high surrogate escape not followed"));
  EXPECT_THAT(ParseError(R"("\ud800\u0041")"), HasSubstr("high surrogate escape not followed"));
  EXPECT_THAT(ParseError(R"("\ud800\ud800")"), HasSubstr("high surrogate escape not followed"));
  EXPECT_THAT(ParseError(R"("\udc00")"), HasSubstr("lone low surrogate"));
  EXPECT_THAT(ParseError(R"("\ude00\ud83d")"), HasSubstr("lone low surrogate"));
  EXPECT_EQ(ParseError(R"(["\ud800"])"),
            "JSON at 1:3 (byte 2): high surrogate escape not followed by a low surrogate escape");
}

TEST(JsonString, InvalidUtf8) {
  const char* kBad[] = {
      "\"\xFF\"",              // never valid
      "\"\x80\"",              // lone continuation
      "\"\xC0\xAF\"",          // overlong '/'
      "\"\xC1\xBF\"",          // overlong
      "\"\xE0\x80\xAF\"",      // overlong 3-byte
      "\"\xF0\x80\x80\xAF\"",  // overlong 4-byte
      "\"\xED\xA0\x80\"",      // UTF-8 encoded surrogate U+D800
      "\"\xF4\x90\x80\x80\"",  // U+110000
      "\"\xF5\x80\x80\x80\"",  // lead byte past U+10FFFF
      "\"\xE2\x82\"",          // truncated sequence
      "\"\xE2\x28\xA1\"",      // bad continuation
  };
  for (const char* bad : kBad) {
    EXPECT_THAT(ParseError(bad), HasSubstr("invalid UTF-8 in string")) << bad;
  }
  EXPECT_EQ(ParseError("\"ab\xFF\""),
            "JSON at 1:4 (byte 3): invalid UTF-8 in string, got byte 0xff");
  // In keys too.
  EXPECT_THAT(ParseError("{\"\xC0\xAF\":1}"), HasSubstr("invalid UTF-8"));
}

TEST(JsonString, ControlCharactersAndBadEscapes) {
  EXPECT_EQ(ParseError("\"a\nb\""),
            "JSON at 1:3 (byte 2): control characters must be escaped in strings, got byte 0x0a");
  EXPECT_THAT(ParseError("\"\t\""), HasSubstr("control characters must be escaped"));
  EXPECT_THAT(ParseError(R"("\x")"), HasSubstr("after '\\', got 'x'"));
  EXPECT_THAT(ParseError(R"("\U0041")"), HasSubstr("after '\\', got 'U'"));
  EXPECT_THAT(ParseError(R"("\u12G4")"), HasSubstr("expected 4 hex digits after '\\u', got 'G'"));
  EXPECT_THAT(ParseError(R"("\u12")"), HasSubstr("expected 4 hex digits"));
  EXPECT_THAT(ParseError("'a'"), HasSubstr("expected a value, got '''"));
}

// ---------------------------------------------------------------------------
// Errors

TEST(ParseJsonError, MessageNamesLineColumnAndByte) {
  EXPECT_EQ(ParseError("[\n  1,\n  2 3]"),
            "JSON at 3:5 (byte 11): expected ',' or ']' in array, got '3'");
  EXPECT_EQ(ParseError(R"({"block_hashes":[1})"),
            "JSON at 1:19 (byte 18): expected ',' or ']' in array, got '}'");
  EXPECT_EQ(ParseError(""), "JSON at 1:1 (byte 0): expected a value, got end of input");
  EXPECT_EQ(ParseError("[1,2"),
            "JSON at 1:5 (byte 4): expected ',' or ']' in array, got end of input");
}

struct BadCase {
  const char* text;
  const char* message;  // a substring of the error
};

TEST(ParseJsonError, EveryClass) {
  const BadCase kCases[] = {
      // Empty and whitespace.
      {"", "expected a value"},
      {" \n ", "expected a value, got end of input"},
      // Trailing commas.
      {"[1,]", "expected a value, got ']'"},
      {"[,]", "expected a value, got ','"},
      {R"({"a":1,})", "expected '\"' to start an object key, got '}'"},
      // Comments.
      {"/* c */ 1", "expected a value, got '/'"},
      {"1 // c", "expected end of input after the value, got '/'"},
      {"[1 /* c */]", "expected ',' or ']' in array, got '/'"},
      // Not numbers in JSON.
      {"NaN", "expected a value, got 'N'"},
      {"Infinity", "expected a value, got 'I'"},
      {"-Infinity", "expected a digit after '-', got 'I'"},
      {"nan", "expected 'null', got 'a'"},
      // Number grammar.
      {"01", "(byte 1): leading zeros are not allowed"},
      {"-01", "leading zeros are not allowed"},
      {"00", "leading zeros are not allowed"},
      {"1.", "expected a digit after '.', got end of input"},
      {"1.e5", "expected a digit after '.', got 'e'"},
      {"-", "expected a digit after '-', got end of input"},
      {"--1", "expected a digit after '-', got '-'"},
      {"+1", "expected a value, got '+'"},
      {".5", "expected a value, got '.'"},
      {"1e", "expected a digit in the exponent, got end of input"},
      {"1e+", "expected a digit in the exponent"},
      {"1E-x", "expected a digit in the exponent, got 'x'"},
      {"0x10", "expected end of input after the value, got 'x'"},
      // Literals.
      {"tru", "expected 'true', got end of input"},
      {"True", "expected a value, got 'T'"},
      {"nul", "expected 'null'"},
      {"falsey", "expected end of input after the value, got 'y'"},
      // Trailing garbage.
      {"1 2", "(byte 2): expected end of input after the value, got '2'"},
      {"{}x", "expected end of input after the value, got 'x'"},
      {"[] ]", "expected end of input after the value, got ']'"},
      {"\"a\"\"b\"", "expected end of input after the value"},
      // Structure.
      {"[1 2]", "expected ',' or ']' in array, got '2'"},
      {"[", "expected a value, got end of input"},
      {"]", "expected a value, got ']'"},
      {"{", "expected '\"' to start an object key, got end of input"},
      {"{a:1}", "expected '\"' to start an object key, got 'a'"},
      {"{'a':1}", "expected '\"' to start an object key, got '''"},
      {R"({"a" 1})", "expected ':' after object key, got '1'"},
      {R"({"a":})", "expected a value, got '}'"},
      {R"({"a":1 "b":2})", "expected ',' or '}' in object, got '\"'"},
      {R"({"a":1])", "expected ',' or '}' in object, got ']'"},
      {R"(["a)", "expected '\"' to end the string, got end of input"},
      {"\x01", "expected a value, got byte 0x01"},
      {"\xEF\xBB\xBF{}", "expected a value, got byte 0xef"},  // no BOM
      // Duplicate keys.
      {R"({"a":1,"b":2,"a":3})", "(byte 13): duplicate object key \"a\""},
      {R"({"x":{"k":1,"k":1}})", "duplicate object key \"k\""},
      {R"({"\u0061":1,"a":2})", "duplicate object key \"a\""},  // after unescaping
  };
  for (const BadCase& c : kCases) {
    EXPECT_THAT(ParseError(c.text), HasSubstr(c.message)) << "input: " << c.text;
  }
  // A NUL byte after the value is garbage too.
  EXPECT_THAT(ParseError(std::string("1\0", 2)), HasSubstr("got byte 0x00"));
}

TEST(ParseJsonError, DuplicateKeyMessageIsShortened) {
  const std::string key(500, 'k');
  const std::string doc = absl::StrCat("{\"", key, "\":1,\"", key, "\":2}");
  const std::string message = ParseError(doc);
  EXPECT_THAT(message, HasSubstr("duplicate object key \"kkkk"));
  EXPECT_LT(message.size(), 120u) << message;
}

std::string Nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(ParseJsonLimits, Depth) {
  EXPECT_EQ(ParseError(Nested(64)), "OK");
  EXPECT_EQ(ParseError(Nested(65)), "JSON at 1:65 (byte 64): nesting deeper than 64 levels");
  EXPECT_THAT(ParseError(std::string(100000, '[')), HasSubstr("nesting deeper than 64"));
  std::string objects;
  for (int i = 0; i < 65; ++i) objects += "{\"a\":";
  EXPECT_THAT(ParseError(objects + "1" + std::string(65, '}')), HasSubstr("nesting deeper"));
  JsonLimits limits;
  limits.max_depth = 2;
  EXPECT_EQ(ParseError("[[1]]", limits), "OK");
  EXPECT_EQ(ParseError("{\"a\":[1]}", limits), "OK");
  EXPECT_THAT(ParseError("[[[1]]]", limits), HasSubstr("nesting deeper than 2 levels"));
  EXPECT_EQ(ParseError("7", JsonLimits{.max_depth = 0}), "OK");
  EXPECT_THAT(ParseError("[]", JsonLimits{.max_depth = 0}), HasSubstr("nesting deeper"));
}

TEST(ParseJsonLimits, Bytes) {
  JsonLimits limits;
  limits.max_bytes = 8;
  EXPECT_EQ(ParseError("[1,2,3] ", limits), "OK");
  EXPECT_EQ(ParseError("[1,2,3]  ", limits), "JSON document is 9 bytes, over the limit of 8");
}

TEST(ParseJsonLimits, Elements) {
  JsonLimits limits;
  limits.max_elements = 4;  // the array plus three numbers
  EXPECT_EQ(ParseError("[1,2,3]", limits), "OK");
  EXPECT_EQ(ParseError("[1,2,3,4]", limits), "JSON at 1:8 (byte 7): more than 4 values");
  EXPECT_EQ(ParseError(R"({"a":1,"b":[2]})", limits), "OK");
  EXPECT_THAT(ParseError(R"({"a":1,"b":[2,3]})", limits), HasSubstr("more than 4 values"));
}

// Every proper prefix of these documents is invalid: parsing each must fail
// cleanly (ASan checks no byte past the prefix is read).
TEST(ParseJsonError, EveryTruncationFails) {
  const std::string kDocs[] = {
      R"({"block_hashes": [18446744073709551615, -9223372036854775808, 0], "token_ids": [1, 2],)"
      R"( "block_size": 16, "hash_scheme": "sha256_cbor", "candidates": [{"worker": "w1",)"
      R"( "dp_rank": 0, "active_blocks": 3, "queued_prefill_tokens": 100}], "temperature": 0.5})",
      R"([null, true, false, -1.5e-7, "esc \"\\\/\b\f\n\r\t \u00e9 \ud83d\ude00", {}, [], {"a": [{}]}])",
      "[\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\", 1E+9, 0.0]",
  };
  for (const std::string& doc : kDocs) {
    ASSERT_EQ(ParseError(doc), "OK") << doc;
    for (size_t n = 0; n < doc.size(); ++n) {
      EXPECT_NE(ParseError(doc.substr(0, n)), "OK") << "prefix of " << n << " bytes: " << doc;
    }
  }
}

// Not a check of particular messages: replacing any byte with any of a few
// troublesome ones must give a value or an error, never a crash.
TEST(ParseJsonError, ByteMutationsNeverCrash) {
  const std::string doc =
      R"({"a": [1, -2.5e3, "x\u00e9\ud83d\ude00y", true, null], "b": {"c": false}})";
  const char kBytes[] = {'\0', '"', '\\', '[', ']', '{',    '}',    ',',    ':',    '-',
                         '0',  'e', '.',  'u', ' ', '\x80', '\xC3', '\xED', '\xF4', '\xFF'};
  for (size_t i = 0; i < doc.size(); ++i) {
    for (char b : kBytes) {
      std::string mutated = doc;
      mutated[i] = b;
      (void)ParseError(mutated);
    }
  }
}

// ---------------------------------------------------------------------------
// JsonValue::Describe

TEST(JsonValue, DescribeIsShort) {
  EXPECT_EQ(MustParse("null").Describe(), "null");
  EXPECT_EQ(MustParse("false").Describe(), "false");
  EXPECT_EQ(MustParse("-1.5").Describe(), "-1.5");
  EXPECT_EQ(MustParse("\"a\\nb\"").Describe(), "\"a\\nb\"");
  EXPECT_EQ(MustParse("[1]").Describe(), "an array");
  EXPECT_EQ(MustParse("{}").Describe(), "an object");
  EXPECT_LT(MustParse(std::string(1000, '1')).Describe().size(), 50u);
  EXPECT_LT(MustParse("\"" + std::string(1000, 'x') + "\"").Describe().size(), 50u);
  // Cut on a character boundary: no half of a 2-byte sequence.
  std::string accents;
  for (int i = 0; i < 100; ++i) accents += "\xC3\xA9";
  const std::string d = MustParse("\"" + accents + "\"").Describe();
  EXPECT_EQ(d, "\"" + accents.substr(0, 40) + "\"...");
}

// ---------------------------------------------------------------------------
// JsonObjectReader

constexpr absl::string_view kPlacement = R"({
  "block_hashes": [1, 18446744073709551615, -9223372036854775808],
  "token_ids": [5, 6, 7],
  "hash_scheme": "sha256_cbor",
  "candidates": [
    {"worker": "w1", "dp_rank": 0, "active_blocks": 3, "queued_prefill_tokens": 100},
    {"worker": "w2", "active_blocks": 0, "queued_prefill_tokens": 0}
  ],
  "temperature": 0.5,
  "debug": null
})";

TEST(JsonObjectReader, ReadsAPlacementRequest) {
  const JsonValue body = MustParse(kPlacement);
  JsonObjectReader r(body);
  EXPECT_THAT(r.U64BitsArray("block_hashes"),
              ElementsAre(1u, std::numeric_limits<uint64_t>::max(), uint64_t{1} << 63));
  EXPECT_TRUE(r.Has("token_ids"));
  EXPECT_THAT(r.U64Array("token_ids"), ElementsAre(5u, 6u, 7u));
  EXPECT_EQ(r.U64("block_size", 16), 16u);
  EXPECT_EQ(r.OptionalU64("block_size"), std::nullopt);
  EXPECT_EQ(r.OptionalString("hash_scheme"), "sha256_cbor");
  EXPECT_EQ(r.String("hash_scheme"), "sha256_cbor");
  EXPECT_EQ(r.Double("temperature", 1.0), 0.5);
  EXPECT_EQ(r.Double("top_p", 1.0), 1.0);
  // null reads as absent for optional accessors.
  EXPECT_FALSE(r.Has("debug"));
  EXPECT_NE(r.Find("debug"), nullptr);
  EXPECT_EQ(r.Bool("debug", true), true);
  EXPECT_EQ(r.OptionalString("debug"), std::nullopt);
  const std::vector<JsonObjectReader> candidates = r.ObjectArray("candidates");
  ASSERT_EQ(candidates.size(), 2u);
  EXPECT_EQ(candidates[1].path(), "candidates[1]");
  JsonObjectReader c0 = candidates[0], c1 = candidates[1];
  EXPECT_EQ(c0.String("worker"), "w1");
  EXPECT_EQ(c0.U64("dp_rank", 9), 0u);
  EXPECT_EQ(c0.U64("queued_prefill_tokens"), 100u);
  EXPECT_EQ(c1.String("worker"), "w2");
  EXPECT_EQ(c1.U64("dp_rank", 9), 9u);
  r.RejectUnknown({"block_hashes", "token_ids", "block_size", "hash_scheme", "candidates",
                   "temperature", "debug"});
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(c1.ok());
}

std::string ReadError(absl::string_view json, const std::function<void(JsonObjectReader&)>& read,
                      absl::string_view name = "") {
  const JsonValue v = MustParse(json);
  JsonObjectReader r(v, name);
  read(r);
  if (r.ok()) return "OK";
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
  return std::string(r.status().message());
}

TEST(JsonObjectReader, ArrayElementErrorsNameTheIndex) {
  EXPECT_EQ(ReadError(R"({"block_hashes": [1, 2, 3, -1.5]})",
                      [](JsonObjectReader& r) { EXPECT_TRUE(r.U64Array("block_hashes").empty()); }),
            "block_hashes[3]: expected an unsigned 64-bit integer, got -1.5");
  EXPECT_EQ(ReadError(R"({"h": [0, -9223372036854775809]})",
                      [](JsonObjectReader& r) { r.U64BitsArray("h"); }),
            "h[1]: expected a 64-bit integer (-2^63..2^64-1), got -9223372036854775809");
  EXPECT_EQ(ReadError(R"({"ids": [1, "2"]})", [](JsonObjectReader& r) { r.I64Array("ids"); }),
            "ids[1]: expected a signed 64-bit integer, got \"2\"");
  EXPECT_EQ(ReadError(R"({"s": ["a", null]})", [](JsonObjectReader& r) { r.StringArray("s"); }),
            "s[1]: expected a string, got null");
  EXPECT_EQ(ReadError(R"({"s": {"a": 1}})", [](JsonObjectReader& r) { r.StringArray("s"); }),
            "s: expected an array, got an object");
}

TEST(JsonObjectReader, NestedPathsIncludeTheRootName) {
  const absl::string_view doc =
      R"({"candidates": [{"worker": "w1"}, {"dp_rank": 1}], "opts": {"x": {"y": "z"}}})";
  EXPECT_EQ(ReadError(doc,
                      [](JsonObjectReader& r) {
                        for (JsonObjectReader c : r.ObjectArray("candidates")) c.String("worker");
                      }),
            "candidates[1].worker: missing required field");
  EXPECT_EQ(ReadError(
                doc,
                [](JsonObjectReader& r) {
                  for (JsonObjectReader c : r.ObjectArray("candidates")) c.String("worker");
                },
                "request"),
            "request.candidates[1].worker: missing required field");
  EXPECT_EQ(ReadError(doc, [](JsonObjectReader& r) { r.Object("opts").Object("x").U64("y"); }),
            "opts.x.y: expected an unsigned 64-bit integer, got \"z\"");
  EXPECT_EQ(ReadError(R"({"c": [{}, 3]})", [](JsonObjectReader& r) { r.ObjectArray("c"); }),
            "c[1]: expected an object, got 3");
  EXPECT_EQ(ReadError(R"({"o": []})", [](JsonObjectReader& r) { r.Object("o").U64("n"); }),
            "o: expected an object, got an array");
}

TEST(JsonObjectReader, RequiredFieldErrors) {
  EXPECT_EQ(ReadError("{}", [](JsonObjectReader& r) { r.U64("block_size"); }),
            "block_size: missing required field");
  EXPECT_EQ(ReadError(R"({"n": null})", [](JsonObjectReader& r) { r.U64("n"); }),
            "n: expected an unsigned 64-bit integer, got null");
  EXPECT_EQ(ReadError(R"({"n": -3})", [](JsonObjectReader& r) { r.U64("n", 4); }),
            "n: expected an unsigned 64-bit integer, got -3");
  EXPECT_EQ(ReadError(R"({"b": 1})", [](JsonObjectReader& r) { r.Bool("b", false); }),
            "b: expected a boolean, got 1");
  EXPECT_EQ(ReadError(R"({"s": 1})", [](JsonObjectReader& r) { r.OptionalString("s"); }),
            "s: expected a string, got 1");
  EXPECT_EQ(ReadError(R"({"t": "hot"})", [](JsonObjectReader& r) { r.Double("t"); }),
            "t: expected a number, got \"hot\"");
  EXPECT_EQ(ReadError(R"({"i": 1.5})", [](JsonObjectReader& r) { r.I64("i", 0); }),
            "i: expected a signed 64-bit integer, got 1.5");
  EXPECT_EQ(ReadError("{}", [](JsonObjectReader& r) { r.ObjectArray("candidates"); }),
            "candidates: missing required field");
  EXPECT_EQ(ReadError("{}", [](JsonObjectReader& r) { r.U64Array("h"); }),
            "h: missing required field");
  EXPECT_EQ(ReadError(
                "{}", [](JsonObjectReader& r) { r.String("w"); }, "request"),
            "request.w: missing required field");
}

TEST(JsonObjectReader, RootMustBeAnObject) {
  const JsonValue v = MustParse("[1]");
  JsonObjectReader r(v, "request");
  EXPECT_EQ(r.status().message(), "request: expected an object, got an array");
  EXPECT_EQ(r.U64("x", 3), 3u);  // reads as empty, keeps the first error
  EXPECT_EQ(r.status().message(), "request: expected an object, got an array");
  const JsonValue n = MustParse("null");
  JsonObjectReader unnamed(n);
  EXPECT_EQ(unnamed.status().message(), "expected an object, got null");
}

TEST(JsonObjectReader, KeepsTheFirstErrorAndReturnsZeros) {
  const JsonValue v = MustParse(R"({"a": "x", "b": "y", "c": 7, "d": [1]})");
  JsonObjectReader r(v);
  EXPECT_EQ(r.U64("a"), 0u);
  EXPECT_EQ(r.I64("b"), 0);
  EXPECT_EQ(r.U64("c"), 7u);  // good fields still read
  EXPECT_THAT(r.U64Array("d"), ElementsAre(1u));
  EXPECT_EQ(r.String("c"), "");
  EXPECT_EQ(r.status().message(), "a: expected an unsigned 64-bit integer, got \"x\"");
}

TEST(JsonObjectReader, SubReadersShareTheError) {
  const JsonValue v = MustParse(R"({"c": [{"w": 1}]})");
  JsonObjectReader r(v);
  std::vector<JsonObjectReader> cs = r.ObjectArray("c");
  ASSERT_EQ(cs.size(), 1u);
  cs[0].String("w");
  EXPECT_EQ(r.status().message(), "c[0].w: expected a string, got 1");
  EXPECT_EQ(cs[0].status(), r.status());
}

TEST(JsonObjectReader, RejectUnknown) {
  EXPECT_EQ(ReadError(R"({"block_size": 16, "blok_size": 32})",
                      [](JsonObjectReader& r) { r.RejectUnknown({"block_size"}); }),
            "unknown field \"blok_size\"");
  EXPECT_EQ(ReadError(R"({"c": [{"w": "a", "x": 1}]})",
                      [](JsonObjectReader& r) {
                        for (JsonObjectReader c : r.ObjectArray("c")) c.RejectUnknown({"w"});
                      },
                      "request"),
            "request.c[0]: unknown field \"x\"");
  EXPECT_EQ(ReadError(R"({"a": 1})",
                      [](JsonObjectReader& r) {
                        r.RejectUnknown({"a", "b"});
                      }),
            "OK");
  EXPECT_EQ(ReadError("{}", [](JsonObjectReader& r) { r.RejectUnknown({}); }), "OK");
}

TEST(JsonObjectReader, FailForHandlerChecks) {
  EXPECT_EQ(ReadError(R"({"block_size": 12})",
                      [](JsonObjectReader& r) {
                        const uint64_t bs = r.U64("block_size", 16);
                        if (bs % 16 != 0) r.Fail("block_size", "must be a multiple of 16");
                      }),
            "block_size: must be a multiple of 16");
  EXPECT_EQ(ReadError(
                "{}", [](JsonObjectReader& r) { r.Fail("", "bad request"); }, "request"),
            "request: bad request");
}

}  // namespace
}  // namespace kvstash
