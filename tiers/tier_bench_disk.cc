// Disk half of `kvstash bench tiers` (tier_bench.h): DiskTier against a plain
// file holding the same bytes, written and read under the same sync policy
// and with the same cold page cache.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "tiers/disk_tier.h"
#include "tiers/tier_bench_internal.h"

namespace kvstash::tiers::bench_internal {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", strerror(errno)));
}

// fsyncs every file under `path` and drops it from the page cache, so the
// next read comes from the device.
absl::Status DropCache(const std::string& path) {
  std::error_code ec;
  std::vector<std::string> files;
  if (std::filesystem::is_directory(path, ec)) {
    for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
      if (e.is_regular_file()) files.push_back(e.path().string());
    }
  } else {
    files.push_back(path);
  }
  for (const std::string& f : files) {
    const int fd = open(f.c_str(), O_RDONLY);
    if (fd < 0 && errno == ENOENT) continue;  // a compaction deleted it since the listing
    if (fd < 0) return Errno(absl::StrCat("open ", f));
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
  }
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno("write");
    data.remove_prefix(n);
  }
  return absl::OkStatus();
}

// Returns seconds to write blocks[0, n) to `path` and make them durable:
// one fdatasync at the end, or after every block under kPowerLoss.
absl::StatusOr<double> FileWrite(const std::string& path, const std::vector<std::string>& blocks,
                                 size_t n, SyncPolicy sync) {
  const double t0 = Now();
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return Errno(absl::StrCat("open ", path));
  absl::Status s;
  for (size_t i = 0; i < n && s.ok(); ++i) {
    s = WriteAll(fd, blocks[i]);
    if (s.ok() && sync == SyncPolicy::kPowerLoss && fdatasync(fd) != 0) s = Errno("fdatasync");
  }
  if (s.ok() && fdatasync(fd) != 0) s = Errno("fdatasync");
  close(fd);
  if (!s.ok()) return s;
  return Now() - t0;
}

absl::StatusOr<double> FileRead(const std::string& path, uint64_t block, size_t n, char* buf) {
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return Errno(absl::StrCat("open ", path));
  const double t0 = Now();
  for (size_t i = 0; i < n; ++i) {
    if (pread(fd, buf, block, static_cast<off_t>(i * block)) != static_cast<ssize_t>(block)) {
      close(fd);
      return Errno("pread");
    }
  }
  const double spent = Now() - t0;
  close(fd);
  return spent;
}

absl::StatusOr<std::unique_ptr<DiskTier>> OpenTier(const TierBenchOptions& o,
                                                   const std::string& dir) {
  DiskTierOptions d;
  d.dir = dir;
  d.capacity_bytes = uint64_t{1} << 50;
  d.sync = o.sync;
  return DiskTier::Open(d, Env::Default());
}

absl::StatusOr<double> TierWrite(const TierBenchOptions& o, const std::string& dir,
                                 const std::vector<std::string>& blocks, size_t n) {
  absl::StatusOr<std::unique_ptr<DiskTier>> tier = OpenTier(o, dir);
  if (!tier.ok()) return tier.status();
  const double t0 = Now();
  for (size_t i = 0; i < n; ++i) {
    if (absl::Status s = (*tier)->Put(blocks[i]); !s.ok()) return s;
  }
  if (absl::Status s = (*tier)->Flush(); !s.ok()) return s;  // the durability barrier
  if (absl::Status s = (*tier)->Sync(); !s.ok()) return s;
  return Now() - t0;
}

absl::StatusOr<double> TierRead(const TierBenchOptions& o, const std::string& dir, size_t n) {
  absl::StatusOr<std::unique_ptr<DiskTier>> tier = OpenTier(o, dir);
  if (!tier.ok()) return tier.status();
  if (absl::Status s = DropCache(dir); !s.ok()) return s;
  const double t0 = Now();
  for (size_t i = 0; i < n; ++i) {
    absl::StatusOr<BlockRef> ref = (*tier)->Get(BenchKey(i));
    if (!ref.ok()) return ref.status();
  }
  return Now() - t0;
}

}  // namespace

absl::Status BenchDisk(const TierBenchOptions& o, const std::string& dir,
                       const std::vector<std::string>& blocks, size_t n,
                       std::vector<bench::Result>* out) {
  const uint64_t size = blocks[0].size();
  const std::string file = absl::StrCat(dir, "/plain_", size);
  const std::string db = absl::StrCat(dir, "/db_", size);
  Buffer buf(size);
  double best[4] = {1e30, 1e30, 1e30, 1e30};  // file write, tier write, file read, tier read
  for (int r = 0; r < std::max(1, o.repeats); ++r) {
    absl::StatusOr<double> t[4];
    t[0] = FileWrite(file, blocks, n, o.sync);
    t[1] = t[0].ok() ? TierWrite(o, db, blocks, n) : t[0];
    if (t[1].ok()) {
      if (absl::Status s = DropCache(file); !s.ok()) return s;
    }
    t[2] = t[1].ok() ? FileRead(file, size, n, buf.data()) : t[1];
    t[3] = t[2].ok() ? TierRead(o, db, n) : t[2];
    std::error_code ec;
    std::filesystem::remove_all(db, ec);
    std::filesystem::remove(file, ec);
    for (int i = 0; i < 4; ++i) {
      if (!t[i].ok()) return t[i].status();
      best[i] = std::min(best[i], *t[i]);
    }
  }
  const double gb = static_cast<double>(size) * n / 1e9;
  const std::string s = SizeName(size - EncodedHeaderBytes(*ParseHeader(blocks[0])));
  const char* file_write =
      o.sync == SyncPolicy::kPowerLoss ? "file_write_fdatasync_each" : "file_write_fdatasync";
  out->push_back(
      MakeResult(absl::StrCat("disk_write_", s), gb / best[1], file_write, gb / best[0]));
  out->push_back(
      MakeResult(absl::StrCat("disk_read_", s), gb / best[3], "file_read", gb / best[2]));
  return absl::OkStatus();
}

}  // namespace kvstash::tiers::bench_internal
