// A flat JSON object writer for CLI output (`--json`): keys keep their
// insertion order; doubles print with enough digits to round-trip.
#ifndef KVSTASH_TOOLS_JSON_WRITER_H_
#define KVSTASH_TOOLS_JSON_WRITER_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace kvstash::tools {

class JsonObject {
 public:
  JsonObject& Add(absl::string_view key, absl::string_view value);
  JsonObject& Add(absl::string_view key, const char* value) {
    return Add(key, absl::string_view(value));
  }
  JsonObject& Add(absl::string_view key, double value);
  JsonObject& Add(absl::string_view key, uint64_t value);
  JsonObject& Add(absl::string_view key, int64_t value);
  JsonObject& Add(absl::string_view key, int value) { return Add(key, int64_t{value}); }
  JsonObject& Add(absl::string_view key, bool value);
  JsonObject& AddNull(absl::string_view key);
  // `json` must already be valid JSON (an object or array).
  JsonObject& AddRaw(absl::string_view key, absl::string_view json);
  std::string Str() const { return "{" + body_ + "}"; }

 private:
  void Key(absl::string_view key);
  std::string body_;
};

}  // namespace kvstash::tools

#endif  // KVSTASH_TOOLS_JSON_WRITER_H_
