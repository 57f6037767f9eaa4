#include "common/json_reader.h"

#include <cmath>
#include <limits>
#include <system_error>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/charconv.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/check.h"
#include "common/json_string.h"

namespace kvstash {
namespace {

// Objects with more members than this check duplicates with a hash set rather
// than a linear scan, so a hostile object with a million keys stays O(n).
constexpr size_t kLinearDuplicateScan = 16;
// Cut numbers and strings quoted in error messages to about this many bytes.
constexpr size_t kQuoteBytes = 40;

// The first at most `n` bytes of `s`, not cutting a UTF-8 sequence.
absl::string_view Cut(absl::string_view s, size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// Numbers and strings from the document, shortened for error messages.
std::string Shorten(absl::string_view s) {
  if (s.size() <= kQuoteBytes) return std::string(s);
  return absl::StrCat(Cut(s, kQuoteBytes), "...");
}

std::string QuoteShort(absl::string_view s) {
  if (s.size() <= kQuoteBytes) return JsonQuote(s);
  return absl::StrCat(JsonQuote(Cut(s, kQuoteBytes)), "...");
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Length of the well-formed UTF-8 sequence at the start of `s` (Unicode 15
// table 3-7: no overlongs, no surrogates, nothing above U+10FFFF), or 0.
size_t Utf8SequenceLength(absl::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (s.size() < len) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (size_t i = 2; i < len; ++i) {
    if ((b(i) & 0xC0) != 0x80) return 0;
  }
  return len;
}

// The magnitude of an integer written as JSON digits (no sign, fraction or
// exponent), or nullopt when it has those or exceeds 2^64-1.
std::optional<uint64_t> ParseMagnitude(absl::string_view digits) {
  if (digits.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : digits) {
    if (!IsDigit(c)) return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

struct SignedInteger {
  bool negative;
  uint64_t magnitude;
};

std::optional<SignedInteger> ParseInteger(absl::string_view text) {
  const bool negative = !text.empty() && text[0] == '-';
  if (negative) text.remove_prefix(1);
  const std::optional<uint64_t> magnitude = ParseMagnitude(text);
  if (!magnitude) return std::nullopt;
  return SignedInteger{negative && *magnitude != 0, *magnitude};
}

constexpr uint64_t kMinI64Magnitude = uint64_t{1} << 63;

}  // namespace

// ---------------------------------------------------------------------------
// Parser

class JsonParser {
 public:
  JsonParser(absl::string_view text, const JsonLimits& limits) : text_(text), limits_(limits) {}

  absl::StatusOr<JsonValue> Parse() {
    if (text_.size() > limits_.max_bytes) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "JSON document is %d bytes, over the limit of %d", text_.size(), limits_.max_bytes));
    }
    JsonValue value;
    SkipWhitespace();
    absl::Status s = ParseValue(0, &value);
    if (!s.ok()) return s;
    SkipWhitespace();
    if (pos_ != text_.size()) return Error(pos_, "expected end of input after the value");
    return value;
  }

  static JsonValue EmptyObject() {
    JsonValue v;
    v.data_ = std::vector<JsonValue::Member>();
    return v;
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }

  void SkipWhitespace() {
    while (!AtEnd()) {
      const char c = Peek();
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }

  // "JSON at L:C (byte B): <what>, got <the byte at B>".
  absl::Status Error(size_t offset, absl::string_view what) const {
    std::string got;
    if (offset >= text_.size()) {
      got = "end of input";
    } else {
      const unsigned char c = static_cast<unsigned char>(text_[offset]);
      got =
          (c >= 0x20 && c < 0x7F) ? absl::StrFormat("'%c'", c) : absl::StrFormat("byte 0x%02x", c);
    }
    return ErrorNoGot(offset, absl::StrCat(what, ", got ", got));
  }

  // An error whose `what` already says what is wrong there.
  absl::Status ErrorNoGot(size_t offset, absl::string_view what) const {
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < offset && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    return absl::InvalidArgumentError(absl::StrFormat("JSON at %d:%d (byte %d): %s", line,
                                                      offset - line_start + 1, offset, what));
  }

  absl::Status ParseValue(size_t depth, JsonValue* out) {
    if (++elements_ > limits_.max_elements) {
      return ErrorNoGot(pos_, absl::StrCat("more than ", limits_.max_elements, " values"));
    }
    if (AtEnd()) return Error(pos_, "expected a value");
    switch (Peek()) {
      case '{':
        return ParseObject(depth + 1, out);
      case '[':
        return ParseArray(depth + 1, out);
      case '"': {
        std::string s;
        absl::Status status = ParseString(&s);
        out->data_ = std::move(s);
        return status;
      }
      case 't':
        return ParseLiteral("true", out);
      case 'f':
        return ParseLiteral("false", out);
      case 'n':
        return ParseLiteral("null", out);
      default:
        if (Peek() == '-' || IsDigit(Peek())) return ParseNumber(out);
        return Error(pos_, "expected a value");
    }
  }

  absl::Status ParseLiteral(absl::string_view word, JsonValue* out) {
    for (size_t i = 0; i < word.size(); ++i) {
      if (pos_ + i >= text_.size() || text_[pos_ + i] != word[i]) {
        return Error(pos_ + i, absl::StrCat("expected '", word, "'"));
      }
    }
    pos_ += word.size();
    if (word == "null") {
      out->data_ = std::monostate();
    } else {
      out->data_ = (word == "true");
    }
    return absl::OkStatus();
  }

  // number = [ "-" ] ( "0" / 1-9 *DIGIT ) [ "." 1*DIGIT ] [ ( "e" / "E" ) [ "-" / "+" ] 1*DIGIT ]
  absl::Status ParseNumber(JsonValue* out) {
    const size_t start = pos_;
    if (Peek() == '-') ++pos_;
    if (AtEnd() || !IsDigit(Peek())) return Error(pos_, "expected a digit after '-'");
    if (Peek() == '0') {
      ++pos_;
      if (!AtEnd() && IsDigit(Peek())) return ErrorNoGot(pos_, "leading zeros are not allowed");
    } else {
      SkipDigits();
    }
    if (!AtEnd() && Peek() == '.') {
      ++pos_;
      if (AtEnd() || !IsDigit(Peek())) return Error(pos_, "expected a digit after '.'");
      SkipDigits();
    }
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      ++pos_;
      if (!AtEnd() && (Peek() == '+' || Peek() == '-')) ++pos_;
      if (AtEnd() || !IsDigit(Peek())) return Error(pos_, "expected a digit in the exponent");
      SkipDigits();
    }
    out->data_ = JsonValue::Number{std::string(text_.substr(start, pos_ - start))};
    return absl::OkStatus();
  }

  void SkipDigits() {
    while (!AtEnd() && IsDigit(Peek())) ++pos_;
  }

  // REQUIRES: Peek() == '"'.
  absl::Status ParseString(std::string* out) {
    ++pos_;
    while (true) {
      // Copy the run of bytes that need no attention in one go.
      const size_t run = pos_;
      while (!AtEnd()) {
        const unsigned char c = static_cast<unsigned char>(Peek());
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++pos_;
      }
      out->append(text_.data() + run, pos_ - run);
      if (AtEnd()) return Error(pos_, "expected '\"' to end the string");
      const unsigned char c = static_cast<unsigned char>(Peek());
      if (c == '"') {
        ++pos_;
        return absl::OkStatus();
      }
      if (c == '\\') {
        absl::Status s = ParseEscape(out);
        if (!s.ok()) return s;
      } else if (c < 0x20) {
        return Error(pos_, "control characters must be escaped in strings");
      } else {
        const size_t len = Utf8SequenceLength(text_.substr(pos_));
        if (len == 0) return Error(pos_, "invalid UTF-8 in string");
        out->append(text_.data() + pos_, len);
        pos_ += len;
      }
    }
  }

  // REQUIRES: Peek() == '\\'.
  absl::Status ParseEscape(std::string* out) {
    const size_t start = pos_;
    ++pos_;
    if (AtEnd()) return Error(pos_, "expected an escape character after '\\'");
    const char c = Peek();
    ++pos_;
    switch (c) {
      case '"':
      case '\\':
      case '/':
        out->push_back(c);
        return absl::OkStatus();
      case 'b':
        out->push_back('\b');
        return absl::OkStatus();
      case 'f':
        out->push_back('\f');
        return absl::OkStatus();
      case 'n':
        out->push_back('\n');
        return absl::OkStatus();
      case 'r':
        out->push_back('\r');
        return absl::OkStatus();
      case 't':
        out->push_back('\t');
        return absl::OkStatus();
      case 'u':
        break;
      default:
        return Error(pos_ - 1, "expected one of \"\\/bfnrtu after '\\'");
    }
    uint32_t cp;
    absl::Status s = ParseHex4(&cp);
    if (!s.ok()) return s;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
      return ErrorNoGot(start, "lone low surrogate escape");
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (text_.substr(pos_, 2) != "\\u") {
        return ErrorNoGot(start, "high surrogate escape not followed by a low surrogate escape");
      }
      pos_ += 2;
      uint32_t low;
      s = ParseHex4(&low);
      if (!s.ok()) return s;
      if (low < 0xDC00 || low > 0xDFFF) {
        return ErrorNoGot(start, "high surrogate escape not followed by a low surrogate escape");
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    AppendUtf8(cp, out);
    return absl::OkStatus();
  }

  absl::Status ParseHex4(uint32_t* cp) {
    *cp = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = AtEnd() ? -1 : HexValue(Peek());
      if (h < 0) return Error(pos_, "expected 4 hex digits after '\\u'");
      *cp = (*cp << 4) | static_cast<uint32_t>(h);
      ++pos_;
    }
    return absl::OkStatus();
  }

  absl::Status CheckDepth(size_t depth) const {
    if (depth <= limits_.max_depth) return absl::OkStatus();
    return ErrorNoGot(pos_, absl::StrCat("nesting deeper than ", limits_.max_depth, " levels"));
  }

  // REQUIRES: Peek() == '['.
  absl::Status ParseArray(size_t depth, JsonValue* out) {
    absl::Status s = CheckDepth(depth);
    if (!s.ok()) return s;
    std::vector<JsonValue> items;
    ++pos_;
    SkipWhitespace();
    if (!AtEnd() && Peek() == ']') {
      ++pos_;
      out->data_ = std::move(items);
      return absl::OkStatus();
    }
    while (true) {
      SkipWhitespace();
      s = ParseValue(depth, &items.emplace_back());
      if (!s.ok()) return s;
      SkipWhitespace();
      if (AtEnd() || (Peek() != ',' && Peek() != ']')) {
        return Error(pos_, "expected ',' or ']' in array");
      }
      if (text_[pos_++] == ']') break;
    }
    out->data_ = std::move(items);
    return absl::OkStatus();
  }

  // REQUIRES: Peek() == '{'.
  absl::Status ParseObject(size_t depth, JsonValue* out) {
    absl::Status s = CheckDepth(depth);
    if (!s.ok()) return s;
    std::vector<JsonValue::Member> members;
    absl::flat_hash_set<std::string> keys;  // filled once members outgrow a linear scan
    ++pos_;
    SkipWhitespace();
    if (!AtEnd() && Peek() == '}') {
      ++pos_;
      out->data_ = std::move(members);
      return absl::OkStatus();
    }
    while (true) {
      SkipWhitespace();
      if (AtEnd() || Peek() != '"') return Error(pos_, "expected '\"' to start an object key");
      const size_t key_pos = pos_;
      std::string key;
      s = ParseString(&key);
      if (!s.ok()) return s;
      if (IsDuplicate(key, members, &keys)) {
        return ErrorNoGot(key_pos, absl::StrCat("duplicate object key ", QuoteShort(key)));
      }
      SkipWhitespace();
      if (AtEnd() || Peek() != ':') return Error(pos_, "expected ':' after object key");
      ++pos_;
      SkipWhitespace();
      JsonValue::Member& member = members.emplace_back(
          std::piecewise_construct, std::forward_as_tuple(std::move(key)), std::forward_as_tuple());
      s = ParseValue(depth, &member.second);
      if (!s.ok()) return s;
      SkipWhitespace();
      if (AtEnd() || (Peek() != ',' && Peek() != '}')) {
        return Error(pos_, "expected ',' or '}' in object");
      }
      if (text_[pos_++] == '}') break;
    }
    out->data_ = std::move(members);
    return absl::OkStatus();
  }

  // Whether `key` is already among `members`; `keys` mirrors them once there
  // are more than kLinearDuplicateScan.
  static bool IsDuplicate(const std::string& key, const std::vector<JsonValue::Member>& members,
                          absl::flat_hash_set<std::string>* keys) {
    if (members.size() < kLinearDuplicateScan) {
      for (const JsonValue::Member& m : members) {
        if (m.first == key) return true;
      }
      return false;
    }
    if (keys->empty()) {
      for (const JsonValue::Member& m : members) keys->insert(m.first);
    }
    return !keys->insert(key).second;
  }

  const absl::string_view text_;
  const JsonLimits limits_;
  size_t pos_ = 0;
  size_t elements_ = 0;
};

absl::StatusOr<JsonValue> ParseJson(absl::string_view text, const JsonLimits& limits) {
  return JsonParser(text, limits).Parse();
}

// ---------------------------------------------------------------------------
// JsonValue

namespace {

absl::Status Expected(absl::string_view what, const JsonValue& got) {
  return absl::InvalidArgumentError(absl::StrCat("expected ", what, ", got ", got.Describe()));
}

}  // namespace

std::string JsonValue::Describe() const {
  switch (type()) {
    case Type::kNull:
      return "null";
    case Type::kBool:
      return std::get<bool>(data_) ? "true" : "false";
    case Type::kNumber:
      return Shorten(std::get<Number>(data_).text);
    case Type::kString:
      return QuoteShort(std::get<std::string>(data_));
    case Type::kArray:
      return "an array";
    case Type::kObject:
      return "an object";
  }
  return "?";
}

absl::StatusOr<bool> JsonValue::AsBool() const {
  if (!is_bool()) return Expected("a boolean", *this);
  return std::get<bool>(data_);
}

absl::StatusOr<uint64_t> JsonValue::AsU64() const {
  constexpr absl::string_view kWhat = "an unsigned 64-bit integer";
  if (!is_number()) return Expected(kWhat, *this);
  const std::optional<SignedInteger> v = ParseInteger(number_text());
  if (!v || v->negative) return Expected(kWhat, *this);
  return v->magnitude;
}

absl::StatusOr<uint64_t> JsonValue::AsU64Bits() const {
  constexpr absl::string_view kWhat = "a 64-bit integer (-2^63..2^64-1)";
  if (!is_number()) return Expected(kWhat, *this);
  const std::optional<SignedInteger> v = ParseInteger(number_text());
  if (!v || (v->negative && v->magnitude > kMinI64Magnitude)) return Expected(kWhat, *this);
  return v->negative ? uint64_t{0} - v->magnitude : v->magnitude;
}

absl::StatusOr<int64_t> JsonValue::AsI64() const {
  constexpr absl::string_view kWhat = "a signed 64-bit integer";
  if (!is_number()) return Expected(kWhat, *this);
  const std::optional<SignedInteger> v = ParseInteger(number_text());
  if (!v) return Expected(kWhat, *this);
  if (v->negative) {
    if (v->magnitude > kMinI64Magnitude) return Expected(kWhat, *this);
    // -2^63 has no positive counterpart; negate in unsigned arithmetic.
    return static_cast<int64_t>(uint64_t{0} - v->magnitude);
  }
  if (v->magnitude >= kMinI64Magnitude) return Expected(kWhat, *this);
  return static_cast<int64_t>(v->magnitude);
}

absl::StatusOr<double> JsonValue::AsDouble() const {
  if (!is_number()) return Expected("a number", *this);
  const absl::string_view text = number_text();
  double d = 0;
  const absl::from_chars_result r = absl::from_chars(text.data(), text.data() + text.size(), d);
  // The parser only stores well-formed numbers, which from_chars reads whole.
  KVSTASH_CHECK(r.ptr == text.data() + text.size());
  if (r.ec == std::errc::result_out_of_range) {
    // Overflow or underflow; absl leaves +-inf or +-0/denormal in `d` (its DR
    // 3081 reading). Underflow is a fine answer; overflow is not.
    if (std::isinf(d) || std::fabs(d) > 1) return Expected("a number within double range", *this);
  } else {
    KVSTASH_CHECK(r.ec == std::errc());
  }
  if (!std::isfinite(d)) return Expected("a number within double range", *this);
  return d;
}

absl::StatusOr<absl::string_view> JsonValue::AsString() const {
  if (!is_string()) return Expected("a string", *this);
  return absl::string_view(std::get<std::string>(data_));
}

absl::string_view JsonValue::number_text() const {
  KVSTASH_CHECK(is_number());
  return std::get<Number>(data_).text;
}

const std::vector<JsonValue>& JsonValue::items() const {
  KVSTASH_CHECK(is_array());
  return std::get<std::vector<JsonValue>>(data_);
}

const std::vector<JsonValue::Member>& JsonValue::members() const {
  KVSTASH_CHECK(is_object());
  return std::get<std::vector<Member>>(data_);
}

const JsonValue* JsonValue::Find(absl::string_view key) const {
  if (!is_object()) return nullptr;
  for (const Member& m : std::get<std::vector<Member>>(data_)) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// JsonObjectReader

namespace {

const JsonValue& EmptyObject() {
  static const JsonValue* const empty = new JsonValue(JsonParser::EmptyObject());
  return *empty;
}

}  // namespace

JsonObjectReader::JsonObjectReader(const JsonValue& value, absl::string_view name)
    : JsonObjectReader(value, std::string(name), std::make_shared<State>()) {}

JsonObjectReader::JsonObjectReader(const JsonValue& value, std::string path,
                                   std::shared_ptr<State> state)
    : value_(&value), path_(std::move(path)), state_(std::move(state)) {
  if (!value.is_object()) {
    FailAt(path_, Expected("an object", value).message());
    value_ = &EmptyObject();
  }
}

std::string JsonObjectReader::KeyPath(absl::string_view key) const {
  if (path_.empty()) return std::string(key);
  if (key.empty()) return path_;
  return absl::StrCat(path_, ".", key);
}

void JsonObjectReader::FailAt(absl::string_view path, absl::string_view message) {
  if (!state_->status.ok()) return;
  state_->status = absl::InvalidArgumentError(path.empty() ? std::string(message)
                                                           : absl::StrCat(path, ": ", message));
}

void JsonObjectReader::Fail(absl::string_view key, absl::string_view message) {
  FailAt(KeyPath(key), message);
}

bool JsonObjectReader::Has(absl::string_view key) const {
  const JsonValue* v = value_->Find(key);
  return v != nullptr && !v->is_null();
}

const JsonValue* JsonObjectReader::Find(absl::string_view key) const { return value_->Find(key); }

const JsonValue* JsonObjectReader::Get(absl::string_view key, bool required) {
  const JsonValue* v = value_->Find(key);
  if (v == nullptr && required) Fail(key, "missing required field");
  if (v != nullptr && v->is_null() && !required) return nullptr;
  return v;
}

template <typename T>
std::optional<T> JsonObjectReader::Convert(const JsonValue* value, absl::string_view path,
                                           absl::StatusOr<T> (JsonValue::*as)() const) {
  if (value == nullptr) return std::nullopt;
  absl::StatusOr<T> v = (value->*as)();
  if (!v.ok()) {
    FailAt(path, v.status().message());
    return std::nullopt;
  }
  return *std::move(v);
}

uint64_t JsonObjectReader::U64(absl::string_view key) {
  return Convert(Get(key, true), KeyPath(key), &JsonValue::AsU64).value_or(0);
}

uint64_t JsonObjectReader::U64(absl::string_view key, uint64_t default_value) {
  return OptionalU64(key).value_or(default_value);
}

std::optional<uint64_t> JsonObjectReader::OptionalU64(absl::string_view key) {
  return Convert(Get(key, false), KeyPath(key), &JsonValue::AsU64);
}

uint64_t JsonObjectReader::U64Bits(absl::string_view key) {
  return Convert(Get(key, true), KeyPath(key), &JsonValue::AsU64Bits).value_or(0);
}

int64_t JsonObjectReader::I64(absl::string_view key) {
  return Convert(Get(key, true), KeyPath(key), &JsonValue::AsI64).value_or(0);
}

int64_t JsonObjectReader::I64(absl::string_view key, int64_t default_value) {
  return Convert(Get(key, false), KeyPath(key), &JsonValue::AsI64).value_or(default_value);
}

double JsonObjectReader::Double(absl::string_view key) {
  return Convert(Get(key, true), KeyPath(key), &JsonValue::AsDouble).value_or(0);
}

double JsonObjectReader::Double(absl::string_view key, double default_value) {
  return Convert(Get(key, false), KeyPath(key), &JsonValue::AsDouble).value_or(default_value);
}

bool JsonObjectReader::Bool(absl::string_view key) {
  return Convert(Get(key, true), KeyPath(key), &JsonValue::AsBool).value_or(false);
}

bool JsonObjectReader::Bool(absl::string_view key, bool default_value) {
  return Convert(Get(key, false), KeyPath(key), &JsonValue::AsBool).value_or(default_value);
}

std::string JsonObjectReader::String(absl::string_view key) {
  return std::string(
      Convert(Get(key, true), KeyPath(key), &JsonValue::AsString).value_or(absl::string_view()));
}

std::string JsonObjectReader::String(absl::string_view key, absl::string_view default_value) {
  return std::string(
      Convert(Get(key, false), KeyPath(key), &JsonValue::AsString).value_or(default_value));
}

std::optional<std::string> JsonObjectReader::OptionalString(absl::string_view key) {
  const std::optional<absl::string_view> v =
      Convert(Get(key, false), KeyPath(key), &JsonValue::AsString);
  if (!v) return std::nullopt;
  return std::string(*v);
}

template <typename T>
std::vector<T> JsonObjectReader::ReadArray(absl::string_view key,
                                           absl::StatusOr<T> (JsonValue::*as)() const) {
  std::vector<T> out;
  const JsonValue* v = Get(key, true);
  if (v == nullptr) return out;
  const std::string path = KeyPath(key);
  if (!v->is_array()) {
    FailAt(path, Expected("an array", *v).message());
    return out;
  }
  out.reserve(v->items().size());
  for (size_t i = 0; i < v->items().size(); ++i) {
    std::optional<T> item = Convert(&v->items()[i], absl::StrCat(path, "[", i, "]"), as);
    if (!item) return {};
    out.push_back(*std::move(item));
  }
  return out;
}

std::vector<uint64_t> JsonObjectReader::U64Array(absl::string_view key) {
  return ReadArray(key, &JsonValue::AsU64);
}

std::vector<uint64_t> JsonObjectReader::U64BitsArray(absl::string_view key) {
  return ReadArray(key, &JsonValue::AsU64Bits);
}

std::vector<int64_t> JsonObjectReader::I64Array(absl::string_view key) {
  return ReadArray(key, &JsonValue::AsI64);
}

std::vector<std::string> JsonObjectReader::StringArray(absl::string_view key) {
  const std::vector<absl::string_view> views = ReadArray(key, &JsonValue::AsString);
  return std::vector<std::string>(views.begin(), views.end());
}

JsonObjectReader JsonObjectReader::Object(absl::string_view key) {
  const JsonValue* v = Get(key, true);
  return JsonObjectReader(v != nullptr ? *v : EmptyObject(), KeyPath(key), state_);
}

std::vector<JsonObjectReader> JsonObjectReader::ObjectArray(absl::string_view key) {
  std::vector<JsonObjectReader> out;
  const JsonValue* v = Get(key, true);
  if (v == nullptr) return out;
  const std::string path = KeyPath(key);
  if (!v->is_array()) {
    FailAt(path, Expected("an array", *v).message());
    return out;
  }
  out.reserve(v->items().size());
  for (size_t i = 0; i < v->items().size(); ++i) {
    out.push_back(JsonObjectReader(v->items()[i], absl::StrCat(path, "[", i, "]"), state_));
  }
  return out;
}

void JsonObjectReader::RejectUnknown(std::initializer_list<absl::string_view> known) {
  for (const JsonValue::Member& m : value_->members()) {
    bool found = false;
    for (absl::string_view k : known) found |= (k == m.first);
    if (!found) {
      FailAt(path_, absl::StrCat("unknown field ", QuoteShort(m.first)));
      return;
    }
  }
}

}  // namespace kvstash
