// Crash safety of the disk tier (DESIGN.md "Crash safety"): a child process
// writes blocks and is killed with SIGKILL at random points (during open and
// recovery, mid-put, mid-flush); after each kill the parent reopens the tier
// and checks that every visible block verifies byte for byte, that no
// acknowledged put is lost and that no acknowledged erase comes back.
// Acknowledged (disk_tier.h, "Sync policy"): under kProcessCrash and
// kPowerLoss a put or erase whose call returned OK; under kBarrier an erase
// whose call returned OK and a put covered by a Sync() that returned OK
// after it. Blocks put after the last Sync() may be lost under kBarrier but,
// like every visible block, must verify byte for byte.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "common/env.h"
#include "tests/tiers/crash_workload.h"
#include "tiers/disk_tier.h"

namespace kvstash::tiers {
namespace {

using testing::CrashBlock;
using testing::Key;

struct Acks {
  std::set<uint64_t> puts, erases;
  std::set<uint64_t> synced;    // puts covered by a completed Sync()
  std::set<uint64_t> unsynced;  // acknowledged puts of this writer since its last Sync()
  uint64_t next = 0;            // first index for the next writer
};

uint64_t Seed() {
  const char* s = getenv("KVSTASH_CRASH_SEED");
  return s != nullptr ? strtoull(s, nullptr, 10) : std::random_device{}();
}

void ParseAcks(const std::string& text, Acks* acks) {
  std::istringstream in(text);
  char op;
  uint64_t i;
  acks->unsynced.clear();  // a new writer: what the last one did not sync is not owed
  while (in >> op >> i) {
    if (op == 'p') {
      acks->puts.insert(i);
      acks->unsynced.insert(i);
      acks->erases.erase(i);
      acks->next = std::max(acks->next, i + 1);
    } else if (op == 's') {
      acks->synced.insert(acks->unsynced.begin(), acks->unsynced.end());
      acks->unsynced.clear();
    } else {
      acks->erases.insert(i);
    }
  }
}

// Runs one writer and kills it after `kill_after_acks` acknowledgements or
// `kill_after_ms`, whichever comes first. Returns what it acknowledged.
std::string RunAndKill(const std::string& dir, uint64_t first, const char* sync,
                       int kill_after_acks, int kill_after_ms) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const std::string first_s = std::to_string(first);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execl(KVSTASH_CRASH_WRITER, KVSTASH_CRASH_WRITER, dir.c_str(), first_s.c_str(), sync, nullptr);
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  int acks = 0;
  const int64_t deadline = SystemClock()->NowNanos() + int64_t{kill_after_ms} * 1'000'000;
  while (acks < kill_after_acks) {
    const int64_t left_ms = (deadline - SystemClock()->NowNanos()) / 1'000'000;
    if (left_ms <= 0) break;
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left_ms)) <= 0) break;
    char buf[4096];
    const ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, n);
    for (ssize_t i = 0; i < n; ++i) acks += buf[i] == '\n';
  }
  kill(pid, SIGKILL);
  char buf[4096];  // whatever it acknowledged before dying counts
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) out.append(buf, n);
  close(fds[0]);
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "writer exited early";
  return out;
}

void Verify(const std::string& dir, const Acks& acks, bool barrier) {
  DiskTierOptions o;
  o.dir = dir;
  absl::StatusOr<std::unique_ptr<DiskTier>> tier = DiskTier::Open(o, Env::Default());
  ASSERT_TRUE(tier.ok()) << tier.status();
  for (const StoredBlock& b : (*tier)->List()) {  // every visible block verifies
    absl::StatusOr<BlockRef> ref = (*tier)->Get(b.key);
    ASSERT_TRUE(ref.ok()) << b.key.ToString() << ": " << ref.status();
    uint64_t i = 0;
    std::memcpy(&i, b.key.digest.data(), 8);
    ASSERT_EQ(ref->bytes(), CrashBlock(i)) << i;
  }
  for (uint64_t i : barrier ? acks.synced : acks.puts) {
    // Its erase may have run unacknowledged: the writer acks put i + lag,
    // then erases i, then acks that.
    const uint64_t eraser = i + testing::kEraseLag;
    const bool erase_in_flight = eraser % testing::kEraseEvery == 0 && acks.puts.contains(eraser);
    if (acks.erases.contains(i) || erase_in_flight) continue;
    ASSERT_TRUE((*tier)->Contains(Key(i))) << "lost put " << i;
  }
  for (uint64_t i : acks.erases) {
    ASSERT_FALSE((*tier)->Contains(Key(i))) << "erase " << i << " came back";
  }
  EXPECT_EQ((*tier)->Stats().checksum_failures, 0u);
}

class DiskCrashTest : public ::testing::TestWithParam<const char*> {};

TEST_P(DiskCrashTest, SigkillAtRandomPointsLosesNothingAcknowledged) {
  const uint64_t seed = Seed();
  SCOPED_TRACE(::testing::Message() << "KVSTASH_CRASH_SEED=" << seed);
  Random rng(seed);
  testing::ScopedTempDir dir;
  Acks acks;
  for (int round = 0; round < 20; ++round) {
    // Even rounds die after a random number of acknowledged operations (mid
    // put, mid flush or compaction), odd rounds at a random instant from
    // exec on (also during open and WAL recovery).
    const bool by_acks = round % 2 == 0;
    const int kill_after_acks = by_acks ? static_cast<int>(1 + rng.Uniform(300)) : INT32_MAX;
    const int kill_after_ms = by_acks ? 5000 : static_cast<int>(rng.Uniform(60));
    ParseAcks(RunAndKill(dir.path(), acks.next, GetParam(), kill_after_acks, kill_after_ms), &acks);
    Verify(dir.path(), acks, std::string(GetParam()) == "barrier");
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(acks.puts.size(), 10u);
  if (std::string(GetParam()) == "barrier") {
    EXPECT_GT(acks.synced.size(), 10u);
  }
  std::cerr << acks.puts.size() << " puts (" << acks.synced.size() << " synced) and "
            << acks.erases.size() << " erases acknowledged across 20 kills\n";
}

INSTANTIATE_TEST_SUITE_P(SyncPolicies, DiskCrashTest,
                         ::testing::Values("process", "power", "barrier"));

}  // namespace
}  // namespace kvstash::tiers
