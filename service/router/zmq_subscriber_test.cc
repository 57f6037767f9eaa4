// EngineEventSubscriber over real ZMQ on tcp loopback: the test plays the
// engine (an XPUB, so it can see the subscription arrive instead of sleeping
// through ZMQ's slow-joiner window) and the engine's replay ROUTER.
#include "service/router/zmq_subscriber.h"

#include <zmq.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/router/event_payloads_testing.h"
#include "service/router/zmq_socket.h"

namespace kvstash::router {
namespace {

using router_testing::Pack;
using router_testing::ReadFixture;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Waits are bounded only so that a broken build fails instead of hanging;
// nothing asserts on how long anything takes.
constexpr int kWaitMs = 30000;

std::string Be64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
  return out;
}

uint64_t FromBe64(const std::string& s) {
  uint64_t v = 0;
  for (unsigned char c : s) v = (v << 8) | c;
  return v;
}

// [ts, [BlockStored [hash]], dp_rank] in array form.
std::string StoredBatch(uint64_t hash, int dp_rank = 0) {
  // clang-format off
  return Pack().Array(3).F64(1.5).Array(1).Array(2).Str("BlockStored").Array(1).U64(hash)
      .Int(dp_rank).str();
  // clang-format on
}

// What the callbacks saw, in order.
class Collector {
 public:
  struct Entry {
    bool resync = false;  // an on_resync call (worker in batch.holder.worker)
    EventBatch batch;
  };

  EngineEventSubscriber::BatchCallback OnBatch() {
    return [this](EventBatch b) { Add({false, std::move(b)}); };
  }
  EngineEventSubscriber::ResyncCallback OnResync() {
    return [this](const std::string& worker) {
      Entry e{true, {}};
      e.batch.holder.worker = worker;
      Add(std::move(e));
    };
  }

  // Waits until a real (not synthetic) batch with `seq` from `worker` arrived.
  bool WaitForSeq(uint64_t seq, const std::string& worker = "w0") {
    return WaitUntil([&](const std::vector<Entry>& all) {
      for (const Entry& e : all) {
        if (!e.resync && e.batch.holder.worker == worker && e.batch.seq == seq &&
            !IsSyntheticClear(e.batch)) {
          return true;
        }
      }
      return false;
    });
  }

  bool WaitUntil(const std::function<bool(const std::vector<Entry>&)>& pred) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::milliseconds(kWaitMs), [&] { return pred(entries_); });
  }

  std::vector<Entry> Take() {
    std::lock_guard<std::mutex> l(mu_);
    return std::exchange(entries_, {});
  }

  static bool IsSyntheticClear(const EventBatch& b) {
    return b.timestamp == 0 && b.events.size() == 1 && b.events[0].kind == KvEvent::Kind::kCleared;
  }

 private:
  void Add(Entry e) {
    std::lock_guard<std::mutex> l(mu_);
    entries_.push_back(std::move(e));
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Entry> entries_;
};

std::vector<uint64_t> RealSeqs(const std::vector<Collector::Entry>& entries) {
  std::vector<uint64_t> out;
  for (const auto& e : entries) {
    if (!e.resync && !Collector::IsSyntheticClear(e.batch)) out.push_back(e.batch.seq);
  }
  return out;
}

// The engine side: an XPUB bound to an ephemeral loopback port (or connected
// to a subscriber that binds), and optionally a replay ROUTER.
class FakeEngine {
 public:
  explicit FakeEngine(ZmqContext* ctx) : ctx_(ctx) {}

  void Bind(const std::string& endpoint = "tcp://127.0.0.1:*") {
    absl::Status s = TryBind(endpoint);
    ASSERT_TRUE(s.ok()) << s;
  }
  absl::Status TryBind(const std::string& endpoint) {
    pub_ = Must(ZmqSocket::Create(ctx_, ZMQ_XPUB));
    if (absl::Status s = pub_->Bind(endpoint); !s.ok()) return s;
    endpoint_ = *pub_->LastEndpoint();
    return absl::OkStatus();
  }
  void Connect(const std::string& endpoint) {
    pub_ = Must(ZmqSocket::Create(ctx_, ZMQ_XPUB));
    ASSERT_TRUE(pub_->Connect(endpoint).ok());
  }
  void Close() { pub_.reset(); }
  void BindReplay() {
    replay_ = Must(ZmqSocket::Create(ctx_, ZMQ_ROUTER));
    ASSERT_TRUE(replay_->Bind("tcp://127.0.0.1:*").ok());
    replay_endpoint_ = *replay_->LastEndpoint();
  }

