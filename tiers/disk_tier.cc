#include "tiers/disk_tier.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"
#include "tiers/fault_fs.h"
#include "tiers/rocksdb_crc32c.h"

namespace kvstash::tiers {
namespace {

constexpr char kDataPrefix = 'd';               // + big-endian seq -> block
constexpr char kMetaPrefix = 'k';               // + EncodeKey(key) -> seq + header
constexpr char kLegacyPrefixes[] = {'b', 'm'};  // format 1
constexpr size_t kSeqBytes = 8;

std::string EncodeSeq(uint64_t seq) {
  std::string out(kSeqBytes, '\0');
  for (size_t i = 0; i < kSeqBytes; ++i) out[i] = static_cast<char>(seq >> (56 - 8 * i));
  return out;
}

uint64_t DecodeSeq(const char* p) {
  uint64_t seq = 0;
  for (size_t i = 0; i < kSeqBytes; ++i) seq = seq << 8 | static_cast<uint8_t>(p[i]);
  return seq;
}

std::string DataKey(uint64_t seq) { return kDataPrefix + EncodeSeq(seq); }
std::string MetaKey(const BlockKey& key) { return kMetaPrefix + EncodeKey(key); }

// Whether `dir`'s filesystem takes O_DIRECT writes (tmpfs may refuse them).
bool SupportsDirectWrites(const std::string& dir) {
  const std::string probe = dir + "/.direct_probe";
  const int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644);
  if (fd < 0) return false;
  constexpr size_t kAlign = 4096;
  void* buf = nullptr;
  bool ok = posix_memalign(&buf, kAlign, kAlign) == 0;
  if (ok) {
    std::memset(buf, 0, kAlign);
    ok = pwrite(fd, buf, kAlign, 0) == static_cast<ssize_t>(kAlign);
  }
  free(buf);
  close(fd);
  unlink(probe.c_str());
  return ok;
}

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  const std::string msg = absl::StrCat(what, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  return absl::UnavailableError(msg);
}

rocksdb::Options DbOptions(const DiskTierOptions& o, bool direct_writes, rocksdb::Env* env) {
  rocksdb::Options options;
  options.create_if_missing = true;
  if (env != nullptr) options.env = env;
  options.enable_blob_files = true;
  options.min_blob_size = o.min_blob_bytes;
  options.blob_file_size = o.blob_file_bytes;
  options.blob_compression_type = rocksdb::kNoCompression;  // NVFP4 payloads do not compress
  options.compression = rocksdb::kNoCompression;
  // Evicted blocks leave garbage in blob files; compactions relocate the
  // live blobs of the oldest quarter of blob files so the space comes back.
  options.enable_blob_garbage_collection = true;
  options.blob_garbage_collection_age_cutoff = 0.25;
  // Many small memtables flushed in parallel: puts do not wait for a flush,
  // and the last flush of a Sync() is short (disk_tier.h, "Write path").
  options.write_buffer_size = o.write_buffer_bytes;
  options.max_write_buffer_number = std::max(2, o.write_buffers);
  options.max_background_flushes = std::max(1, o.flush_threads);
  options.max_background_compactions = 2;
  options.use_direct_io_for_flush_and_compaction = direct_writes;
  // kBarrier's puts live only in memtables until flushed: a clean close
  // must flush them (RocksDB's default, stated because it is load-bearing).
  options.avoid_flush_during_shutdown = false;
  // After power loss the unsynced WAL tail may be torn: recover up to the
  // last intact record instead of refusing to open.
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.keep_log_file_num = 2;
  options.advise_random_on_open = !o.readahead;
  return options;
}

class PinnedLease final : public BlockRef::Lease {
 public:
  rocksdb::PinnableSlice value;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DiskTier>> DiskTier::Open(const DiskTierOptions& options,
                                                         const Env& env) {
  if (options.dir.empty()) return absl::InvalidArgumentError("disk tier: dir is empty");
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("disk tier: cannot create ", options.dir, ": ", ec.message()));
  }
  std::unique_ptr<rocksdb::Env> rocks_env;
  if (env.faults != nullptr) rocks_env = NewFaultInjectionEnv(env.faults);
  const bool direct = options.direct_writes && SupportsDirectWrites(options.dir);
  std::unique_ptr<DiskTier> tier(new DiskTier(options, std::move(rocks_env), direct));
  if (absl::Status s = tier->OpenDb(); !s.ok()) return s;
  if (absl::Status s = tier->Rebuild(); !s.ok()) return s;
  return tier;
}

DiskTier::DiskTier(const DiskTierOptions& options, std::unique_ptr<rocksdb::Env> env,
                   bool direct_writes)
    : options_(options),
      fast_crc32c_(RocksDbUsesKvstashCrc32c() && Crc32cIsHardware()),
      direct_writes_(direct_writes),
      env_(std::move(env)) {
  stats_.name = options.name;
}

