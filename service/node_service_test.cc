// NodeService in process, through Cap'n Proto local capabilities: put
// windows (zero-copy puts) and their limits, with requests a well-behaved
// client library would never send.
#include "service/node_service.h"

#include <gtest/gtest.h>
#include <kj/async.h>
#include <sys/mman.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "proto/status_wire.h"
#include "tiers/block.h"

namespace kvstash::service {
namespace {

constexpr kernels::KvGeometry kTiny{2, 2, 64, 16, 2};
constexpr uint64_t kBf16Bytes = 2ull * 2 * 2 * 16 * 64 * 2;

tiers::BlockKey Key(uint64_t hash) { return tiers::BlockKey::FromHash64(0, hash); }

class NodeServiceTest : public ::testing::Test {
 protected:
  NodeServiceTest()
      : loop_(std::make_unique<kj::EventLoop>()), scope_(std::make_unique<kj::WaitScope>(*loop_)) {
    tiers::HostTierOptions ho;
    ho.capacity_bytes = 8 << 20;
    std::vector<tiers::TierConfig> tiers;
    tiers.push_back(tiers::TierConfig{*tiers::HostTier::Create(ho), false});
    manager_ = *tiers::TierManager::Create({}, std::move(tiers), Env::Default());
    NodeLimits limits;
    limits.max_window_bytes = 1 << 20;
    limits.max_window_bytes_total = 3 << 20;
    node_ = std::make_unique<proto::Node::Client>(kj::heap<NodeService>(manager_.get(), limits));
  }

  // The status a call failed with, OK when it succeeded.
  template <typename Promise>
  absl::Status StatusOf(Promise&& p) {
    try {
      kj::mv(p).wait(*scope_);
      return absl::OkStatus();
    } catch (const kj::Exception& e) {
      return proto::StatusFromException(e);
    }
  }

  proto::PutWindow::Client Window(uint64_t bytes) {
    auto req = node_->putWindowRequest();
    req.setBytes(bytes);
    return req.send().wait(*scope_).getWindow();
  }

  static void Describe(proto::PutBlock::Builder b, uint64_t key, uint64_t offset) {
    auto k = b.initKey();
    uint8_t digest[8];
    std::memcpy(digest, &key, 8);
    k.setDigest(capnp::Data::Reader(digest, 8));
    b.setFormat(proto::Format::BF16);
    auto g = b.initGeometry();
    g.setLayers(kTiny.layers);
    g.setKvHeads(kTiny.kv_heads);
    g.setHeadDim(kTiny.head_dim);
    g.setBlockTokens(kTiny.block_tokens);
    g.setPlanes(kTiny.planes);
    b.setWindowOffset(offset);
  }