  // The handshake: the subscriber's subscription reaches the XPUB.
  void WaitForSubscriber() {
    absl::StatusOr<bool> ready = pub_->WaitReadable(kWaitMs);
    ASSERT_TRUE(ready.ok() && *ready) << "no subscription arrived";
    absl::StatusOr<std::vector<std::string>> sub = pub_->Recv();
    ASSERT_TRUE(sub.ok());
    ASSERT_EQ((*sub)[0].substr(0, 1), "\x01");
  }

  void Publish(uint64_t seq, const std::string& payload, const std::string& topic = "") {
    ASSERT_TRUE(pub_->Send({topic, Be64(seq), payload}).ok());
  }

  // Reads one replay request: (identity, empty, start seq). Returns the
  // identity and the start.
  std::pair<std::string, uint64_t> ReadReplayRequest() {
    absl::StatusOr<bool> ready = replay_->WaitReadable(kWaitMs);
    EXPECT_TRUE(ready.ok() && *ready) << "no replay request arrived";
    absl::StatusOr<std::vector<std::string>> req = replay_->Recv();
    EXPECT_TRUE(req.ok());
    EXPECT_EQ(req->size(), 3u);
    if (!req.ok() || req->size() != 3) return {"", 0};
    EXPECT_EQ((*req)[1], "");
    EXPECT_EQ((*req)[2].size(), 8u);
    return {(*req)[0], FromBe64((*req)[2])};
  }
  // As vLLM's _service_replay: (identity, empty, seq, payload) per batch, then
  // (identity, empty, -1, empty).
  // From vLLM 0.26 batches carry the topic: (identity, empty, topic, seq, payload).
  void Reply(const std::string& identity, uint64_t seq, const std::string& payload,
             std::optional<std::string> topic = std::nullopt) {
    if (topic) {
      ASSERT_TRUE(replay_->Send({identity, "", *topic, Be64(seq), payload}).ok());
    } else {
      ASSERT_TRUE(replay_->Send({identity, "", Be64(seq), payload}).ok());
    }
  }
  void EndReply(const std::string& identity) { Reply(identity, ~uint64_t{0}, ""); }

  ZmqSocket* pub() const { return pub_.get(); }
  const std::string& endpoint() const { return endpoint_; }
  const std::string& replay_endpoint() const { return replay_endpoint_; }

 private:
  template <typename T>
  static T Must(absl::StatusOr<T> v) {
    EXPECT_TRUE(v.ok()) << v.status();
    return *std::move(v);
  }

  ZmqContext* const ctx_;
  std::unique_ptr<ZmqSocket> pub_;
  std::unique_ptr<ZmqSocket> replay_;
  std::string endpoint_;
  std::string replay_endpoint_;
};

class SubscriberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ZmqContext>> ctx = ZmqContext::Create();
    ASSERT_TRUE(ctx.ok());
    ctx_ = *std::move(ctx);
    engine_ = std::make_unique<FakeEngine>(ctx_.get());
  }
  void TearDown() override {
    subscriber_.reset();
    engine_.reset();
  }

  void Start(std::vector<EngineEndpoint> engines, int replay_timeout_ms = 5000) {
    SubscriberOptions options;
    options.engines = std::move(engines);
    options.replay_timeout_ms = replay_timeout_ms;
    options.clock = &clock_;
    absl::StatusOr<std::unique_ptr<EngineEventSubscriber>> s = EngineEventSubscriber::Create(
        std::move(options), collector_.OnBatch(), collector_.OnResync());
    ASSERT_TRUE(s.ok()) << s.status();
    subscriber_ = *std::move(s);
  }

  // Engine binds, subscriber connects, handshake done.
  void StartConnected(const std::string& replay_endpoint = "", int replay_timeout_ms = 5000) {
    engine_->Bind();
    Start({{"w0", engine_->endpoint(), replay_endpoint}}, replay_timeout_ms);
    engine_->WaitForSubscriber();
  }

  WorkerStats Stats0() { return subscriber_->Stats().at(0); }

  FakeClock clock_{1000};
  std::unique_ptr<ZmqContext> ctx_;  // outlives the engine's sockets
  std::unique_ptr<FakeEngine> engine_;
  Collector collector_;
  std::unique_ptr<EngineEventSubscriber> subscriber_;
};

