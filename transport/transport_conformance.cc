#include "transport/transport_conformance.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "transport/transport_conformance_internal.h"

namespace kvstash::transport::testing {

// Bounds every wait of the suite: a liveness guard (a hang fails the case),
// never a performance assertion.
absl::Time Deadline() { return absl::Now() + absl::Seconds(30); }

void TransportConformanceTest::SetUp() {
  absl::StatusOr<std::unique_ptr<Transport>> a = GetParam().create();
  if (absl::IsUnavailable(a.status())) GTEST_SKIP() << a.status();
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<std::unique_ptr<Transport>> b = GetParam().create();
  ASSERT_TRUE(b.ok()) << b.status();
  a_ = std::move(*a);
  b_ = std::move(*b);
}

bool TransportConformanceTest::SkipUnlessRma() {
  const Capabilities c = a_->caps();
  return !(c.rma && c.host_memory);
}

std::string FactoryName(const ::testing::TestParamInfo<TransportFactory>& info) {
  return info.param.name;
}

namespace {

#define SKIP_UNLESS_RMA() \
  if (SkipUnlessRma()) GTEST_SKIP() << a_->caps().name << " has no host-memory RMA"

// Moves `n` bytes between `t`'s local buffer and the peer's region at `offset`.
absl::Status Move(Transport& t, PeerId peer, Op op, char* local, size_t n, uint64_t remote_base,
                  const std::string& key, uint64_t offset) {
  return t.Transfer({peer, op, local, n, remote_base + offset, key}, Deadline());
}

TEST_P(TransportConformanceTest, NamesItselfAndHasAnAddress) {
  const Capabilities c = a_->caps();
  EXPECT_FALSE(c.name.empty());
  EXPECT_TRUE(c.rma || c.send_recv) << c.name << " moves nothing";
  EXPECT_TRUE(c.host_memory || c.device_memory) << c.name;
  EXPECT_FALSE(a_->LocalAddress().empty());
  EXPECT_NE(a_->LocalAddress(), b_->LocalAddress());
}

TEST_P(TransportConformanceTest, MalformedAddressesAreInvalidArgument) {
  const std::string good = b_->LocalAddress();
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x40;
  for (const std::string& bad : {std::string(), std::string("garbage"), good.substr(0, 9),
                                 good.substr(0, good.size() - 1), flipped}) {
    absl::StatusOr<PeerId> p = a_->Connect(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(p.status())) << bad.size() << ": " << p.status();
  }
  EXPECT_TRUE(absl::IsNotFound(a_->PeerStatus(987654)));
  EXPECT_TRUE(absl::IsNotFound(a_->Disconnect(987654)));
}

TEST_P(TransportConformanceTest, UnknownTransfersAreNotFound) {
  EXPECT_EQ(a_->Poll(424242).phase, TransferPhase::kFailed);
  EXPECT_TRUE(absl::IsNotFound(a_->Poll(424242).status));
  EXPECT_TRUE(absl::IsNotFound(a_->Post(424242)));
  EXPECT_TRUE(absl::IsNotFound(a_->Wait(424242, Deadline())));
  EXPECT_TRUE(absl::IsNotFound(a_->Release(424242)));
  char c = 0;
  absl::StatusOr<TransferId> id = a_->Prepare({999, Op::kGet, &c, 1, 0, "k"});
  EXPECT_FALSE(id.ok());
}

TEST_P(TransportConformanceTest, ConnectIsIdempotent) {
  SKIP_UNLESS_RMA();
  absl::StatusOr<PeerId> p1 = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(p1.ok()) << p1.status();
  absl::StatusOr<PeerId> p2 = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(p2.ok()) << p2.status();
  EXPECT_EQ(*p1, *p2);
  EXPECT_TRUE(a_->PeerStatus(*p1).ok());
}

TEST_P(TransportConformanceTest, GetAndPutAreByteExact) {
  SKIP_UNLESS_RMA();
  constexpr size_t kRegion = (8 << 20) + 8192;
  absl::StatusOr<HostBuffer> remote = HostBuffer::Create(*b_, kRegion, 11);
  ASSERT_TRUE(remote.ok()) << remote.status();
  absl::StatusOr<HostBuffer> local = HostBuffer::Create(*a_, kRegion, 22);
  ASSERT_TRUE(local.ok()) << local.status();
  absl::StatusOr<PeerId> peer = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(peer.ok()) << peer.status();
  const uint64_t base = reinterpret_cast<uintptr_t>(remote->data());
  const std::string& key = remote->reg->remote_key();
  for (size_t n : {size_t{1}, size_t{4097}, size_t{64} << 10, size_t{1} << 20, size_t{8} << 20}) {
    SCOPED_TRACE(absl::StrCat(n, " bytes"));
    const uint64_t offset = 4096 + 3;  // unaligned on both sides
    ASSERT_TRUE(Move(*a_, *peer, Op::kGet, local->data() + 5, n, base, key, offset).ok());
    EXPECT_EQ(FirstMismatch(local->data() + 5, n, 11, offset), n);
    FillPattern(local->data() + 7, n, 33 + n);
    ASSERT_TRUE(Move(*a_, *peer, Op::kPut, local->data() + 7, n, base, key, 1).ok());
    EXPECT_EQ(FirstMismatch(remote->data() + 1, n, 33 + n), n);
    FillPattern(remote->data(), kRegion, 11);
  }
  // Unregistered local memory works too.
  std::vector<char> plain(100000);
  ASSERT_TRUE(Move(*a_, *peer, Op::kGet, plain.data(), plain.size(), base, key, 0).ok());
  EXPECT_EQ(FirstMismatch(plain.data(), plain.size(), 11), plain.size());
}

TEST_P(TransportConformanceTest, AllocatedMemoryIsOwnedAndReachable) {
  SKIP_UNLESS_RMA();
  constexpr size_t kRegion = 2 << 20;
  absl::StatusOr<std::unique_ptr<Registration>> remote = b_->Allocate(kRegion, MemoryKind::kHost);
  if (absl::IsUnimplemented(remote.status())) GTEST_SKIP() << remote.status();
  ASSERT_TRUE(remote.ok()) << remote.status();
  ASSERT_NE((*remote)->base(), nullptr);
  EXPECT_EQ((*remote)->length(), kRegion);
  EXPECT_TRUE(absl::IsInvalidArgument(b_->Allocate(0, MemoryKind::kHost).status()));
  char* r = static_cast<char*>((*remote)->base());
  FillPattern(r, kRegion, 44);
  absl::StatusOr<PeerId> peer = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(peer.ok()) << peer.status();
  std::vector<char> local(kRegion);
  const uint64_t base = reinterpret_cast<uintptr_t>(r);
  const std::string& key = (*remote)->remote_key();
  ASSERT_TRUE(Move(*a_, *peer, Op::kGet, local.data(), kRegion, base, key, 0).ok());
  EXPECT_EQ(FirstMismatch(local.data(), kRegion, 44), kRegion);
  FillPattern(local.data(), 65536, 45);
  ASSERT_TRUE(Move(*a_, *peer, Op::kPut, local.data(), 65536, base, key, 100).ok());
  EXPECT_EQ(FirstMismatch(r + 100, 65536, 45), size_t{65536});
}

TEST_P(TransportConformanceTest, ManyConcurrentTransfersFromManyThreads) {
  SKIP_UNLESS_RMA();
  constexpr int kThreads = 4, kPerThread = 64;
  constexpr size_t kBlock = 16 << 10;
  absl::StatusOr<HostBuffer> remote = HostBuffer::Create(*b_, kThreads * kPerThread * kBlock, 5);
  ASSERT_TRUE(remote.ok()) << remote.status();
  absl::StatusOr<HostBuffer> local = HostBuffer::Create(*a_, kThreads * kPerThread * kBlock, 6);
  ASSERT_TRUE(local.ok()) << local.status();
  absl::StatusOr<PeerId> peer = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(peer.ok()) << peer.status();
  const uint64_t base = reinterpret_cast<uintptr_t>(remote->data());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      std::vector<TransferId> ids;
      for (int i = 0; i < kPerThread; ++i) {
        const uint64_t off = (uint64_t(th) * kPerThread + i) * kBlock;
        // Even blocks are got from b, odd ones put into b.
        const Op op = i % 2 == 0 ? Op::kGet : Op::kPut;
        absl::StatusOr<TransferId> id = a_->Prepare(
            {*peer, op, local->data() + off, kBlock, base + off, remote->reg->remote_key()});
        if (!id.ok()) {
          ++failures;
          return;
        }
        ids.push_back(*id);
      }
      if (!a_->Post(ids).ok()) ++failures;
      for (TransferId id : ids) {
        if (!a_->Wait(id, Deadline()).ok()) ++failures;
        if (!a_->Release(id).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (int b = 0; b < kThreads * kPerThread; ++b) {
    const uint64_t off = uint64_t(b) * kBlock;
    if (b % 2 == 0) {
      EXPECT_EQ(FirstMismatch(local->data() + off, kBlock, 5, off), kBlock) << "block " << b;
    } else {
      EXPECT_EQ(FirstMismatch(remote->data() + off, kBlock, 6, off), kBlock) << "block " << b;
    }
  }
}

TEST_P(TransportConformanceTest, BatchesPostTogetherAndFinishedTransfersRepost) {
  SKIP_UNLESS_RMA();
  constexpr size_t kBlock = 64 << 10;
  constexpr int kCount = 16;
  absl::StatusOr<HostBuffer> remote = HostBuffer::Create(*b_, kCount * kBlock, 8);
  absl::StatusOr<HostBuffer> local = HostBuffer::Create(*a_, kCount * kBlock, 9);
  ASSERT_TRUE(remote.ok() && local.ok());
  absl::StatusOr<PeerId> peer = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(peer.ok()) << peer.status();
  std::vector<TransferId> ids;
  for (int i = 0; i < kCount; ++i) {
    absl::StatusOr<TransferId> id = a_->Prepare(
        {*peer, Op::kGet, local->data() + i * kBlock, kBlock,
         reinterpret_cast<uintptr_t>(remote->data()) + i * kBlock, remote->reg->remote_key()});
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(a_->Poll(*id).phase, TransferPhase::kPrepared);
    EXPECT_TRUE(absl::IsFailedPrecondition(a_->Wait(*id, Deadline())));
    ids.push_back(*id);
  }
  std::vector<TransferId> twice = {ids[0], ids[0]};
  EXPECT_TRUE(absl::IsFailedPrecondition(a_->Post(twice)));
  EXPECT_EQ(a_->Poll(ids[0]).phase, TransferPhase::kPrepared);  // nothing was posted
  for (int round = 0; round < 3; ++round) {
    FillPattern(local->data(), kCount * kBlock, 100 + round);
    ASSERT_TRUE(a_->Post(ids).ok());
    for (TransferId id : ids) {
      ASSERT_TRUE(a_->Wait(id, Deadline()).ok());
      EXPECT_EQ(a_->Poll(id).phase, TransferPhase::kDone);
    }
    EXPECT_EQ(FirstMismatch(local->data(), kCount * kBlock, 8), kCount * kBlock);
  }
  for (TransferId id : ids) ASSERT_TRUE(a_->Release(id).ok());
  EXPECT_TRUE(absl::IsNotFound(a_->Release(ids[0])));
}

TEST_P(TransportConformanceTest, BadRemoteKeysAreInvalidArgument) {
  SKIP_UNLESS_RMA();
  absl::StatusOr<HostBuffer> remote = HostBuffer::Create(*b_, 4096, 1);
  absl::StatusOr<HostBuffer> mine = HostBuffer::Create(*a_, 4096, 2);
  ASSERT_TRUE(remote.ok() && mine.ok());
  absl::StatusOr<PeerId> peer = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(peer.ok()) << peer.status();
  const std::string key = remote->reg->remote_key();
  std::string flipped = key;
  flipped[key.size() / 2] ^= 1;
  char dst[64];
  const uint64_t base = reinterpret_cast<uintptr_t>(remote->data());
  for (const std::string& bad :
       {std::string(), std::string("not a key"), key.substr(0, 20), key.substr(0, key.size() - 1),
        flipped, key + "x", mine->reg->remote_key()}) {  // issued by a_, not by b_
    absl::StatusOr<TransferId> id = a_->Prepare({*peer, Op::kGet, dst, sizeof(dst), base, bad});
    EXPECT_TRUE(absl::IsInvalidArgument(id.status())) << bad.size() << ": " << id.status();
  }
}

TEST_P(TransportConformanceTest, RangesOutsideTheRegionAreOutOfRange) {
  SKIP_UNLESS_RMA();
  absl::StatusOr<HostBuffer> remote = HostBuffer::Create(*b_, 4096, 1);
  ASSERT_TRUE(remote.ok());
  absl::StatusOr<PeerId> peer = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(peer.ok()) << peer.status();
  std::vector<char> dst(8192);
  const uint64_t base = reinterpret_cast<uintptr_t>(remote->data());
  const std::string& key = remote->reg->remote_key();
  struct Case {
    uint64_t addr;
    size_t n;
  };
  for (const Case& c : {Case{base - 1, 1}, Case{base + 4096, 1}, Case{base + 4000, 97},
                        Case{base, 4097}, Case{~uint64_t{0} - 2, 8}, Case{0, 1}}) {
    absl::StatusOr<TransferId> id = a_->Prepare({*peer, Op::kGet, dst.data(), c.n, c.addr, key});
    EXPECT_TRUE(absl::IsOutOfRange(id.status()))
        << c.addr - base << "+" << c.n << ": " << id.status();
  }
  absl::StatusOr<TransferId> edge =
      a_->Prepare({*peer, Op::kGet, dst.data(), 96, base + 4000, key});
  ASSERT_TRUE(edge.ok()) << edge.status();
  EXPECT_TRUE(a_->Release(*edge).ok());
}

TEST_P(TransportConformanceTest, BadLocalBuffersAndRegistrationsAreRefused) {
  SKIP_UNLESS_RMA();
  absl::StatusOr<HostBuffer> remote = HostBuffer::Create(*b_, 4096, 1);
  absl::StatusOr<HostBuffer> local = HostBuffer::Create(*a_, 4096, 2);
  ASSERT_TRUE(remote.ok() && local.ok());
  absl::StatusOr<PeerId> peer = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(peer.ok()) << peer.status();
  const uint64_t base = reinterpret_cast<uintptr_t>(remote->data());
  const std::string& key = remote->reg->remote_key();
  EXPECT_TRUE(
      absl::IsInvalidArgument(a_->Prepare({*peer, Op::kGet, nullptr, 8, base, key}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      a_->Prepare({*peer, Op::kGet, local->data(), 0, base, key}).status()));
  // Starts inside a registration and runs past it.
  EXPECT_TRUE(absl::IsInvalidArgument(
      a_->Prepare({*peer, Op::kGet, local->data() + 4000, 200, base, key}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(a_->Register(nullptr, 8, MemoryKind::kHost).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(a_->Register(local->data(), 0, MemoryKind::kHost).status()));
  EXPECT_TRUE(
      absl::IsAlreadyExists(a_->Register(local->data() + 100, 8, MemoryKind::kHost).status()));
}

TEST_P(TransportConformanceTest, DisconnectedPeersFailFastAndCanReconnect) {
  SKIP_UNLESS_RMA();
  absl::StatusOr<HostBuffer> remote = HostBuffer::Create(*b_, 1 << 20, 3);
  ASSERT_TRUE(remote.ok());
  absl::StatusOr<PeerId> peer = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(peer.ok()) << peer.status();
  std::vector<char> dst(1 << 20);
  const uint64_t base = reinterpret_cast<uintptr_t>(remote->data());
  const std::string& key = remote->reg->remote_key();
  ASSERT_TRUE(Move(*a_, *peer, Op::kGet, dst.data(), dst.size(), base, key, 0).ok());
  ASSERT_TRUE(a_->Disconnect(*peer).ok());
  EXPECT_TRUE(absl::IsCancelled(a_->PeerStatus(*peer))) << a_->PeerStatus(*peer);
  EXPECT_TRUE(absl::IsCancelled(a_->Prepare({*peer, Op::kGet, dst.data(), 8, base, key}).status()));
  absl::StatusOr<PeerId> again = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_NE(*again, *peer);
  std::fill(dst.begin(), dst.end(), 0);
  ASSERT_TRUE(Move(*a_, *again, Op::kGet, dst.data(), dst.size(), base, key, 0).ok());
  EXPECT_EQ(FirstMismatch(dst.data(), dst.size(), 3), dst.size());
}

TEST_P(TransportConformanceTest, DestroyingWithTransfersInFlightIsClean) {
  SKIP_UNLESS_RMA();
  absl::StatusOr<HostBuffer> remote = HostBuffer::Create(*b_, 4 << 20, 3);
  ASSERT_TRUE(remote.ok());
  auto local = std::make_unique<std::vector<char>>(4 << 20);
  absl::StatusOr<std::unique_ptr<Registration>> reg =
      a_->Register(local->data(), local->size(), MemoryKind::kHost);
  ASSERT_TRUE(reg.ok());
  absl::StatusOr<PeerId> peer = a_->Connect(b_->LocalAddress());
  ASSERT_TRUE(peer.ok()) << peer.status();
  for (int i = 0; i < 16; ++i) {
    absl::StatusOr<TransferId> id =
        a_->Prepare({*peer, Op::kGet, local->data(), local->size(),
                     reinterpret_cast<uintptr_t>(remote->data()), remote->reg->remote_key()});
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(a_->Post(*id).ok());
  }
  a_.reset();    // transfers finish or are cancelled; the thread stops
  reg->reset();  // a registration may outlive its transport
}

TEST_P(TransportConformanceTest, AGonePeerFailsAtConnectOrTransferNeverHangs) {
  SKIP_UNLESS_RMA();
  absl::StatusOr<HostBuffer> remote = HostBuffer::Create(*b_, 1 << 20, 3);
  ASSERT_TRUE(remote.ok());
  const std::string key = remote->reg->remote_key();
  const uint64_t base = reinterpret_cast<uintptr_t>(remote->data());
  const std::string address = b_->LocalAddress();
  remote->reg.reset();
  b_.reset();
  absl::StatusOr<PeerId> peer = a_->Connect(address);
  if (!peer.ok()) {
    EXPECT_TRUE(absl::IsUnavailable(peer.status())) << peer.status();
    return;
  }
  std::vector<char> dst(1 << 20);
  const absl::Status s = Move(*a_, *peer, Op::kGet, dst.data(), dst.size(), base, key, 0);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(absl::IsDeadlineExceeded(s)) << s;
}

// Cross-process cases: the peer is this binary started again.
TEST_P(TransportConformanceTest, MovesBytesAcrossProcesses) {
  SKIP_UNLESS_RMA();
  constexpr size_t kRegion = 8 << 20;
  absl::StatusOr<std::unique_ptr<PeerProcess>> child =
      PeerProcess::Start(GetParam().name, kRegion, 77);
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<PeerId> peer = a_->Connect((*child)->address());
  ASSERT_TRUE(peer.ok()) << peer.status();
  absl::StatusOr<HostBuffer> local = HostBuffer::Create(*a_, kRegion, 78);
  ASSERT_TRUE(local.ok());
  const PeerProcess& c = **child;
  ASSERT_TRUE(Move(*a_, *peer, Op::kGet, local->data(), kRegion, c.base(), c.key(), 0).ok());
  EXPECT_EQ(FirstMismatch(local->data(), kRegion, 77), kRegion);
  FillPattern(local->data(), 1 << 20, 79);
  ASSERT_TRUE(Move(*a_, *peer, Op::kPut, local->data(), 1 << 20, c.base(), c.key(), 4096).ok());
  absl::StatusOr<std::string> digest = (*child)->Digest(4096, 1 << 20);
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(*digest, Digest(local->data(), 1 << 20));
}

// The peers serve memory from Allocate() where the transport has it: that is
// what a transport promises failure isolation for (README.md: over UCX shared
// memory, registered heap memory is served through the owner's worker, and a
// peer killed while writing its reply into our shared FIFO can stall it).
TEST_P(TransportConformanceTest, APeerKilledMidTransferFailsOnlyItsOwnTransfers) {
  SKIP_UNLESS_RMA();
  constexpr size_t kRegion = 8 << 20;
  absl::StatusOr<std::unique_ptr<PeerProcess>> doomed =
      PeerProcess::Start(GetParam().name, kRegion, 1, PeerMemory::kAllocated);
  ASSERT_TRUE(doomed.ok()) << doomed.status();
  absl::StatusOr<std::unique_ptr<PeerProcess>> survivor =
      PeerProcess::Start(GetParam().name, kRegion, 2, PeerMemory::kAllocated);
  ASSERT_TRUE(survivor.ok()) << survivor.status();
  absl::StatusOr<PeerId> dead = a_->Connect((*doomed)->address());
  absl::StatusOr<PeerId> live = a_->Connect((*survivor)->address());
  ASSERT_TRUE(dead.ok() && live.ok());
  absl::StatusOr<HostBuffer> local = HostBuffer::Create(*a_, kRegion, 3);
  ASSERT_TRUE(local.ok());
  std::vector<char> scratch(kRegion);

  // Many large gets in flight from the doomed peer (into a scratch buffer
  // they all share: their bytes are never checked), then SIGKILL.
  std::vector<TransferId> ids;
  for (int i = 0; i < 24; ++i) {
    absl::StatusOr<TransferId> id = a_->Prepare(
        {*dead, Op::kGet, scratch.data(), kRegion, (*doomed)->base(), (*doomed)->key()});
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  ASSERT_TRUE(a_->Post(ids).ok());
  (*doomed)->Kill();

  // Every one finishes (done before the kill, or failed), none hangs.
  int failed = 0;
  for (TransferId id : ids) {
    const absl::Status s = a_->Wait(id, Deadline());
    EXPECT_FALSE(absl::IsDeadlineExceeded(s)) << s;
    failed += !s.ok();
    EXPECT_TRUE(a_->Release(id).ok());
  }
  // The transport notices the death (a reset connection, keepalive, or the
  // process gone from this host) within a bounded time...
  const absl::Time deadline = Deadline();
  while (a_->PeerStatus(*dead).ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_TRUE(absl::IsUnavailable(a_->PeerStatus(*dead))) << a_->PeerStatus(*dead);
  // ...and then new work for the dead peer fails at once.
  const absl::Status after =
      Move(*a_, *dead, Op::kGet, scratch.data(), 4096, (*doomed)->base(), (*doomed)->key(), 0);
  EXPECT_TRUE(absl::IsUnavailable(after)) << after;
  // The other peer is untouched.
  EXPECT_TRUE(a_->PeerStatus(*live).ok());
  ASSERT_TRUE(
      Move(*a_, *live, Op::kGet, local->data(), kRegion, (*survivor)->base(), (*survivor)->key(), 0)
          .ok());
  EXPECT_EQ(FirstMismatch(local->data(), kRegion, 2), kRegion);
  RecordProperty("failed_after_kill", failed);
}

}  // namespace
}  // namespace kvstash::transport::testing