DiskTier::~DiskTier() {
  if (db_ != nullptr) db_->Close().PermitUncheckedError();
}

absl::Status DiskTier::OpenDb() {
  rocksdb::DB* db = nullptr;
  const rocksdb::Options options = DbOptions(options_, direct_writes_, env_.get());
  rocksdb::Status s = rocksdb::DB::Open(options, options_.dir, &db);
  if (s.IsCorruption()) {
    // Damage RocksDB cannot open past (a corrupt manifest, SST index or
    // properties block). The tier is a cache: set the database aside as
    // <dir>.corrupt (replacing an older one, so at most one copy costs
    // space) and start empty; every block is then a miss, counted once.
    const std::string aside = options_.dir + ".corrupt";
    std::error_code ec;
    std::filesystem::remove_all(aside, ec);
    std::filesystem::rename(options_.dir, aside, ec);
    if (ec) {
      return absl::DataLossError(absl::StrCat("disk tier: ", options_.dir, " is corrupt (",
                                              s.ToString(),
                                              ") and cannot be moved aside: ", ec.message()));
    }
    {
      MutexLock lock(&mu_);
      stats_.checksum_failures++;
    }
    s = rocksdb::DB::Open(options, options_.dir, &db);
  }
  if (!s.ok()) return FromRocks(s, absl::StrCat("disk tier: open ", options_.dir));
  db_.reset(db);
  return absl::OkStatus();
}

bool DiskTier::ScanMeta(bool verify_rocksdb, std::vector<BadMeta>* bad) {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = verify_rocksdb;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  MutexLock lock(&mu_);
  index_.clear();
  used_ = 0;
  for (it->Seek(std::string(1, kMetaPrefix)); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    if (k.empty() || k[0] != kMetaPrefix) break;
    absl::StatusOr<BlockKey> key = DecodeKey(absl::string_view(k.data() + 1, k.size() - 1));
    if (!key.ok()) continue;  // cannot name a block to drop
    const rocksdb::Slice v = it->value();
    if (v.size() < kSeqBytes) {
      bad->push_back(BadMeta{*key, std::nullopt});
      continue;
    }
    const uint64_t seq = DecodeSeq(v.data());
    absl::StatusOr<BlockHeader> h =
        ParseHeader(absl::string_view(v.data() + kSeqBytes, v.size() - kSeqBytes));
    if (!h.ok() || h->key != *key) {
      bad->push_back(BadMeta{*key, seq});
      continue;
    }
    const uint64_t bytes = SerializedBytes(*h);
    index_[*key] = Entry{bytes, h->parent, h->priority, seq};
    used_ += bytes;
    next_seq_ = std::max(next_seq_, seq + 1);
  }
  return it->status().ok();
}

void DiskTier::DropLegacy() {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (char prefix : kLegacyPrefixes) {
    const std::string begin(1, prefix), end(1, static_cast<char>(prefix + 1));
    it->Seek(begin);
    if (!it->Valid() || it->key()[0] != prefix) continue;
    const rocksdb::Status s =
        db_->DeleteRange(rocksdb::WriteOptions(), db_->DefaultColumnFamily(), begin, end);
    if (!s.ok()) WriteError("drop format-1 blocks", FromRocks(s, "disk tier")).IgnoreError();
  }
}

absl::Status DiskTier::Rebuild() {
  DropLegacy();
  std::vector<BadMeta> bad;
  if (!ScanMeta(/*verify_rocksdb=*/true, &bad)) {
    // A corrupt SST block ended the checked scan. Scan again without
    // RocksDB's checksums, keeping only entries whose header verifies and
    // names its own key, so blocks behind the damage stay reachable; what
    // cannot be read is a miss. Either way every block read later is
    // verified in full.
    {
      MutexLock lock(&mu_);
      stats_.checksum_failures++;
    }
    bad.clear();
    ScanMeta(/*verify_rocksdb=*/false, &bad);
  }
  {
    MutexLock lock(&mu_);
    stats_.checksum_failures += bad.size();
  }
  // A bad entry's seq may itself be damaged; deleting the wrong 'd' entry
  // costs another block (a counted miss when read), never wrong data.
  for (const BadMeta& b : bad) DeleteFromDb(b.key, b.seq).IgnoreError();
  return absl::OkStatus();
}

rocksdb::Status DiskTier::Write(const rocksdb::WriteOptions& wo, rocksdb::WriteBatch* batch) {
  if (!options_.serialize_writes) return db_->Write(wo, batch);
  MutexLock lock(&write_mu_);  // held across the write: serialising it is the point
  return db_->Write(wo, batch);
}