// ------------------------------------------------------------------ delivery --

TEST_F(SubscriberTest, DeliversCapturedFixturesAndStampsTheHolder) {
  KVSTASH_LOAD_FIXTURE_OR_SKIP(removed, router_testing::kMapRemoved);
  KVSTASH_LOAD_FIXTURE_OR_SKIP(removed_stored, router_testing::kMapRemovedStored);
  KVSTASH_LOAD_FIXTURE_OR_SKIP(array_stored, router_testing::kArrayStored);
  StartConnected();
  clock_.Set(42);
  engine_->Publish(223, *removed);
  engine_->Publish(224, *removed_stored, "kv-events");
  engine_->Publish(225, *array_stored);
  // clang-format off
  engine_->Publish(226, Pack().Map(3).Str("ts").F64(9.5).Str("data_parallel_rank").Int(2)
                            .Str("events").Array(1).Map(2).Str("type").Str("BlockRemoved")
                            .Str("block_hashes").Array(1).I64(-1).str());
  // clang-format on
  ASSERT_TRUE(collector_.WaitForSeq(226));
  std::vector<Collector::Entry> got = collector_.Take();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_THAT(RealSeqs(got), ElementsAre(223u, 224u, 225u, 226u));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].batch.holder, (HolderId{"w0", 0}));
  }
  EXPECT_EQ(got[0].batch.events.size(), 7u);
  EXPECT_THAT(got[0].batch.events[0].block_hashes, ElementsAre(16981620389562033287ull));
  ASSERT_EQ(got[1].batch.events.size(), 2u);
  EXPECT_EQ(got[1].batch.events[1].parent_hash, 4185586382212821899ull);
  EXPECT_THAT(got[2].batch.events[0].block_hashes, ElementsAre(17536983392627827276ull));
  EXPECT_EQ(got[3].batch.holder, (HolderId{"w0", 2}));
  EXPECT_THAT(got[3].batch.events[0].block_hashes, ElementsAre(~uint64_t{0}));

  WorkerStats s = Stats0();
  EXPECT_EQ(s.messages, 4u);
  EXPECT_EQ(s.batches, 4u);
  EXPECT_EQ(s.events, 7u + 2u + 1u + 1u);
  EXPECT_EQ(s.decode_errors, 0u);
  EXPECT_EQ(s.gaps, 0u);
  EXPECT_EQ(s.last_seq, 226u);
  EXPECT_EQ(s.last_seen_nanos, 42);
  EXPECT_EQ(subscriber_->LastSeen("w0"), 42);
  EXPECT_EQ(subscriber_->LastSeen("nobody"), std::nullopt);
}

TEST_F(SubscriberTest, TwoWorkersAreToldApart) {
  FakeEngine other(ctx_.get());
  engine_->Bind();
  other.Bind();
  Start({{"a", engine_->endpoint(), ""}, {"b", other.endpoint(), ""}});
  engine_->WaitForSubscriber();
  other.WaitForSubscriber();
  engine_->Publish(0, StoredBatch(1, /*dp_rank=*/0));
  other.Publish(7, StoredBatch(2, /*dp_rank=*/1));
  ASSERT_TRUE(collector_.WaitForSeq(0, "a"));
  ASSERT_TRUE(collector_.WaitForSeq(7, "b"));
  for (const auto& e : collector_.Take()) {
    if (e.batch.holder.worker == "a") {
      EXPECT_EQ(e.batch.holder.dp_rank, 0);
      EXPECT_THAT(e.batch.events[0].block_hashes, ElementsAre(1u));
    } else {
      EXPECT_EQ(e.batch.holder, (HolderId{"b", 1}));
      EXPECT_THAT(e.batch.events[0].block_hashes, ElementsAre(2u));
    }
  }
  std::vector<WorkerStats> stats = subscriber_->Stats();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].worker, "a");
  EXPECT_EQ(stats[1].worker, "b");
  EXPECT_EQ(stats[1].last_seq, 7u);
}

