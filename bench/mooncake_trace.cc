#include "bench/mooncake_trace.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace kvstash::bench {

std::vector<uint64_t> MooncakeHashIds(const std::string& line) {
  std::vector<uint64_t> ids;
  size_t at = line.find("\"hash_ids\"");
  if (at == std::string::npos || (at = line.find('[', at)) == std::string::npos) return ids;
  const size_t end = line.find(']', at);
  for (size_t p = at + 1; p < end;) {
    const size_t comma = std::min(line.find(',', p), end);
    uint64_t v = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(p, comma - p)), &v)) {
      ids.push_back(v);
    }
    p = comma + 1;
  }
  return ids;
}

}  // namespace kvstash::bench