  // Held by pointer: their destructors may throw, a fixture's must not.
  std::unique_ptr<kj::EventLoop> loop_;
  std::unique_ptr<kj::WaitScope> scope_;
  std::unique_ptr<tiers::TierManager> manager_;
  std::unique_ptr<proto::Node::Client> node_;
};

TEST_F(NodeServiceTest, AWindowCommitStoresWhatTheClientWroteThere) {
  proto::PutWindow::Client window = Window(1 << 20);
  int fd = -1;
  KJ_IF_MAYBE (f, window.getFd().wait(*scope_)) {
    fd = *f;
  }
  ASSERT_GE(fd, 0);
  auto* base =
      static_cast<uint8_t*>(mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(base, MAP_FAILED);
  for (uint64_t i = 0; i < 2 * kBf16Bytes; ++i) base[4096 + i] = static_cast<uint8_t>(i * 7 % 61);

  auto commit = window.commitRequest();
  auto blocks = commit.initBlocks(2);
  Describe(blocks[0], 11, 4096);
  Describe(blocks[1], 12, 4096 + kBf16Bytes);
  EXPECT_EQ(commit.send().wait(*scope_).getStored(), 2u);
  munmap(base, 1 << 20);

  const std::vector<tiers::BlockKey> keys = {Key(11), Key(12)};
  EXPECT_EQ(manager_->Lookup(keys).prefix, 2u);
}

TEST_F(NodeServiceTest, BadWindowCommitsNameTheFieldAndStoreNothing) {
  proto::PutWindow::Client window = Window(1 << 20);
  {
    auto commit = window.commitRequest();
    auto blocks = commit.initBlocks(2);
    Describe(blocks[0], 21, 0);
    Describe(blocks[1], 22, (1 << 20) - kBf16Bytes + 1);  // one byte past the end
    absl::Status s = StatusOf(commit.send());
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_NE(s.message().find("blocks[1].windowOffset"), std::string::npos) << s;
  }
  {
    auto commit = window.commitRequest();
    auto blocks = commit.initBlocks(1);
    Describe(blocks[0], 23, ~uint64_t{0} - 10);  // offset + size overflows
    absl::Status s = StatusOf(commit.send());
    EXPECT_NE(s.message().find("blocks[0].windowOffset"), std::string::npos) << s;
  }
  {
    auto commit = window.commitRequest();
    auto blocks = commit.initBlocks(1);
    Describe(blocks[0], 24, 0);
    uint8_t junk[4] = {1, 2, 3, 4};
    blocks[0].setPayload(capnp::Data::Reader(junk, 4));
    absl::Status s = StatusOf(commit.send());
    EXPECT_NE(s.message().find("blocks[0].payload must be empty"), std::string::npos) << s;
  }
  const std::vector<tiers::BlockKey> keys = {Key(21)};
  EXPECT_EQ(manager_->Lookup(keys).prefix, 0u);
  EXPECT_EQ(manager_->Stats().blocks, 0u);
}

TEST_F(NodeServiceTest, WindowsAreBoundedEachAndInTotalAndFreedWhenDropped) {
  auto too_big = node_->putWindowRequest();
  too_big.setBytes((1 << 20) + 1);
  absl::Status s = StatusOf(too_big.send());
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("bytes is"), std::string::npos) << s;

  std::vector<proto::PutWindow::Client> held;
  for (int i = 0; i < 3; ++i) held.push_back(Window(1 << 20));
  auto fourth = node_->putWindowRequest();
  fourth.setBytes(1 << 20);
  s = StatusOf(fourth.send());
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;

  held.clear();  // dropping the capabilities returns their bytes
  loop_->run();
  for (int i = 0; i < 3; ++i) held.push_back(Window(1 << 20));
}

}  // namespace
}  // namespace kvstash::service

namespace kvstash::service {
namespace {

// A sink that records what the node pushes.
class RecordingSink final : public proto::EventSink::Server {
 public:
  struct Seen {
    uint64_t seq;
    bool snapshot;
    size_t stored = 0, removed = 0, cleared = 0;
  };
  explicit RecordingSink(std::vector<Seen>* out) : out_(out) {}

 protected:
  kj::Promise<void> push(PushContext context) override {
    auto b = context.getParams().getBatch();
    Seen s{b.getSeq(), b.getSnapshot()};
    for (auto e : b.getEvents()) {
      s.stored += e.isStored();
      s.removed += e.isRemoved();
      s.cleared += e.isCleared();
    }
    out_->push_back(s);
    return kj::READY_NOW;
  }

 private:
  std::vector<Seen>* out_;
};

// Node.events() and Node.router() through the node capability: snapshot for a
// new subscriber, live batches after, replay from a seq, and the router's API.
class NodeEventsTest : public ::testing::Test {
 protected:
  NodeEventsTest()
      : loop_(std::make_unique<kj::EventLoop>()), scope_(std::make_unique<kj::WaitScope>(*loop_)) {
    NodeEventLogOptions eo;
    eo.node = "n1";
    eo.tier_kinds = {proto::Tier::HOST};
    log_ = std::make_unique<NodeEventLog>(eo);
    router::RouterServiceOptions ro;
    ro.node_id = "n1";
    ro.tier_media = {router::Medium::kHost};
    router_ = *router::RouterService::Create(ro);
    tiers::HostTierOptions ho;
    ho.capacity_bytes = 8 << 20;
    std::vector<tiers::TierConfig> tiers;
    tiers.push_back(tiers::TierConfig{*tiers::HostTier::Create(ho), false});
    tiers::TierManagerOptions mo;
    mo.on_copy_change = [this](const tiers::CopyChange& c) {
      log_->OnCopyChange(c);
      router_->OnCopyChange(c);
    };
    manager_ = *tiers::TierManager::Create(mo, std::move(tiers), Env::Default());
    node_ = std::make_unique<proto::Node::Client>(
        kj::heap<NodeService>(manager_.get(), NodeLimits{}, log_.get(), router_.get()));
  }