absl::Status DiskTier::CheckWritableLocked() const {
  if (error_.ok()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "disk tier '", options_.name, "' is read-only after a write error: ", error_.message()));
}

absl::Status DiskTier::WriteError(absl::string_view op, const absl::Status& s) {
  MutexLock lock(&mu_);
  stats_.write_errors++;
  if (error_.ok()) error_ = absl::Status(s.code(), absl::StrCat(op, ": ", s.message()));
  return s;
}

void DiskTier::ClaimKeyLocked(const BlockKey& key) {
  while (busy_.contains(key)) key_released_.Wait(&mu_);
  busy_.insert(key);
}

void DiskTier::ReleaseKeyLocked(const BlockKey& key) {
  busy_.erase(key);
  key_released_.SignalAll();
}

absl::Status DiskTier::Put(absl::string_view block) {
  absl::StatusOr<BlockHeader> h = ParseHeader(block);
  if (!h.ok()) return h.status();
  const uint64_t bytes = SerializedBytes(*h);
  if (bytes != block.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("block has ", block.size(), " bytes, its header says ", bytes));
  }
  uint64_t seq = 0;
  std::optional<uint64_t> replaced_seq;
  {
    MutexLock lock(&mu_);
    ClaimKeyLocked(h->key);
    auto it = index_.find(h->key);
    const uint64_t replaced = it == index_.end() ? 0 : it->second.bytes;
    absl::Status s = CheckWritableLocked();
    if (s.ok() && used_ - replaced + reserved_ + bytes > options_.capacity_bytes) {
      s = absl::ResourceExhaustedError(absl::StrCat("disk tier '", options_.name, "': no room for ",
                                                    bytes, " bytes (", used_ + reserved_, " of ",
                                                    options_.capacity_bytes, " in use)"));
    }
    if (!s.ok()) {
      ReleaseKeyLocked(h->key);
      return s;
    }
    reserved_ += bytes;
    seq = next_seq_++;
    if (it != index_.end()) replaced_seq = it->second.seq;
  }
  const std::string meta = EncodeSeq(seq);
  const size_t header_bytes = EncodedHeaderBytes(*h);
  // Reserved up front: growing the batch past the block would copy it again.
  rocksdb::WriteBatch batch(block.size() + header_bytes + 256);
  batch.Put(DataKey(seq), rocksdb::Slice(block.data(), block.size()));
  rocksdb::Slice meta_parts[2] = {meta, rocksdb::Slice(block.data(), header_bytes)};
  const std::string meta_key = MetaKey(h->key);
  rocksdb::Slice key_part(meta_key);
  batch.Put(rocksdb::SliceParts(&key_part, 1), rocksdb::SliceParts(meta_parts, 2));
  if (replaced_seq.has_value()) batch.Delete(DataKey(*replaced_seq));
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync == SyncPolicy::kPowerLoss;
  wo.disableWAL = options_.sync == SyncPolicy::kBarrier;  // durable at the next flush
  const rocksdb::Status s = Write(wo, &batch);
  {
    MutexLock lock(&mu_);
    reserved_ -= bytes;
    ReleaseKeyLocked(h->key);
    if (s.ok()) {
      Entry& e = index_[h->key];
      used_ = used_ - e.bytes + bytes;
      e = Entry{bytes, h->parent, h->priority, seq};
      stats_.puts++;
      stats_.bytes_in += bytes;
      return absl::OkStatus();
    }
  }
  return WriteError("put", FromRocks(s, "disk tier write"));
}

absl::StatusOr<BlockRef> DiskTier::Get(const BlockKey& key) {
  uint64_t seq = 0;
  {
    MutexLock lock(&mu_);
    auto it = index_.find(key);
    if (it == index_.end()) {
      stats_.misses++;
      return absl::NotFoundError(absl::StrCat("disk tier: no block ", key.ToString()));
    }
    seq = it->second.seq;
  }
  return Read(key, seq);
}

