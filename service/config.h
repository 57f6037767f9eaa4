// The kvstash config-file format: one `key = value` per line.
//
//   # a comment; blank lines are fine
//   layers = 32
//   data_dir = "/var/lib/kvstash"   # quoted: may hold '#', '=' and spaces
//   label = 'no \escapes here'      # single quotes: taken literally
//
// Keys are [A-Za-z0-9_.-]+. An unquoted value runs to the end of the line or
// to a '#', with surrounding whitespace trimmed; it may be empty. A double-
// quoted value understands \" \\ \n and \t. A key may appear once: a second
// occurrence is an error, as is any line that is not a comment, blank or
// `key = value`. Every error names "source:line" and, where there is one, the
// key. CRLF line ends are accepted.
//
// The format carries strings only; what a value means is decided by the code
// that reads the key (service/options.h, service/profile.h). The Parse*
// helpers below give those readers the same strict number syntax, and
// ConfigMap::Annotate() names where a bad value came from.
//
// Thread safety: ConfigMap is an immutable value once parsed; the functions
// are pure except LoadConfigFile, which reads the file system.
#ifndef KVSTASH_SERVICE_CONFIG_H_
#define KVSTASH_SERVICE_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvstash::service {

struct ConfigValue {
  std::string value;
  int line = 0;  // 1-based line in the source
};

class ConfigMap {
 public:
  explicit ConfigMap(std::string source) : source_(std::move(source)) {}

  // Where the text came from: a path, or a name such as "<flags>".
  const std::string& source() const { return source_; }
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  bool Has(absl::string_view key) const;
  // nullptr when the key is absent.
  const ConfigValue* Find(absl::string_view key) const;
  // Keys in the order they appear in the source.
  std::vector<std::string> KeysInOrder() const;
  const std::map<std::string, ConfigValue, std::less<>>& entries() const { return entries_; }

  // "source:line" for a key that is present, else "source".
  std::string Where(absl::string_view key) const;
  // `status` with its message prefixed by "source:line: key: ". OK stays OK.
  absl::Status Annotate(absl::string_view key, const absl::Status& status) const;

  // Adds a key; InvalidArgument naming both lines when it is already set.
  absl::Status Insert(std::string key, std::string value, int line);

 private:
  std::string source_;
  std::map<std::string, ConfigValue, std::less<>> entries_;
};

// Parses `text`; `source_name` (a path) is used in error messages.
absl::StatusOr<ConfigMap> ParseConfig(absl::string_view text, absl::string_view source_name);

// Reads and parses a file. NotFound when it does not exist, PermissionDenied
// or Unavailable on other read errors, InvalidArgument for bad syntax or a
// file over kMaxConfigFileBytes.
inline constexpr size_t kMaxConfigFileBytes = 1 << 20;
absl::StatusOr<ConfigMap> LoadConfigFile(const std::string& path);

// Strict value syntax shared by every reader of config values and flags.
// Errors quote the value and say what was expected, without context; callers
// prefix where the value came from.
//
// Decimal digits only, no sign, no whitespace; fails above `max`.
absl::StatusOr<uint64_t> ParseUint(absl::string_view text, uint64_t max = UINT64_MAX);
// A finite decimal number (e.g. "0.25", "1e-3").
absl::StatusOr<double> ParseDouble(absl::string_view text);
// A finite number >= 0.
absl::StatusOr<double> ParseNonNegative(absl::string_view text);
// A comma-separated list of finite numbers; whitespace around items is fine.
absl::StatusOr<std::vector<float>> ParseFloatList(absl::string_view text);

}  // namespace kvstash::service

#endif  // KVSTASH_SERVICE_CONFIG_H_
