// 8 threads mixing put/get/erase/pin/lookup on a small host tier over a small
// disk tier. Checks: every hit returns exactly the bytes put under its key,
// a pinned block stays held, puts never fail while something is evictable,
// and no tier ever exceeds its capacity. Run under TSan and ASan (presets).
// Bounded by ops and time; KVSTASH_STRESS_SECONDS=N runs longer.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tiers/disk_tier.h"
#include "tiers/host_tier.h"
#include "tiers/testutil.h"
#include "tiers/tier_manager.h"

namespace kvstash::tiers {
namespace {

using kernels::Format;
using testing::Key;
using testing::MakeBlock;
using testing::SmallGeometry;

constexpr int kThreads = 8;
constexpr int kKeys = 64;
constexpr int kPinnable = 32;  // keys below are pinned, never erased

struct Payloads {
  Payloads() {
    for (int i = 0; i < kKeys; ++i)
      bytes.push_back(std::string(ParseBlock(MakeBlock(Key(i), i))->payload));
  }
  std::vector<std::string> bytes;
  std::vector<float> scales = std::vector<float>(4, 0.25f);
};

double StressSeconds() {
  const char* s = getenv("KVSTASH_STRESS_SECONDS");
  return s != nullptr ? atof(s) : 2.0;
}

class ConcurrencyTest : public ::testing::TestWithParam<WritePolicy> {
 protected:
  void SetUp() override {
    std::vector<TierConfig> tiers;
    HostTierOptions ho;
    ho.capacity_bytes = 12 * 4096;
    tiers.push_back(TierConfig{std::move(*HostTier::Create(ho)), false});
    DiskTierOptions d;
    d.dir = dir_.path();
    d.capacity_bytes = 20 * 768;
    d.serialize_writes = testing::kTsan;
    tiers.push_back(TierConfig{std::move(*DiskTier::Open(d, Env::Default())), true});
    TierManagerOptions o;
    o.write = GetParam();
    o.admit_after_hits = 0;
    auto m = TierManager::Create(o, std::move(tiers), Env::Default());
    ASSERT_TRUE(m.ok());
    mgr_ = std::move(*m);
  }

  void Fail(const std::string& what) {
    ADD_FAILURE() << what;
    errors_++;
  }

  PutRequest Request(int k) const {
    PutRequest r;
    r.key = Key(k);
    if (k > 0) r.parent = Key(k - 1);
    r.priority = k % 3;
    r.geometry = SmallGeometry();
    r.format = Format::kNvfp4;
    r.payload = payloads_.bytes[k];
    r.scales = payloads_.scales;
    return r;
  }

  // Pins a block, works around it, checks it stayed, unpins.
  void PinAndCheck(const PutRequest& r, int k) {
    if (k >= kPinnable || !mgr_->Pin(r.key).ok()) return;
    mgr_->Put(r).IgnoreError();
    mgr_->Get(Key((k + 7) % kKeys), Format::kBf16).status().IgnoreError();
    if (mgr_->Lookup(absl::MakeConstSpan(&r.key, 1)).prefix != 1) {
      Fail(absl::StrCat("pinned block ", k, " was evicted"));
    }
    if (absl::Status u = mgr_->Unpin(r.key); !u.ok()) Fail(u.ToString());
  }

  void OneOp(int k, int op) {
    const PutRequest r = Request(k);
    if (op < 3) {
      if (absl::Status s = mgr_->Put(r); !s.ok()) Fail(s.ToString());
    } else if (op < 5) {
      absl::StatusOr<GetResult> g = mgr_->Get(r.key, std::nullopt);
      if (g.ok()) {
        hits_++;
        if (g->payload != payloads_.bytes[k]) Fail(absl::StrCat("wrong bytes for ", k));
      } else if (!absl::IsNotFound(g.status())) {
        Fail(g.status().ToString());
      }
    } else if (op == 5) {
      if (k >= kPinnable) mgr_->Erase(r.key).IgnoreError();
    } else if (op == 6) {
      PinAndCheck(r, k);
    } else {
      const BlockKey chain[] = {Key(k), Key(k + 1), Key(k + 2)};
      mgr_->Lookup(chain);
    }
    for (const auto& tier : mgr_->Stats().tiers) {
      if (tier.tier.used_bytes > tier.tier.capacity_bytes) {
        Fail(absl::StrCat(tier.tier.name, " over capacity: ", tier.tier.used_bytes));
      }
    }
  }

  void Worker(int t, int64_t deadline) {
    std::mt19937_64 rng(t);
    for (int i = 0; i < 1'000'000 && SystemClock()->NowNanos() < deadline; ++i) {
      const int k = static_cast<int>(rng() % kKeys);
      OneOp(k, static_cast<int>(rng() % 8));
      ops_++;
    }
  }

  // Quiescent: the index and the tiers agree on what is held.
  void CheckQuiescent() {
    for (int k = 0; k < kKeys; ++k) {
      const BlockKey key = Key(k);
      const LookupResult l = mgr_->Lookup(absl::MakeConstSpan(&key, 1));
      bool held = false;
      for (int t = 0; t < mgr_->tier_count(); ++t) held |= mgr_->tier(t)->Contains(key);
      EXPECT_EQ(l.prefix == 1, held) << k;
      if (l.prefix == 1) {
        EXPECT_TRUE(mgr_->tier(l.tiers[0])->Contains(key)) << k;
      }
    }
  }

  testing::ScopedTempDir dir_;
  const Payloads payloads_;
  std::unique_ptr<TierManager> mgr_;
  std::atomic<int> errors_{0};
  std::atomic<uint64_t> ops_{0}, hits_{0};
};

TEST_P(ConcurrencyTest, MixedOperationsStayCorrect) {
  const int64_t deadline = SystemClock()->NowNanos() + int64_t(StressSeconds() * 1e9);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([this, t, deadline] { Worker(t, deadline); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors_.load(), 0);
  EXPECT_GT(hits_.load(), 0u);
  CheckQuiescent();
  std::cerr << ops_.load() << " operations, " << hits_.load() << " hits\n";
}

INSTANTIATE_TEST_SUITE_P(Policies, ConcurrencyTest,
                         ::testing::Values(WritePolicy::kSpillOnEvict, WritePolicy::kWriteThrough));

}  // namespace
}  // namespace kvstash::tiers
