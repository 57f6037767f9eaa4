// The Mooncake trace the CLI's trace commands (demo, replay, bench router)
// read by default: ../shared/data next to the working directory (the
// project's shared data), else the copy shipped in the source tree this
// binary was built from (bench/testdata), so a clean checkout works anywhere.
#ifndef KVSTASH_TOOLS_DEFAULT_TRACE_H_
#define KVSTASH_TOOLS_DEFAULT_TRACE_H_

#include <string>

namespace kvstash::tools {

std::string DefaultTracePath();

}  // namespace kvstash::tools

#endif  // KVSTASH_TOOLS_DEFAULT_TRACE_H_