TEST_F(SubscriberTest, SubscriberBindsWildcardAndTheEngineConnects) {
  Start({{"w0", "tcp://127.0.0.1:*", ""}});
  const std::string bound = Stats0().endpoint;
  ASSERT_TRUE(absl::StartsWith(bound, "tcp://127.0.0.1:")) << bound;
  EXPECT_FALSE(absl::StrContains(bound, "*"));
  engine_->Connect(bound);
  engine_->WaitForSubscriber();
  engine_->Publish(3, StoredBatch(9));
  ASSERT_TRUE(collector_.WaitForSeq(3));
}

TEST_F(SubscriberTest, GarbageIsCountedAndTheStreamGoesOn) {
  StartConnected();
  engine_->Publish(0, StoredBatch(1));
  engine_->Publish(1, "\xc1 not msgpack");
  engine_->Publish(2, StoredBatch(2));
  ASSERT_TRUE(collector_.WaitForSeq(2));
  // Malformed framing carries no usable seq: counted, seq untouched.
  ASSERT_TRUE(engine_->pub()->Send({"", Be64(3)}).ok());                    // 2 frames
  ASSERT_TRUE(engine_->pub()->Send({"", "1234567", StoredBatch(0)}).ok());  // 7-byte seq
  engine_->Publish(3, StoredBatch(3));
  ASSERT_TRUE(collector_.WaitForSeq(3));
  std::vector<Collector::Entry> got = collector_.Take();
  EXPECT_THAT(RealSeqs(got), ElementsAre(0u, 2u, 3u));
  WorkerStats s = Stats0();
  EXPECT_EQ(s.messages, 6u);
  EXPECT_EQ(s.batches, 3u);
  EXPECT_EQ(s.decode_errors, 3u);
  EXPECT_EQ(s.gaps, 0u);
  EXPECT_EQ(s.resyncs, 0u);
  EXPECT_EQ(s.last_error, "seq: expected 8 bytes, got 7");
}

// ------------------------------------------------------- gaps and restarts --

TEST_F(SubscriberTest, GapIsFilledFromTheReplayRouter) {
  engine_->BindReplay();
  StartConnected(engine_->replay_endpoint());
  engine_->Publish(0, StoredBatch(100));
  engine_->Publish(1, StoredBatch(101));
  ASSERT_TRUE(collector_.WaitForSeq(1));
  engine_->Publish(4, StoredBatch(104));  // 2 and 3 never reach the SUB socket
  auto [identity, start] = engine_->ReadReplayRequest();
  EXPECT_EQ(start, 2u);
  // vLLM replays everything buffered from `start`; the subscriber drops what
  // it already has (1) and what arrived live (4).
  engine_->Reply(identity, 1, StoredBatch(101));
  engine_->Reply(identity, 2, StoredBatch(102));
  engine_->Reply(identity, 3, StoredBatch(103));
  engine_->Reply(identity, 4, StoredBatch(104));
  engine_->EndReply(identity);
  ASSERT_TRUE(collector_.WaitForSeq(4));
  std::vector<Collector::Entry> got = collector_.Take();
  EXPECT_THAT(RealSeqs(got), ElementsAre(0u, 1u, 2u, 3u, 4u));
  EXPECT_THAT(got[3].batch.events[0].block_hashes, ElementsAre(103u));
  WorkerStats s = Stats0();
  EXPECT_EQ(s.gaps, 1u);
  EXPECT_EQ(s.replays, 1u);
  EXPECT_EQ(s.replay_failures, 0u);
  EXPECT_EQ(s.resyncs, 0u);
  EXPECT_EQ(s.batches, 5u);
  EXPECT_EQ(s.messages, 3u);  // replies do not come through the SUB socket
}