  void Put(uint64_t key) {
    std::string payload(kBf16Bytes, '\0');
    tiers::PutRequest r;
    r.key = Key(key);
    r.geometry = kTiny;
    r.payload = payload;
    ASSERT_TRUE(manager_->Put(r).ok());
  }

  proto::Subscription::Client Subscribe(std::vector<RecordingSink::Seen>* seen, uint64_t from) {
    auto source = node_->eventsRequest().send().getSource();
    auto req = source.subscribeRequest();
    req.setSink(kj::heap<RecordingSink>(seen));
    req.setFromSeq(from);
    return req.send().wait(*scope_).getHandle();
  }

  std::unique_ptr<kj::EventLoop> loop_;
  std::unique_ptr<kj::WaitScope> scope_;
  std::unique_ptr<NodeEventLog> log_;
  std::unique_ptr<router::RouterService> router_;
  std::unique_ptr<tiers::TierManager> manager_;
  std::unique_ptr<proto::Node::Client> node_;
};

TEST_F(NodeEventsTest, SnapshotThenLiveThenReplayFromASeq) {
  Put(1);
  Put(2);
  log_->Flush(1000);  // seq 1: two stored
  std::vector<RecordingSink::Seen> a;
  auto handle_a = Subscribe(&a, 0);
  loop_->run();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(a[0].snapshot);
  EXPECT_EQ(a[0].seq, 1u);
  EXPECT_EQ(a[0].cleared, 1u);
  EXPECT_EQ(a[0].stored, 2u);

  Put(3);
  ASSERT_TRUE(manager_->Erase(Key(1)).ok());
  log_->Flush(2000);  // seq 2
  loop_->run();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_FALSE(a[1].snapshot);
  EXPECT_EQ(a[1].seq, 2u);
  EXPECT_EQ(a[1].stored, 1u);
  EXPECT_EQ(a[1].removed, 1u);

  std::vector<RecordingSink::Seen> b;  // resumes after seq 1: gets exactly seq 2
  auto handle_b = Subscribe(&b, 2);
  loop_->run();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].seq, 2u);
  EXPECT_FALSE(b[0].snapshot);

  std::vector<RecordingSink::Seen> c;  // a seq the node never had: snapshot
  auto handle_c = Subscribe(&c, 99);
  loop_->run();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_TRUE(c[0].snapshot);
  EXPECT_EQ(c[0].stored, 2u);  // blocks 2 and 3

  EXPECT_EQ(log_->subscribers(), 3u);
  handle_b = nullptr;  // dropping the handle unsubscribes
  loop_->run();
  EXPECT_EQ(log_->subscribers(), 2u);
}

TEST_F(NodeEventsTest, TheNodeServesItsRouter) {
  Put(7);
  auto router = node_->routerRequest().send().getRouter();
  auto req = router.placementRequest();
  req.initRequest().initBlockHashes(1).set(0, 7);
  req.getRequest().initCandidates(1)[0].setWorker("engine-1");
  auto resp = req.send().wait(*scope_);
  ASSERT_EQ(resp.getCandidates().size(), 1u);
  EXPECT_EQ(resp.getCandidates()[0].getRemote(), 1u);  // the node's own host block
  auto workers = router.workersRequest().send().wait(*scope_);
  ASSERT_EQ(workers.getWorkers().size(), 1u);
  EXPECT_EQ(std::string(workers.getWorkers()[0].getWorker().cStr()), "n1");
}

}  // namespace
}  // namespace kvstash::service
