// Host-tier specifics: reserve-then-commit, refcounted slots, the shared fd.
#include "tiers/host_tier.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "common/check.h"
#include "tiers/testutil.h"

namespace kvstash::tiers {
namespace {

using testing::Key;
using testing::MakeBlock;

std::unique_ptr<HostTier> NewTier(uint64_t capacity, HostTierOptions o = {}) {
  o.capacity_bytes = capacity;
  absl::StatusOr<std::unique_ptr<HostTier>> t = HostTier::Create(o);
  KVSTASH_CHECK(t.ok());
  return std::move(*t);
}

TEST(HostTier, AReservationIsInvisibleUntilCommitted) {
  auto tier = NewTier(64 << 10);
  const std::string block = MakeBlock(Key(1));
  absl::StatusOr<HostTier::Reservation> r = tier->Reserve(Key(1), block.size());
  ASSERT_TRUE(r.ok());
  std::memcpy(r->data().data(), block.data(), block.size() / 2);  // half written
  EXPECT_FALSE(tier->Contains(Key(1)));
  EXPECT_TRUE(absl::IsNotFound(tier->Get(Key(1)).status()));
  std::memcpy(r->data().data(), block.data(), block.size());
  ASSERT_TRUE(std::move(*r).Commit().ok());
  absl::StatusOr<BlockRef> ref = tier->Get(Key(1));
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->bytes(), block);
}

TEST(HostTier, AnAbandonedReservationReleasesItsSlot) {
  auto tier = NewTier(64 << 10);
  {
    absl::StatusOr<HostTier::Reservation> r = tier->Reserve(Key(1), 60 << 10);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(absl::IsResourceExhausted(tier->Reserve(Key(2), 60 << 10).status()));
  }
  EXPECT_EQ(tier->Stats().used_bytes, 0u);
  EXPECT_TRUE(tier->Reserve(Key(2), 60 << 10).ok());
}

TEST(HostTier, CommitRejectsAHalfWrittenOrMislabelledBlock) {
  auto tier = NewTier(64 << 10);
  const std::string block = MakeBlock(Key(1));
  {
    absl::StatusOr<HostTier::Reservation> r = tier->Reserve(Key(1), block.size());
    ASSERT_TRUE(r.ok());
    std::memcpy(r->data().data(), block.data(), block.size() - 10);  // torn tail
    std::memset(r->data().data() + block.size() - 10, 0, 10);
    EXPECT_TRUE(absl::IsDataLoss(std::move(*r).Commit()));
  }
  {
    absl::StatusOr<HostTier::Reservation> r = tier->Reserve(Key(2), block.size());
    ASSERT_TRUE(r.ok());
    std::memcpy(r->data().data(), block.data(), block.size());  // key 1's block
    EXPECT_TRUE(absl::IsInvalidArgument(std::move(*r).Commit()));
  }
  EXPECT_FALSE(tier->Contains(Key(1)));
  EXPECT_FALSE(tier->Contains(Key(2)));
  EXPECT_EQ(tier->Stats().used_bytes, 0u);
}

HostTierOptions Verifying() {
  HostTierOptions o;
  o.verify_reads = true;
  return o;
}

TEST(HostTier, AFlippedByteIsAMissAndCounted) {
  auto tier = NewTier(64 << 10, Verifying());
  ASSERT_TRUE(tier->Put(MakeBlock(Key(1))).ok());
  absl::StatusOr<HostTier::MappedBlock> m = tier->Map(Key(1));
  ASSERT_TRUE(m.ok());
  const HostTier::Location loc = m->location;
  m->ref = BlockRef();
  // Another mapping of the same memfd, as a misbehaving client might have.
  char* p = static_cast<char*>(
      mmap(nullptr, tier->arena_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED, tier->fd(), 0));
  ASSERT_NE(p, MAP_FAILED);
  p[loc.offset + loc.length - 1] ^= 0x40;
  munmap(p, tier->arena_bytes());
  EXPECT_TRUE(absl::IsDataLoss(tier->Get(Key(1)).status()));
  EXPECT_FALSE(tier->Contains(Key(1)));
  EXPECT_EQ(tier->Stats().checksum_failures, 1u);
  EXPECT_EQ(tier->Stats().used_bytes, 0u);
}

TEST(HostTier, ReadIntoCatchesAFlippedByteWhileCopying) {
  auto tier = NewTier(64 << 10, Verifying());
  const std::string block = MakeBlock(Key(1));
  ASSERT_TRUE(tier->Put(block).ok());
  auto m = tier->Map(Key(1));
  ASSERT_TRUE(m.ok());
  const_cast<char*>(m->ref.bytes().data())[block.size() / 2] ^= 1;  // a stray write
  m->ref = BlockRef();
  std::string dst(block.size(), '\0');
  EXPECT_TRUE(absl::IsDataLoss(tier->ReadInto(Key(1), absl::MakeSpan(dst)).status()));
  EXPECT_FALSE(tier->Contains(Key(1)));
  EXPECT_EQ(tier->Stats().checksum_failures, 1u);
}

TEST(HostTier, WithoutReadVerificationAFlipIsOnlyCaughtAtCommit) {
  auto tier = NewTier(64 << 10);
  const std::string block = MakeBlock(Key(1));
  ASSERT_TRUE(tier->Put(block).ok());
  auto m = tier->Map(Key(1));
  ASSERT_TRUE(m.ok());
  const_cast<char*>(m->ref.bytes().data())[block.size() - 1] ^= 1;
  m->ref = BlockRef();
  EXPECT_TRUE(tier->Get(Key(1)).ok());  // trusted after commit, by default
  EXPECT_EQ(tier->Stats().hits, 2u);
}

TEST(HostTier, APinnedSlotIsNotReusedUntilReleased) {
  auto tier = NewTier(16 << 10);  // four 4 KiB slots
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(tier->Put(MakeBlock(Key(i))).ok());
  absl::StatusOr<BlockRef> ref = tier->Get(Key(0));
  ASSERT_TRUE(ref.ok());
  ASSERT_TRUE(tier->Erase(Key(0)).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(tier->Put(MakeBlock(Key(9)))));
  EXPECT_EQ(ref->bytes(), MakeBlock(Key(0)));
  *ref = BlockRef();  // the last reader leaves: the slot is free now
  EXPECT_TRUE(tier->Put(MakeBlock(Key(9))).ok());
}

// Readers in other processes must not be able to write or resize the arena:
// a shrunk memfd would make the node's own reads fault.
TEST(HostTier, TheReaderFdCannotWriteOrResizeTheArena) {
  auto tier = NewTier(64 << 10);
  EXPECT_EQ(
      mmap(nullptr, tier->arena_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED, tier->reader_fd(), 0),
      MAP_FAILED);
  EXPECT_NE(ftruncate(tier->reader_fd(), 0), 0);
  EXPECT_NE(ftruncate(tier->fd(), 4096), 0);  // sealed even through the writable fd
  EXPECT_NE(ftruncate(tier->fd(), int64_t{1} << 30), 0);
}

TEST(HostTier, AnotherProcessMapsTheBlockThroughTheFd) {
  auto tier = NewTier(64 << 10);
  const std::string block = MakeBlock(Key(1), 5);
  ASSERT_TRUE(tier->Put(block).ok());
  absl::StatusOr<HostTier::MappedBlock> m = tier->Map(Key(1));
  ASSERT_TRUE(m.ok());
  const HostTier::Location loc = m->location;
  EXPECT_EQ(loc.fd, tier->reader_fd());
  EXPECT_EQ(loc.length, block.size());
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // the child maps the inherited fd read-only and checks
    void* p = mmap(nullptr, loc.offset + loc.length, PROT_READ, MAP_SHARED, loc.fd, 0);
    if (p == MAP_FAILED) _exit(2);
    const bool same =
        std::memcmp(static_cast<char*>(p) + loc.offset, block.data(), block.size()) == 0;
    _exit(same ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(HostTier, ExactSlotClassesWasteNothing) {
  const std::string block = MakeBlock(Key(1));
  HostTierOptions o;
  o.slot_sizes = {block.size()};
  auto tier = NewTier(40 << 10, o);  // 4 KiB granule: 10 slots
  EXPECT_EQ(tier->Charge(block.size()), 4096u);
  int n = 0;
  while (tier->Put(MakeBlock(Key(n))).ok()) ++n;
  EXPECT_EQ(n, 10);
  EXPECT_EQ(tier->Stats().used_bytes, tier->capacity_bytes());
}

}  // namespace
}  // namespace kvstash::tiers
