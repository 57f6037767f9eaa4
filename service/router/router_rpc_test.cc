// RouterRpc over a real socket: a TwoPartyServer bootstrapping the Router on
// a Unix socket in a temp dir, a TwoPartyClient connected to it, both on the
// test's event loop. Answers are checked against RouterService::Place called
// directly on the same index.
#include "service/router/router_rpc.h"

#include <capnp/rpc-twoparty.h>
#include <gtest/gtest.h>
#include <kj/async-io.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kvstash/block_hash.h"
#include "proto/status_wire.h"

namespace kvstash::router {
namespace {

using proto::Router;

EventBatch Stored(const std::string& worker, int32_t rank, std::vector<uint64_t> hashes,
                  std::optional<Medium> medium = std::nullopt) {
  EventBatch b;
  b.holder = HolderId{worker, rank};
  KvEvent& e = b.events.emplace_back();
  e.kind = KvEvent::Kind::kStored;
  e.block_hashes = std::move(hashes);
  e.medium = medium;
  return b;
}

// A fresh directory under $TMPDIR or /tmp, removed with its contents.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                       "/kvstash_router_rpc_XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The server listening on `socket_path` and a client connected to it, on one
// event loop. Members are destroyed client first, then the server, then the loop.
struct Loopback {
  Loopback(RouterService* service, const std::string& socket_path)
      : io(kj::setupAsyncIo()), server(kj::heap<RouterRpc>(service)) {
    kj::Network& net = io.provider->getNetwork();
    const kj::String addr = kj::str("unix:", socket_path.c_str());
    listener = net.parseAddress(addr).wait(io.waitScope)->listen();
    serving = server.listen(*listener).eagerlyEvaluate(
        [](kj::Exception&& e) { ADD_FAILURE() << e.getDescription().cStr(); });
    stream = net.parseAddress(addr).wait(io.waitScope)->connect().wait(io.waitScope);
    client = kj::heap<capnp::TwoPartyClient>(*stream);
    router = client->bootstrap().castAs<Router>();
  }

  kj::AsyncIoContext io;
  capnp::TwoPartyServer server;
  kj::Own<kj::ConnectionReceiver> listener;
  kj::Promise<void> serving = nullptr;
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyClient> client;
  Router::Client router = nullptr;
};

// An RPC answer in RouterService's terms, for comparison with Place().
struct RpcAnswer {
  PlacementDecision decision;
  std::vector<std::vector<uint64_t>> hint_hashes;
  uint32_t blocks = 0;
};

class RouterRpcTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> engine_events = {}) {
    RouterServiceOptions o;
    o.node_id = "n1";
    o.tier_media = {Medium::kHost};
    o.clock = &clock_;
    o.engine_events = std::move(engine_events);
    absl::StatusOr<std::unique_ptr<RouterService>> r = RouterService::Create(o);
    ASSERT_TRUE(r.ok()) << r.status();
    service_ = *std::move(r);
    ASSERT_FALSE(dir_.path().empty());
    rpc_ = std::make_unique<Loopback>(service_.get(), dir_.path() + "/router.sock");
  }

  kj::WaitScope& ws() { return rpc_->io.waitScope; }

  // Sends the request that `fill` builds.
  template <typename Fill>
  RpcAnswer Place(Fill&& fill) {
    auto req = rpc_->router.placementRequest();
    fill(req.initRequest());
    auto res = req.send().wait(ws());
    RpcAnswer a;
    for (auto c : res.getCandidates()) {
      RankScore& s = a.decision.ranked.emplace_back();
      s.rank = HolderId{c.getWorker().cStr(), c.getDpRank()};
      s.device = c.getDevice();
      s.host = c.getHost();
      s.disk = c.getDisk();
      s.remote = c.getRemote();
      s.prefill = c.getPrefillBlocks();
      s.load = c.getLoad();
      s.cost = c.getCost();
    }
    for (auto h : res.getFetchHints()) {
      FetchHint& f = a.decision.fetch_hints.emplace_back();
      f.node = HolderId{h.getNode().cStr(), kNodeRank};
      f.medium = static_cast<Medium>(static_cast<uint8_t>(h.getMedium()));
      f.start = h.getStart();
      f.count = h.getCount();
      std::vector<uint64_t>& hashes = a.hint_hashes.emplace_back();
      for (uint64_t x : h.getBlockHashes()) hashes.push_back(x);
    }
    a.blocks = res.getBlocks();
    return a;
  }

