#include "tiers/fault_fs.h"

#include <string>

namespace kvstash::tiers {
namespace {

using rocksdb::DataVerificationInfo;
using rocksdb::FileOptions;
using rocksdb::FSWritableFile;
using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

IOStatus Check(FileFaults* faults, FileFaults::Op op, const std::string& what) {
  absl::Status s = faults->Check(op, what);
  if (s.ok()) return IOStatus::OK();
  return IOStatus::IOError(std::string(s.message()));
}

class FaultWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultWritableFile(std::unique_ptr<FSWritableFile> file, FileFaults* faults, std::string name)
      : FSWritableFileOwnerWrapper(std::move(file)), faults_(faults), name_(std::move(name)) {}

  IOStatus Append(const Slice& data, const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = Check(faults_, FileFaults::Op::kWrite, name_);
    return s.ok() ? target()->Append(data, o, dbg) : s;
  }
  IOStatus Append(const Slice& data, const IOOptions& o, const DataVerificationInfo& info,
                  IODebugContext* dbg) override {
    IOStatus s = Check(faults_, FileFaults::Op::kWrite, name_);
    return s.ok() ? target()->Append(data, o, info, dbg) : s;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                            IODebugContext* dbg) override {
    IOStatus s = Check(faults_, FileFaults::Op::kWrite, name_);
    return s.ok() ? target()->PositionedAppend(data, offset, o, dbg) : s;
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = Check(faults_, FileFaults::Op::kSync, name_);
    return s.ok() ? target()->Sync(o, dbg) : s;
  }
  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = Check(faults_, FileFaults::Op::kSync, name_);
    return s.ok() ? target()->Fsync(o, dbg) : s;
  }
  IOStatus RangeSync(uint64_t offset, uint64_t n, const IOOptions& o,
                     IODebugContext* dbg) override {
    IOStatus s = Check(faults_, FileFaults::Op::kSync, name_);
    return s.ok() ? target()->RangeSync(offset, n, o, dbg) : s;
  }

 private:
  FileFaults* const faults_;
  const std::string name_;
};

class FaultFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultFileSystem(FileFaults* faults)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), faults_(faults) {}

  const char* Name() const override { return "KvstashFaultFileSystem"; }

  IOStatus NewWritableFile(const std::string& f, const FileOptions& opts,
                           std::unique_ptr<FSWritableFile>* r, IODebugContext* dbg) override {
    return Wrap(f, target()->NewWritableFile(f, opts, r, dbg), r);
  }
  IOStatus ReopenWritableFile(const std::string& f, const FileOptions& opts,
                              std::unique_ptr<FSWritableFile>* r, IODebugContext* dbg) override {
    return Wrap(f, target()->ReopenWritableFile(f, opts, r, dbg), r);
  }
  IOStatus ReuseWritableFile(const std::string& f, const std::string& old, const FileOptions& opts,
                             std::unique_ptr<FSWritableFile>* r, IODebugContext* dbg) override {
    return Wrap(f, target()->ReuseWritableFile(f, old, opts, r, dbg), r);
  }

 private:
  IOStatus Wrap(const std::string& f, IOStatus s, std::unique_ptr<FSWritableFile>* r) {
    if (!s.ok()) return s;
    if (IOStatus c = Check(faults_, FileFaults::Op::kWrite, f); !c.ok()) {
      r->reset();
      return c;
    }
    *r = std::make_unique<FaultWritableFile>(std::move(*r), faults_, f);
    return s;
  }

  FileFaults* const faults_;
};

}  // namespace

std::shared_ptr<rocksdb::FileSystem> NewFaultInjectionFileSystem(FileFaults* faults) {
  return std::make_shared<FaultFileSystem>(faults);
}

std::unique_ptr<rocksdb::Env> NewFaultInjectionEnv(FileFaults* faults) {
  return rocksdb::NewCompositeEnv(NewFaultInjectionFileSystem(faults));
}

}  // namespace kvstash::tiers
