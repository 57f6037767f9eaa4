#include "tools/default_trace.h"

#include <unistd.h>

#ifndef KVSTASH_SOURCE_DIR
#error "KVSTASH_SOURCE_DIR must name the source tree (CMake sets it)"
#endif

namespace kvstash::tools {

std::string DefaultTracePath() {
  constexpr char kName[] = "mooncake_synthetic_trace.jsonl";
  const std::string local = std::string("../shared/data/") + kName;
  if (::access(local.c_str(), R_OK) == 0) return local;
  return std::string(KVSTASH_SOURCE_DIR "/bench/testdata/") + kName;
}

}  // namespace kvstash::tools