  RpcAnswer PlaceHashes(const std::vector<uint64_t>& hashes) {
    return Place([&](Router::PlacementRequest::Builder r) {
      auto l = r.initBlockHashes(hashes.size());
      for (size_t i = 0; i < hashes.size(); ++i) l.set(i, hashes[i]);
    });
  }

  // The exception the request that `fill` builds fails with.
  template <typename Fill>
  kj::Exception PlaceError(Fill&& fill) {
    auto req = rpc_->router.placementRequest();
    fill(req.initRequest());
    try {
      req.send().wait(ws());
    } catch (const kj::Exception& e) {
      return e;
    }
    ADD_FAILURE() << "the request succeeded";
    return kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__, kj::str("no error"));
  }

  FakeClock clock_{int64_t{1000} * 1000000000};
  TempDir dir_;
  std::unique_ptr<RouterService> service_;
  std::unique_ptr<Loopback> rpc_;  // after service_: destroyed first
};

void SetTokens(Router::PlacementRequest::Builder r, const std::vector<uint32_t>& tokens) {
  auto l = r.initTokenIds(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) l.set(i, tokens[i]);
}

TEST_F(RouterRpcTest, PlacementOverTheSocketEqualsPlaceInProcess) {
  Start();
  ASSERT_TRUE(service_->index().Apply(Stored("w1", 0, {1, 2, 3})).ok());
  ASSERT_TRUE(service_->index().Apply(Stored("w2", 1, {1}, Medium::kHost)).ok());
  ASSERT_TRUE(service_->index().Apply(Stored("w3", 2, {1, 2}, Medium::kDisk)).ok());
  // The node holds 4 and 5 in its host tier (tier 0): remote overlap and hints.
  const tiers::BlockKey k4 = tiers::BlockKey::FromHash64(0, 4);
  service_->OnCopyChange({k4, std::nullopt, 0, true});
  service_->OnCopyChange({tiers::BlockKey::FromHash64(0, 5), k4, 0, true});

  const std::vector<uint64_t> hashes = {1, 2, 3, 4, 5, 6};
  PlacementRequest direct;
  direct.hashes = hashes;
  absl::StatusOr<PlacementDecision> want = service_->Place(direct, false);
  ASSERT_TRUE(want.ok()) << want.status();
  ASSERT_EQ(want->ranked.size(), 3u);
  ASSERT_FALSE(want->fetch_hints.empty());

  const RpcAnswer got = PlaceHashes(hashes);
  EXPECT_EQ(got.decision.ranked, want->ranked);
  EXPECT_EQ(got.decision.fetch_hints, want->fetch_hints);
  EXPECT_EQ(got.blocks, hashes.size());
  EXPECT_EQ(got.decision.ranked[0].rank, (HolderId{"w1", 0}));
  EXPECT_EQ(got.decision.ranked[0].device, 3u);
  EXPECT_EQ(got.decision.ranked[0].remote, 2u);
  EXPECT_EQ(got.decision.ranked[0].prefill, 1u);
  ASSERT_EQ(got.hint_hashes.size(), got.decision.fetch_hints.size());
  for (size_t i = 0; i < got.hint_hashes.size(); ++i) {
    const FetchHint& h = got.decision.fetch_hints[i];
    EXPECT_EQ(h.node.worker, "n1");
    EXPECT_EQ(got.hint_hashes[i],
              std::vector<uint64_t>(hashes.begin() + h.start, hashes.begin() + h.start + h.count));
  }

  // Named candidates, with load, temperature and a seed: the same again.
  direct.candidates = {{"w2", 1, 5, 40}, {"w3", 2, 0, 0}, {"w1", 0, 9, 0}};
  direct.temperature = 0.5;
  direct.seed = 77;
  want = service_->Place(direct, false);
  ASSERT_TRUE(want.ok()) << want.status();
  const RpcAnswer named = Place([&](Router::PlacementRequest::Builder r) {
    auto l = r.initBlockHashes(hashes.size());
    for (size_t i = 0; i < hashes.size(); ++i) l.set(i, hashes[i]);
    auto c = r.initCandidates(direct.candidates.size());
    for (size_t i = 0; i < direct.candidates.size(); ++i) {
      c[i].setWorker(direct.candidates[i].worker);
      c[i].setDpRank(direct.candidates[i].dp_rank);
      c[i].setActiveBlocks(direct.candidates[i].active_blocks);
      c[i].setQueuedPrefillTokens(direct.candidates[i].queued_prefill_tokens);
    }
    r.setTemperature(0.5);
    r.setSeed(77);
    r.setRecord(false);
  });
  EXPECT_EQ(named.decision.ranked, want->ranked);
  EXPECT_EQ(named.decision.fetch_hints, want->fetch_hints);
}

