// Bytes flipped in RocksDB's own files (blob files, SSTs, the WAL) under a
// closed disk tier: after reopening, every block is either returned exactly
// as written or is a miss; a block that fails verification is counted in
// checksum_failures and never returned.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "tiers/disk_tier.h"
#include "tiers/testutil.h"

namespace kvstash::tiers {
namespace {

using testing::Key;
using testing::MakeBlock;

constexpr int kBlocks = 300;
const kernels::KvGeometry kGeometry{4, 4, 64, 8, 2};  // 9 KiB NVFP4 blocks

class DiskCorruptionTest : public ::testing::Test {
 protected:
  std::unique_ptr<DiskTier> Open() {
    DiskTierOptions o;
    o.dir = dir_.path();
    o.sync = sync_;
    o.write_buffer_bytes = 1 << 20;  // several SST + blob files
    absl::StatusOr<std::unique_ptr<DiskTier>> t = DiskTier::Open(o, Env::Default());
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? std::move(*t) : nullptr;
  }

  void Write(bool flush) {
    auto tier = Open();
    for (int i = 0; i < kBlocks; ++i) {
      ASSERT_TRUE(tier->Put(MakeBlock(Key(i), i, kGeometry)).ok());
    }
    if (flush) {
      ASSERT_TRUE(tier->Flush().ok());
    }
  }

  std::vector<std::string> Files(const std::string& suffix) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
      const std::string p = e.path().string();
      const bool match = p.size() >= suffix.size() &&
                         p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0;
      if (match && e.file_size() > 0) out.push_back(p);
    }
    return out;
  }

  // Flips one random bit in each of `n` random bytes of the files, within
  // the first `fraction` of each file.
  void Flip(const std::vector<std::string>& files, int n, uint64_t seed, double fraction = 1) {
    ASSERT_FALSE(files.empty());
    std::mt19937_64 rng(seed);
    for (int i = 0; i < n; ++i) {
      const std::string& f = files[rng() % files.size()];
      const int fd = open(f.c_str(), O_RDWR);
      ASSERT_GE(fd, 0) << f;
      const off_t size = lseek(fd, 0, SEEK_END);
      const off_t at = static_cast<off_t>(rng() % std::max<off_t>(1, size * fraction));
      char c;
      ASSERT_EQ(pread(fd, &c, 1, at), 1);
      c ^= static_cast<char>(1 << (rng() % 8));
      ASSERT_EQ(pwrite(fd, &c, 1, at), 1);
      close(fd);
    }
  }

  struct Outcome {
    int exact = 0, missing = 0, data_loss = 0, wrong = 0;
  };

  // Reads every block back: exact bytes, or a miss; never anything else.
  Outcome Verify(DiskTier& tier) {
    Outcome o;
    for (int i = 0; i < kBlocks; ++i) {
      absl::StatusOr<BlockRef> ref = tier.Get(Key(i));
      if (ref.ok()) {
        (ref->bytes() == MakeBlock(Key(i), i, kGeometry) ? o.exact : o.wrong)++;
      } else if (absl::IsDataLoss(ref.status())) {
        o.data_loss++;
        EXPECT_FALSE(tier.Contains(Key(i)));  // dropped, a miss from now on
        EXPECT_TRUE(absl::IsNotFound(tier.Get(Key(i)).status()));
      } else {
        EXPECT_TRUE(absl::IsNotFound(ref.status())) << ref.status();
        o.missing++;
      }
    }
    return o;
  }

  testing::ScopedTempDir dir_;
  SyncPolicy sync_ = DiskTierOptions().sync;
};

TEST_F(DiskCorruptionTest, FlippedBlobBytesAreCountedMissesNeverData) {
  Write(/*flush=*/true);
  Flip(Files(".blob"), 40, 1);
  auto tier = Open();
  ASSERT_NE(tier, nullptr);
  const uint64_t at_open = tier->Stats().checksum_failures;
  const Outcome o = Verify(*tier);
  EXPECT_EQ(o.wrong, 0);
  EXPECT_GT(o.data_loss, 0);
  EXPECT_EQ(tier->Stats().checksum_failures, at_open + o.data_loss);
  EXPECT_EQ(o.exact + o.data_loss + o.missing, kBlocks);
  std::cerr << "blob flips: " << o.exact << " exact, " << o.data_loss << " corrupt, " << o.missing
            << " missing\n";
  // The corrupt blocks are gone for good: a reopen does not resurrect them.
  tier.reset();
  tier = Open();
  EXPECT_EQ(Verify(*tier).wrong, 0);
}

TEST_F(DiskCorruptionTest, FlippedSstBytesAreMissesNeverData) {
  Write(/*flush=*/true);
  Flip(Files(".sst"), 20, 2);
  auto tier = Open();
  ASSERT_NE(tier, nullptr);
  const Outcome o = Verify(*tier);
  EXPECT_EQ(o.wrong, 0);
  std::cerr << "sst flips: " << o.exact << " exact, " << o.data_loss << " corrupt, " << o.missing
            << " missing, " << tier->Stats().checksum_failures << " counted\n";
  // Damage RocksDB cannot open past sets the database aside (every block a
  // miss); damage in data blocks loses only the entries there. Counted
  // either way.
  if (o.exact < kBlocks) {
    EXPECT_GT(tier->Stats().checksum_failures, 0u);
  }
  EXPECT_EQ(tier->Stats().blocks, static_cast<uint64_t>(o.exact));
}

TEST_F(DiskCorruptionTest, FlippedSstDataBlocksAreMissesNeverData) {
  Write(/*flush=*/true);
  Flip(Files(".sst"), 10, 4, /*fraction=*/0.5);  // data blocks lead an SST; index and footer trail
  auto tier = Open();
  ASSERT_NE(tier, nullptr);
  const Outcome o = Verify(*tier);
  EXPECT_EQ(o.wrong, 0);
  if (o.exact < kBlocks) {
    EXPECT_GT(tier->Stats().checksum_failures, 0u);
  }
  std::cerr << "sst data flips: " << o.exact << " exact, " << o.data_loss << " corrupt, "
            << o.missing << " missing, " << tier->Stats().checksum_failures << " counted\n";
}

TEST_F(DiskCorruptionTest, AFlippedWalRecordLosesTheTailNeverData) {
  sync_ = SyncPolicy::kProcessCrash;  // kBarrier keeps blocks out of the WAL
  Write(/*flush=*/false);             // everything still in the WAL
  Flip(Files(".log"), 5, 3);
  auto tier = Open();
  ASSERT_NE(tier, nullptr);
  const Outcome o = Verify(*tier);
  EXPECT_EQ(o.wrong, 0);
  EXPECT_EQ(o.data_loss, 0);  // WAL records are checked by RocksDB at replay
  std::cerr << "wal flips: " << o.exact << " exact, " << o.missing << " missing\n";
}

}  // namespace
}  // namespace kvstash::tiers