// vLLM >= 0.26 puts the topic in replayed batches (the end marker has none).
TEST_F(SubscriberTest, GapIsFilledFromATopicFramedReplay) {
  engine_->BindReplay();
  StartConnected(engine_->replay_endpoint());
  engine_->Publish(0, StoredBatch(100), "kv@w");
  ASSERT_TRUE(collector_.WaitForSeq(0));
  engine_->Publish(3, StoredBatch(103), "kv@w");
  auto [identity, start] = engine_->ReadReplayRequest();
  EXPECT_EQ(start, 1u);
  engine_->Reply(identity, 1, StoredBatch(101), "kv@w");
  engine_->Reply(identity, 2, StoredBatch(102), "");
  engine_->EndReply(identity);
  ASSERT_TRUE(collector_.WaitForSeq(3));
  EXPECT_THAT(RealSeqs(collector_.Take()), ElementsAre(0u, 1u, 2u, 3u));
  EXPECT_EQ(Stats0().replays, 1u);
  EXPECT_EQ(Stats0().replay_failures, 0u);
}

TEST_F(SubscriberTest, GapWithoutReplayResyncsTheWorker) {
  StartConnected();
  engine_->Publish(0, StoredBatch(1, /*dp_rank=*/1));
  ASSERT_TRUE(collector_.WaitForSeq(0));
  engine_->Publish(5, StoredBatch(5, /*dp_rank=*/1));
  ASSERT_TRUE(collector_.WaitForSeq(5));
  std::vector<Collector::Entry> got = collector_.Take();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].batch.seq, 0u);
  // The synthetic clear for every rank seen, then on_resync, then the batch.
  EXPECT_TRUE(Collector::IsSyntheticClear(got[1].batch));
  EXPECT_EQ(got[1].batch.holder, (HolderId{"w0", 1}));
  EXPECT_EQ(got[1].batch.seq, 5u);
  EXPECT_TRUE(got[2].resync);
  EXPECT_EQ(got[2].batch.holder.worker, "w0");
  EXPECT_EQ(got[3].batch.seq, 5u);
  EXPECT_FALSE(Collector::IsSyntheticClear(got[3].batch));
  WorkerStats s = Stats0();
  EXPECT_EQ(s.gaps, 1u);
  EXPECT_EQ(s.resyncs, 1u);
  EXPECT_EQ(s.replays, 0u);
  EXPECT_EQ(s.replay_failures, 0u);
}

TEST_F(SubscriberTest, ReplayThatFallsShortResyncs) {
  engine_->BindReplay();
  StartConnected(engine_->replay_endpoint());
  engine_->Publish(10, StoredBatch(10));
  ASSERT_TRUE(collector_.WaitForSeq(10));
  engine_->Publish(20, StoredBatch(20));
  auto [identity, start] = engine_->ReadReplayRequest();
  EXPECT_EQ(start, 11u);
  // The publisher's buffer has moved on: it only holds 15..20.
  for (uint64_t seq = 15; seq <= 20; ++seq) engine_->Reply(identity, seq, StoredBatch(seq));
  engine_->EndReply(identity);
  ASSERT_TRUE(collector_.WaitForSeq(20));
  std::vector<Collector::Entry> got = collector_.Take();
  EXPECT_THAT(RealSeqs(got), ElementsAre(10u, 20u));
  EXPECT_TRUE(got[2].resync);
  WorkerStats s = Stats0();
  EXPECT_EQ(s.gaps, 1u);
  EXPECT_EQ(s.replays, 0u);
  EXPECT_EQ(s.replay_failures, 1u);
  EXPECT_EQ(s.resyncs, 1u);
  EXPECT_THAT(s.last_error, HasSubstr("no longer has seq 11"));
}