TEST_F(RouterRpcTest, TokenIdsHashLikeBlockHashes) {
  Start();
  std::vector<uint32_t> tokens(37);  // two full blocks of 16 and a partial one
  for (uint32_t i = 0; i < tokens.size(); ++i) tokens[i] = 100 + i;
  std::vector<uint64_t> wire;
  for (const Sha256Digest& d : Sha256CborHashes(tokens, 16)) wire.push_back(DigestToU64(d));
  ASSERT_EQ(wire.size(), 2u);
  ASSERT_TRUE(service_->index().Apply(Stored("w1", 0, {wire[0]})).ok());
  ASSERT_TRUE(service_->index().Apply(Stored("w2", 0, wire, Medium::kHost)).ok());

  const RpcAnswer by_hash = PlaceHashes(wire);
  const RpcAnswer by_tokens =
      Place([&](Router::PlacementRequest::Builder r) { SetTokens(r, tokens); });
  EXPECT_EQ(by_tokens.blocks, 2u);
  EXPECT_EQ(by_tokens.decision.ranked, by_hash.decision.ranked);
  ASSERT_EQ(by_tokens.decision.ranked.size(), 2u);
  EXPECT_EQ(by_tokens.decision.ranked[0].rank.worker, "w2");
  EXPECT_EQ(by_tokens.decision.ranked[0].host, 2u);

  // xxh3 with a seed and a chaining seed, and another block size.
  Xxh3HashOptions xo;
  xo.seed = 7;
  xo.chain_seed = 0;
  const std::vector<uint64_t> x = Xxh3SequenceHashes(tokens, 8, xo);
  ASSERT_TRUE(service_->index().Apply(Stored("w3", 4, x)).ok());
  const RpcAnswer by_xxh3 = Place([&](Router::PlacementRequest::Builder r) {
    SetTokens(r, tokens);
    r.setBlockSize(8);
    r.setHashScheme("xxh3");
    r.setHashSeed("7");
    r.getChainSeed().setValue(0);
  });
  EXPECT_EQ(by_xxh3.blocks, x.size());
  EXPECT_EQ(by_xxh3.decision.ranked, PlaceHashes(x).decision.ranked);
  ASSERT_FALSE(by_xxh3.decision.ranked.empty());
  EXPECT_EQ(by_xxh3.decision.ranked[0].rank, (HolderId{"w3", 4}));
  EXPECT_EQ(by_xxh3.decision.ranked[0].device, x.size());
}

