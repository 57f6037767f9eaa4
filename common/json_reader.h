// A small strict JSON reader for request bodies from untrusted clients (the
// admin/router HTTP API, e.g. POST /v1/placement).
//
// Two layers:
//   - ParseJson() turns text into a JsonValue tree. It is RFC 8259 strict (no
//     comments, trailing commas, NaN/Infinity, leading zeros or '+'; strings
//     must be valid UTF-8 and \u escapes must pair surrogates correctly;
//     duplicate object keys are rejected) and bounded by JsonLimits, so a
//     hostile body costs at most O(max_bytes) time and memory. Errors are
//     InvalidArgument naming where and what:
//       "JSON at 1:17 (byte 16): expected ',' or ']' in array, got '}'".
//   - JsonObjectReader reads the fields of an object with types, defaults and
//     field paths in its messages, so a handler is a list of one-liners:
//       "block_hashes[3]: expected an unsigned 64-bit integer, got -1.5".
//
// Numbers keep their exact source text; AsU64() etc. convert on demand, so
// 64-bit hashes round-trip exactly instead of passing through a double.
//
// Thread safety: a JsonValue is immutable after parsing and may be read from
// any number of threads. A JsonObjectReader (and the sub-readers made from
// it, which share its error) is used by one thread at a time.
#ifndef KVSTASH_COMMON_JSON_READER_H_
#define KVSTASH_COMMON_JSON_READER_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvstash {

struct JsonLimits {
  // Containers nested deeper than this are rejected. The parser recurses once
  // per level, so this also bounds its stack use; keep it in the hundreds.
  size_t max_depth = 64;
  // Whole documents longer than this are rejected before parsing.
  size_t max_bytes = size_t{16} << 20;
  // Values of any kind in the whole document, containers and array elements
  // and object member values included (object keys are not counted).
  size_t max_elements = size_t{4} << 20;
};

