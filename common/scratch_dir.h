// A scratch directory, removed with everything in it when its owner goes.
// For benchmarks and replays that need a real filesystem (RocksDB, redis
// --dir, daemon data dirs) and must leave nothing behind.
//
// Thread safety: a value type; destroy it once nothing uses the directory.
#ifndef KVSTASH_COMMON_SCRATCH_DIR_H_
#define KVSTASH_COMMON_SCRATCH_DIR_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvstash {

class ScratchDir {
 public:
  // A new directory `<parent>/<prefix>-XXXXXX`; an empty `parent` means
  // $TMPDIR, else /tmp. Internal error naming the parent when it cannot be
  // made.
  static absl::StatusOr<std::unique_ptr<ScratchDir>> Create(std::string parent,
                                                            absl::string_view prefix);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  const std::string path_;
};

}  // namespace kvstash

#endif  // KVSTASH_COMMON_SCRATCH_DIR_H_