TEST_F(RouterRpcTest, BadRequestsFailWithInvalidArgumentNamingTheField) {
  Start();
  using Fill = std::function<void(Router::PlacementRequest::Builder)>;
  const std::vector<std::pair<Fill, std::vector<std::string>>> cases = {
      {[](auto r) {
         r.initBlockHashes(1).set(0, 1);
         r.initTokenIds(1).set(0, 1);
       },
       {"blockHashes", "tokenIds", "not both"}},
      {[](auto r) {}, {"blockHashes", "tokenIds"}},
      {[](auto r) {
         r.initTokenIds(16);
         r.setHashScheme("md5");
       },
       {"hashScheme", "md5"}},
      {[](auto r) {
         r.initTokenIds(16);
         r.setHashScheme("xxh3");
         r.setHashSeed("seven");
       },
       {"hashSeed"}},
      {[](auto r) {
         r.initBlockHashes(1);
         r.setBlockSize(0);
       },
       {"blockSize"}},
      {[](auto r) { r.initBlockHashes(kMaxPlacementBlocks + 1); },
       {"blockHashes", std::to_string(kMaxPlacementBlocks)}},
      {[](auto r) {
         r.initBlockHashes(1);
         auto c = r.initCandidates(2);
         c[0].setWorker("w1");
         c[1].setWorker("w1");
         c[1].setDpRank(-2);
       },
       {"candidates[1].dpRank"}},
      {[](auto r) {
         r.initBlockHashes(1);
         r.setTemperature(std::nan(""));
       },
       {"temperature"}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const kj::Exception e = PlaceError(cases[i].first);
    const std::string description = e.getDescription().cStr();
    // kj marks an exception that crossed the wire with a "remote exception: "
    // prefix; the status follows it.
    const std::string_view remote = "remote exception: ";
    std::string_view own = description;
    if (own.substr(0, remote.size()) == remote) own.remove_prefix(remote.size());
    EXPECT_EQ(own.substr(0, 19), "[INVALID_ARGUMENT] ") << "case " << i << ": " << description;
    const absl::Status s = proto::StatusFromException(e);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << "case " << i << ": " << s;
    for (const std::string& word : cases[i].second) {
      EXPECT_NE(s.message().find(word), std::string::npos) << "case " << i << ": " << s;
    }
  }
  // The connection survives its errors.
  EXPECT_EQ(PlaceHashes({1}).blocks, 1u);
}

TEST_F(RouterRpcTest, WorkersListsTheHolders) {
  Start();
  ASSERT_TRUE(service_->index().Apply(Stored("w1", 3, {1, 2}), service_->Now()).ok());
  service_->OnCopyChange({tiers::BlockKey::FromHash64(0, 5), std::nullopt, 0, true});
  clock_.Advance(int64_t{5} * 1000000000);

  auto res = rpc_->router.workersRequest().send().wait(ws());
  const auto w = res.getWorkers();
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(std::string(w[0].getWorker().cStr()), "n1");
  EXPECT_EQ(w[0].getDpRank(), kNodeRank);
  EXPECT_EQ(w[0].getKind(), Router::HolderKind::KVSTASH);
  EXPECT_EQ(w[0].getBlocks(), 1);
  EXPECT_EQ(w[0].getLastSeenS(), 0);  // the node is touched on every call
  EXPECT_EQ(std::string(w[1].getWorker().cStr()), "w1");
  EXPECT_EQ(w[1].getDpRank(), 3);
  EXPECT_EQ(w[1].getKind(), Router::HolderKind::ENGINE);
  EXPECT_EQ(w[1].getBlocks(), 2);
  EXPECT_DOUBLE_EQ(w[1].getLastSeenS(), 5);
  EXPECT_EQ(res.getEngines().size(), 0u);
}

TEST_F(RouterRpcTest, WorkersListsEngineStreams) {
  // A wildcard endpoint is bound (the engine would connect to it).
  Start({"e1=tcp://127.0.0.1:*"});
  auto res = rpc_->router.workersRequest().send().wait(ws());
  const auto e = res.getEngines();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(std::string(e[0].getWorker().cStr()), "e1");
  EXPECT_EQ(std::string(e[0].getEndpoint().cStr()).rfind("tcp://127.0.0.1:", 0), 0u)
      << e[0].getEndpoint().cStr();
  EXPECT_EQ(std::string(e[0].getEndpoint().cStr()).find('*'), std::string::npos);
  EXPECT_TRUE(e[0].getLastSeq().isNone());
  EXPECT_EQ(e[0].getBatches(), 0u);
}

}  // namespace
}  // namespace kvstash::router
