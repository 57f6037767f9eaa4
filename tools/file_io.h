// Whole-file reads and writes for the CLI, with errors that name the file
// and the flag it came from.
#ifndef KVSTASH_TOOLS_FILE_IO_H_
#define KVSTASH_TOOLS_FILE_IO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kvstash::tools {

absl::StatusOr<std::vector<uint8_t>> ReadWholeFile(const std::string& path,
                                                   const std::string& flag);
// Writes to PATH.tmp, then renames over PATH: a reader never sees half a file.
absl::Status WriteWholeFile(const std::string& path, const std::string& flag, const void* data,
                            size_t size);

}  // namespace kvstash::tools

#endif  // KVSTASH_TOOLS_FILE_IO_H_