class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  using Member = std::pair<std::string, JsonValue>;

  JsonValue() = default;  // null

  Type type() const { return static_cast<Type>(data_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_number() const { return type() == Type::kNumber; }
  bool is_string() const { return type() == Type::kString; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_object() const { return type() == Type::kObject; }

  // Conversions. Each fails with InvalidArgument "expected <what>, got <Describe()>"
  // (no field path: JsonObjectReader adds that) when the value is of another
  // type or out of range.
  absl::StatusOr<bool> AsBool() const;
  // Integers 0..2^64-1, written without fraction or exponent ("-0" is 0).
  absl::StatusOr<uint64_t> AsU64() const;
  // Integers -2^63..2^64-1; negatives come back as their two's-complement bits.
  // For 64-bit hashes that some engines (SGLang) emit as signed.
  absl::StatusOr<uint64_t> AsU64Bits() const;
  // Integers -2^63..2^63-1, written without fraction or exponent.
  absl::StatusOr<int64_t> AsI64() const;
  // Any number whose magnitude fits a double (underflow rounds toward 0).
  absl::StatusOr<double> AsDouble() const;
  // A view into this value.
  absl::StatusOr<absl::string_view> AsString() const;

  // REQUIRES: is_number(). The number exactly as written in the document.
  absl::string_view number_text() const;
  // REQUIRES: is_array().
  const std::vector<JsonValue>& items() const;
  // REQUIRES: is_object(). In document order; keys are unique.
  const std::vector<Member>& members() const;
  // The value of member `key`; nullptr when absent or when this is not an object.
  // Linear in the number of members.
  const JsonValue* Find(absl::string_view key) const;

  // A short description for error messages: null, true, false, the number's
  // text, the string quoted, "an array", "an object". Long numbers and strings
  // are cut to a few dozen bytes.
  std::string Describe() const;

 private:
  friend class JsonParser;
  struct Number {
    std::string text;
  };
  // Alternatives in Type order.
  std::variant<std::monostate, bool, Number, std::string, std::vector<JsonValue>,
               std::vector<Member>>
      data_;
};

// Parses one JSON value, optionally surrounded by whitespace; anything else
// after it is an error.
[[nodiscard]] absl::StatusOr<JsonValue> ParseJson(absl::string_view text,
                                                  const JsonLimits& limits = {});

// Typed, path-aware access to the members of a JSON object.
//
// Every accessor returns a plain value; the first failure (missing required
// field, wrong type, out of range, unknown field) is kept in status() and
// later failures are ignored, so a handler reads all its fields and checks
// once:
//
//   JsonObjectReader r(body);
//   const uint64_t block_size = r.U64("block_size", /*default_value=*/16);
//   const std::vector<uint64_t> hashes = r.U64BitsArray("block_hashes");
//   for (JsonObjectReader c : r.ObjectArray("candidates")) {
//     std::string worker = c.String("worker");
//     uint64_t dp_rank = c.U64("dp_rank", 0);
//   }
//   r.RejectUnknown({"block_size", "block_hashes", "candidates"});
//   if (!r.ok()) return r.status();  // "candidates[1].worker: missing required field"
//
// After a failure, accessors return zero/empty/default values. Messages are
// "<path>: <problem>", where path is the reader's name (may be empty), then
// ".key" or "[i]" per step. A member whose value is null counts as absent:
// optional and defaulted accessors treat it like a missing key, required ones
// fail with "expected ..., got null".
//
// A reader refers to the JsonValue it was made from (which must outlive it);
// sub-readers from Object()/ObjectArray() share their parent's error, so any
// of them may be checked, and may outlive the parent.
class JsonObjectReader {
 public:
  // `value` should be an object; anything else is recorded as an error and
  // then read as an empty object.
  explicit JsonObjectReader(const JsonValue& value, absl::string_view name = "");

  bool ok() const { return state_->status.ok(); }
  // OK, or the first InvalidArgument recorded by this reader or any reader
  // sharing its error.
  const absl::Status& status() const { return state_->status; }
  const std::string& path() const { return path_; }

  // True when `key` is present and not null.
  bool Has(absl::string_view key) const;
  // The raw value, or nullptr when absent; for shapes the accessors don't cover.
  const JsonValue* Find(absl::string_view key) const;

  // Required: fail when absent. Defaulted: the default when absent.
  // Optional: nullopt when absent.
  uint64_t U64(absl::string_view key);
  uint64_t U64(absl::string_view key, uint64_t default_value);
  std::optional<uint64_t> OptionalU64(absl::string_view key);
  uint64_t U64Bits(absl::string_view key);  // see JsonValue::AsU64Bits()
  int64_t I64(absl::string_view key);
  int64_t I64(absl::string_view key, int64_t default_value);
  double Double(absl::string_view key);
  double Double(absl::string_view key, double default_value);
  bool Bool(absl::string_view key);
  bool Bool(absl::string_view key, bool default_value);
  std::string String(absl::string_view key);
  std::string String(absl::string_view key, absl::string_view default_value);
  std::optional<std::string> OptionalString(absl::string_view key);

  // Required arrays; errors name the element ("block_hashes[3]: ...").
  // Guard with Has() for optional ones.
  std::vector<uint64_t> U64Array(absl::string_view key);
  std::vector<uint64_t> U64BitsArray(absl::string_view key);
  std::vector<int64_t> I64Array(absl::string_view key);
  std::vector<std::string> StringArray(absl::string_view key);

  // Required nested object / array of objects; the readers' paths are
  // "<path>.key" and "<path>.key[i]".
  JsonObjectReader Object(absl::string_view key);
  std::vector<JsonObjectReader> ObjectArray(absl::string_view key);

  // Fails on the first member whose key is not in `known` (for strict
  // endpoints; a typo such as "blok_size" would otherwise silently read the
  // default).
  void RejectUnknown(std::initializer_list<absl::string_view> known);

  // Records "<path>.key: <message>" (or "<path>: <message>" for an empty key)
  // unless an error is already recorded; for the handler's own checks, e.g.
  // Fail("block_size", "must be a power of two").
  void Fail(absl::string_view key, absl::string_view message);

 private:
  struct State {
    absl::Status status;
  };
  JsonObjectReader(const JsonValue& value, std::string path, std::shared_ptr<State> state);

  std::string KeyPath(absl::string_view key) const;
  void FailAt(absl::string_view path, absl::string_view message);
  // The member, or nullptr when absent or null; when `required`, a missing
  // member is recorded as an error.
  const JsonValue* Get(absl::string_view key, bool required);
  template <typename T>
  std::optional<T> Convert(const JsonValue* value, absl::string_view path,
                           absl::StatusOr<T> (JsonValue::*as)() const);
  template <typename T>
  std::vector<T> ReadArray(absl::string_view key, absl::StatusOr<T> (JsonValue::*as)() const);

  const JsonValue* value_;  // an object, or an empty object after an error
  std::string path_;
  std::shared_ptr<State> state_;  // shared with sub-readers
};

}  // namespace kvstash

#endif  // KVSTASH_COMMON_JSON_READER_H_
