// JSON string literals: the one quoting function every JSON writer in kvstash
// uses (CLI --json output, benchmark reports, the admin HTTP API).
#ifndef KVSTASH_COMMON_JSON_STRING_H_
#define KVSTASH_COMMON_JSON_STRING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace kvstash {

// `s` as a quoted JSON string: ", \ and control characters escaped.
std::string JsonQuote(absl::string_view s);

}  // namespace kvstash

#endif  // KVSTASH_COMMON_JSON_STRING_H_