TEST_F(SubscriberTest, UnansweredReplayTimesOutThenTheNextOneWorks) {
  engine_->BindReplay();
  StartConnected(engine_->replay_endpoint(), /*replay_timeout_ms=*/200);
  engine_->Publish(0, StoredBatch(0));
  ASSERT_TRUE(collector_.WaitForSeq(0));
  engine_->Publish(2, StoredBatch(2));  // gap; the test does not answer
  ASSERT_TRUE(collector_.WaitForSeq(2));
  EXPECT_EQ(Stats0().replay_failures, 1u);
  EXPECT_EQ(Stats0().resyncs, 1u);
  // The unanswered request is still queued at the ROUTER, from a DEALER that
  // has since been replaced; answer only the fresh one.
  engine_->Publish(4, StoredBatch(4));
  std::pair<std::string, uint64_t> req = engine_->ReadReplayRequest();
  if (req.second == 1) req = engine_->ReadReplayRequest();
  EXPECT_EQ(req.second, 3u);
  engine_->Reply(req.first, 3, StoredBatch(3));
  engine_->EndReply(req.first);
  ASSERT_TRUE(collector_.WaitForSeq(4));
  EXPECT_THAT(RealSeqs(collector_.Take()), ElementsAre(0u, 2u, 3u, 4u));
  WorkerStats s = Stats0();
  EXPECT_EQ(s.gaps, 2u);
  EXPECT_EQ(s.replays, 1u);
  EXPECT_EQ(s.replay_failures, 1u);
  EXPECT_THAT(s.last_error, HasSubstr("replay [1, 2)"));
}

TEST_F(SubscriberTest, PublisherRestartResyncs) {
  StartConnected();
  for (uint64_t seq = 0; seq < 3; ++seq) engine_->Publish(seq, StoredBatch(seq));
  ASSERT_TRUE(collector_.WaitForSeq(2));
  // The engine process restarts: its socket goes away and a new one binds the
  // same port and counts from 0 again. The SUB socket reconnects by itself.
  const std::string endpoint = engine_->endpoint();
  engine_->Close();
  absl::Status bound;
  for (int attempt = 0; attempt < 100; ++attempt) {  // the old listener closes asynchronously
    engine_ = std::make_unique<FakeEngine>(ctx_.get());
    bound = engine_->TryBind(endpoint);
    if (bound.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(bound.ok()) << bound;
  engine_->WaitForSubscriber();
  engine_->Publish(0, StoredBatch(1000));
  ASSERT_TRUE(collector_.WaitUntil(
      [](const std::vector<Collector::Entry>& all) { return RealSeqs(all).size() == 4; }));
  std::vector<Collector::Entry> got = collector_.Take();
  EXPECT_THAT(RealSeqs(got), ElementsAre(0u, 1u, 2u, 0u));
  ASSERT_EQ(got.size(), 6u);
  EXPECT_TRUE(Collector::IsSyntheticClear(got[3].batch));
  EXPECT_TRUE(got[4].resync);
  EXPECT_THAT(got[5].batch.events[0].block_hashes, ElementsAre(1000u));
  WorkerStats s = Stats0();
  EXPECT_EQ(s.restarts, 1u);
  EXPECT_EQ(s.resyncs, 1u);
  EXPECT_EQ(s.gaps, 0u);
  EXPECT_EQ(s.last_seq, 0u);
}

// ------------------------------------------------------------- lifecycle --

TEST_F(SubscriberTest, StopWakesAReplayInProgress) {
  engine_->BindReplay();
  StartConnected(engine_->replay_endpoint(), /*replay_timeout_ms=*/600000);
  engine_->Publish(0, StoredBatch(0));
  ASSERT_TRUE(collector_.WaitForSeq(0));
  engine_->Publish(9, StoredBatch(9));
  engine_->ReadReplayRequest();  // the subscriber now waits for the answer
  subscriber_->Stop();           // must return without one
  subscriber_->Stop();           // idempotent
  EXPECT_THAT(RealSeqs(collector_.Take()), ElementsAre(0u));
}

TEST(SubscriberCreateTest, RejectsBadConfigurations) {
  auto create = [](std::vector<EngineEndpoint> engines) {
    SubscriberOptions options;
    options.engines = std::move(engines);
    return EngineEventSubscriber::Create(std::move(options), [](EventBatch) {}).status();
  };
  EXPECT_TRUE(absl::IsInvalidArgument(create({})));
  EXPECT_TRUE(absl::IsInvalidArgument(create({{"", "tcp://127.0.0.1:1", ""}})));
  EXPECT_TRUE(absl::IsInvalidArgument(
      create({{"a", "tcp://127.0.0.1:1", ""}, {"a", "tcp://127.0.0.1:1", ""}})));
  // One worker, one stream per data-parallel rank (vLLM: port + rank).
  EXPECT_TRUE(create({{"a", "tcp://127.0.0.1:1", ""}, {"a", "tcp://127.0.0.1:2", ""}}).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(create({{"a", "nonsense", ""}})));
  // Connecting to a port nobody listens on is fine: ZMQ retries in the background.
  EXPECT_TRUE(create({{"a", "tcp://127.0.0.1:1", ""}}).ok());
}

TEST(ParseEngineEndpointTest, WorkerEndpointAndReplay) {
  absl::StatusOr<EngineEndpoint> e = ParseEngineEndpoint("vllm-0=tcp://10.0.0.5:5557");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->worker, "vllm-0");
  EXPECT_EQ(e->endpoint, "tcp://10.0.0.5:5557");
  EXPECT_EQ(e->replay_endpoint, "");
  e = ParseEngineEndpoint("w=tcp://h:5557;replay=tcp://h:5558");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->replay_endpoint, "tcp://h:5558");
  for (const char* bad :
       {"", "tcp://h:5557", "=tcp://h:1", "w=", "w=tcp://h:1;replay=", "w=tcp://h:1;bogus=x"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseEngineEndpoint(bad).status())) << bad;
  }
}