absl::StatusOr<BlockRef> DiskTier::Read(const BlockKey& key, uint64_t seq) {
  auto lease = std::make_unique<PinnedLease>();
  rocksdb::ReadOptions ro;
  ro.verify_checksums = options_.verify_rocksdb_checksums;
  const rocksdb::Status rs = db_->Get(ro, db_->DefaultColumnFamily(), DataKey(seq), &lease->value);
  absl::Status status = FromRocks(rs, "disk tier read");
  if (rs.IsNotFound()) {
    MutexLock lock(&mu_);
    auto it = index_.find(key);
    if (it == index_.end() || it->second.seq != seq || busy_.contains(key)) {
      stats_.misses++;  // erased or replaced after the index lookup
      return status;
    }
    // Indexed but unreadable: its key in the SST was damaged.
    status = absl::DataLossError(absl::StrCat("disk tier: block ", key.ToString(),
                                              " is indexed but missing from the database"));
  }
  if (!status.ok() && !absl::IsDataLoss(status)) return status;  // I/O error: not the block's fault
  const absl::string_view bytes(lease->value.data(), lease->value.size());
  if (status.ok()) {
    absl::StatusOr<ParsedBlock> p = ParseBlock(bytes);
    if (!p.ok()) {
      status = p.status();
    } else if (p->header.key != key) {
      status = absl::DataLossError(absl::StrCat("disk tier: block stored under ", key.ToString(),
                                                " is ", p->header.key.ToString()));
    }
  }
  if (!status.ok()) {
    DropCorrupt(key, seq);
    return status;
  }
  MutexLock lock(&mu_);
  stats_.hits++;
  stats_.bytes_out += bytes.size();
  return BlockRef(bytes, std::move(lease));
}

void DiskTier::DropCorrupt(const BlockKey& key, uint64_t seq) {
  bool drop = false;
  {
    MutexLock lock(&mu_);
    stats_.checksum_failures++;
    ClaimKeyLocked(key);
    auto it = index_.find(key);
    if (it != index_.end() && it->second.seq == seq) {
      used_ -= it->second.bytes;
      index_.erase(it);
      drop = error_.ok();
    }
  }
  if (drop) DeleteFromDb(key, seq).IgnoreError();
  MutexLock lock(&mu_);
  ReleaseKeyLocked(key);
}

absl::Status DiskTier::DeleteFromDb(const BlockKey& key, std::optional<uint64_t> seq) {
  rocksdb::WriteBatch batch;
  batch.Delete(MetaKey(key));
  if (seq.has_value()) batch.Delete(DataKey(*seq));
  rocksdb::WriteOptions wo;  // through the WAL under every policy (disk_tier.h)
  wo.sync = options_.sync == SyncPolicy::kPowerLoss;
  const rocksdb::Status s = Write(wo, &batch);
  if (s.ok()) return absl::OkStatus();
  return WriteError("erase", FromRocks(s, "disk tier delete"));
}

absl::Status DiskTier::Erase(const BlockKey& key) {
  uint64_t seq = 0;
  {
    MutexLock lock(&mu_);
    ClaimKeyLocked(key);
    auto it = index_.find(key);
    absl::Status s = it == index_.end()
                         ? absl::NotFoundError(absl::StrCat("disk tier: no block ", key.ToString()))
                         : CheckWritableLocked();
    if (!s.ok()) {
      ReleaseKeyLocked(key);
      return s;
    }
    seq = it->second.seq;
  }
  const absl::Status s = DeleteFromDb(key, seq);
  MutexLock lock(&mu_);
  ReleaseKeyLocked(key);
  if (!s.ok()) return s;
  auto it = index_.find(key);
  if (it != index_.end()) {
    used_ -= it->second.bytes;
    index_.erase(it);
  }
  stats_.erases++;
  return absl::OkStatus();
}

bool DiskTier::Contains(const BlockKey& key) const {
  MutexLock lock(&mu_);
  return index_.contains(key);
}

std::vector<StoredBlock> DiskTier::List() const {
  MutexLock lock(&mu_);
  std::vector<StoredBlock> out;
  out.reserve(index_.size());
  for (const auto& [key, e] : index_)
    out.push_back(StoredBlock{key, e.parent, e.priority, e.bytes});
  return out;
}

TierStats DiskTier::Stats() const {
  MutexLock lock(&mu_);
  TierStats s = stats_;
  s.capacity_bytes = options_.capacity_bytes;
  s.used_bytes = used_ + reserved_;
  s.blocks = index_.size();
  s.read_only = !error_.ok();
  s.error = error_.ok() ? "" : std::string(error_.message());
  return s;
}

absl::Status DiskTier::Sync() {
  if (options_.sync == SyncPolicy::kBarrier) {
    if (absl::Status s = Flush(); !s.ok()) return s;  // the puts
  }
  const rocksdb::Status s = db_->FlushWAL(/*sync=*/true);  // the erases, or everything
  if (s.ok()) return absl::OkStatus();
  return WriteError("sync", FromRocks(s, "disk tier WAL sync"));
}

absl::Status DiskTier::Flush() {
  rocksdb::FlushOptions fo;
  fo.wait = true;
  const rocksdb::Status s = db_->Flush(fo);
  if (s.ok()) return absl::OkStatus();
  return WriteError("flush", FromRocks(s, "disk tier flush"));
}

}  // namespace kvstash::tiers