// ---------------------------------------------------- a non-C++ publisher --

TEST_F(SubscriberTest, PythonPublisherInterop) {
  if (std::system("/usr/bin/python3 -c 'import zmq, msgpack' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with pyzmq and msgpack is needed "
                    "(Debian: python3-zmq python3-msgpack)";
  }
  const bool fixtures = ReadFixture(router_testing::kMapRemoved).has_value() &&
                        ReadFixture(router_testing::kMapRemovedStored).has_value() &&
                        ReadFixture(router_testing::kArrayStored).has_value();
  Start({{"py", "tcp://127.0.0.1:*", ""}});
  const std::string cmd = absl::StrCat(
      "/usr/bin/python3 " KVSTASH_SOURCE_DIR "/tests/service/zmq_publisher.py --connect ",
      Stats0().endpoint, fixtures ? " --fixtures " : "",
      fixtures ? router_testing::kFixtureDir : "", " --first-seq 100");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const uint64_t last = 100 + (fixtures ? 3 : 0) + 1;
  ASSERT_TRUE(collector_.WaitForSeq(last, "py"));
  std::vector<Collector::Entry> got = collector_.Take();
  ASSERT_EQ(got.size(), last - 100 + 1);
  const EventBatch& stored = got[got.size() - 2].batch;
  EXPECT_EQ(stored.holder, (HolderId{"py", 3}));
  EXPECT_EQ(stored.timestamp, 1.25);
  ASSERT_EQ(stored.events.size(), 1u);
  EXPECT_EQ(stored.events[0].kind, KvEvent::Kind::kStored);
  EXPECT_THAT(stored.events[0].block_hashes,
              ElementsAre(0x18191a1b1c1d1e1full, ~uint64_t{0}, ~uint64_t{0}));
  EXPECT_FALSE(stored.events[0].parent_hash.has_value());
  EXPECT_EQ(stored.events[0].block_size, 16u);
  EXPECT_EQ(stored.events[0].medium, Medium::kHost);
  const EventBatch& removed = got.back().batch;
  EXPECT_EQ(removed.holder, (HolderId{"py", 0}));
  ASSERT_EQ(removed.events.size(), 2u);
  EXPECT_THAT(removed.events[0].block_hashes, ElementsAre(5u, 6u));
  EXPECT_EQ(removed.events[0].medium, Medium::kDisk);
  EXPECT_EQ(removed.events[1].kind, KvEvent::Kind::kCleared);
  if (fixtures) {
    EXPECT_EQ(got[0].batch.events.size(), 7u);
    EXPECT_EQ(got[0].batch.seq, 100u);
  }
  EXPECT_EQ(Stats0().decode_errors, 0u);
  EXPECT_EQ(Stats0().gaps, 0u);
}

}  // namespace
}  // namespace kvstash::router
