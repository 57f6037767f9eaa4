// RouterService in process: the JSON API over engine batches and the node's
// own tier changes.
#include "service/router/router_service.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/json_reader.h"
#include "kvstash/block_hash.h"

namespace kvstash::router {
namespace {

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

class RouterServiceTest : public ::testing::Test {
 protected:
  RouterServiceTest() {
    RouterServiceOptions o;
    o.node_id = "node-a";
    o.tier_media = {Medium::kHost, Medium::kDisk};
    o.clock = &clock_;
    router_ = *RouterService::Create(o);
  }

  // POSTs `body`; returns the parsed answer (and the status code).
  JsonValue Place(const std::string& body, int* status = nullptr) {
    service::HttpRequest req;
    req.method = kj::HttpMethod::POST;
    req.path = "/v1/placement";
    req.body = body;
    service::HttpResponse r = router_->HandlePlacement(req);
    if (status != nullptr) *status = r.status;
    absl::StatusOr<JsonValue> v = ParseJson(r.body);
    EXPECT_TRUE(v.ok()) << r.body;
    return v.ok() ? *v : JsonValue();
  }

  static uint64_t Field(const JsonValue& v, const char* a, const char* b = nullptr) {
    const JsonValue* f = v.Find(a);
    if (f != nullptr && b != nullptr) f = f->Find(b);
    return f == nullptr ? ~uint64_t{0} : f->AsU64().value_or(~uint64_t{0});
  }

  FakeClock clock_{int64_t{1000} * 1000000000};
  std::unique_ptr<RouterService> router_;
};

TEST_F(RouterServiceTest, RanksByOverlapAndAnswersTheDocumentedShape) {
  ASSERT_TRUE(router_->index().Apply(Stored("w1", 0, {1, 2, 3})).ok());
  ASSERT_TRUE(router_->index().Apply(Stored("w2", 1, {1}, Medium::kHost)).ok());
  const JsonValue v = Place(R"({"block_hashes": [1, 2, 3, 4]})");
  const auto& c = v.Find("candidates")->items();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(*c[0].Find("worker")->AsString(), "w1");
  EXPECT_EQ(Field(c[0], "dp_rank"), 0u);
  EXPECT_EQ(Field(c[0], "overlap", "device"), 3u);
  EXPECT_EQ(Field(c[0], "prefill_blocks"), 1u);
  EXPECT_EQ(*c[1].Find("worker")->AsString(), "w2");
  EXPECT_EQ(Field(c[1], "dp_rank"), 1u);
  EXPECT_EQ(Field(c[1], "overlap", "host"), 1u);
  EXPECT_EQ(Field(c[1], "overlap", "remote"), 0u);
  EXPECT_EQ(Field(c[1], "prefill_blocks"), 3u);
  ASSERT_NE(v.Find("fetch_hints"), nullptr);
}

TEST_F(RouterServiceTest, TheNodesOwnBlocksBecomeRemoteOverlapAndFetchHints) {
  ASSERT_TRUE(router_->index().Apply(Stored("w1", 0, {11})).ok());
  // The node stores blocks 11 and 12 in its host tier (tier 0), 13 on disk.
  const tiers::BlockKey k11 = tiers::BlockKey::FromHash64(0, 11);
  const tiers::BlockKey k12 = tiers::BlockKey::FromHash64(0, 12);
  const tiers::BlockKey k13 = tiers::BlockKey::FromHash64(0, 13);
  const std::optional<tiers::BlockKey> none, p11 = k11, p12 = k12;
  router_->OnCopyChange({k11, none, 0, true});
  router_->OnCopyChange({k12, p11, 0, true});
  router_->OnCopyChange({k13, p12, 1, true});
  JsonValue v = Place(R"({"block_hashes": [11, 12, 13, 14]})");
  const JsonValue& best = v.Find("candidates")->items().at(0);
  EXPECT_EQ(Field(best, "overlap", "device"), 1u);
  EXPECT_EQ(Field(best, "overlap", "remote"), 2u);
  EXPECT_EQ(Field(best, "prefill_blocks"), 1u);
  const auto& hints = v.Find("fetch_hints")->items();
  ASSERT_FALSE(hints.empty());
  EXPECT_EQ(*hints[0].Find("node")->AsString(), "node-a");
  EXPECT_EQ(*hints[0].Find("medium")->AsString(), "host");
  EXPECT_EQ(Field(hints[0], "start"), 1u);
  // The node's copy leaves: the remote overlap shrinks.
  router_->OnCopyChange({k12, p11, 0, false});
  v = Place(R"({"block_hashes": [11, 12, 13, 14]})");
  EXPECT_EQ(Field(v.Find("candidates")->items().at(0), "overlap", "remote"), 0u);
}

TEST_F(RouterServiceTest, TokenIdsHashLikeTheEngineDoes) {
  std::vector<uint32_t> tokens(32);
  for (uint32_t i = 0; i < 32; ++i) tokens[i] = 100 + i;
  std::vector<uint64_t> wire;
  for (const Sha256Digest& d : Sha256CborHashes(tokens, 16)) wire.push_back(DigestToU64(d));
  ASSERT_TRUE(router_->index().Apply(Stored("w1", 0, wire)).ok());
  std::string ids;
  for (uint32_t t : tokens) ids += (ids.empty() ? "" : ",") + std::to_string(t);
  const JsonValue v =
      Place(R"({"token_ids": [)" + ids + R"(], "block_size": 16, "hash_scheme": "sha256_cbor"})");
  EXPECT_EQ(Field(v.Find("candidates")->items().at(0), "overlap", "device"), 2u);

  const std::vector<uint64_t> x = Xxh3SequenceHashes(tokens, 16);
  ASSERT_TRUE(router_->index().Apply(Stored("w2", 0, x)).ok());
  const JsonValue vx =
      Place(R"({"token_ids": [)" + ids + R"(], "block_size": 16, "hash_scheme": "xxh3"})");
  EXPECT_EQ(*vx.Find("candidates")->items().at(0).Find("worker")->AsString(), "w2");
}

TEST_F(RouterServiceTest, BadRequestsNameTheField) {
  int status = 0;
  for (const auto& [body, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"block_hashes": [1, "x"]})", "block_hashes[1]"},
           {R"({})", "block_hashes"},
           {R"({"block_hashes": [1], "token_ids": [1]})", "not both"},
           {R"({"token_ids": [1], "hash_scheme": "md5"})", "hash_scheme"},
           {R"({"block_hashes": [1], "candidates": [{"dp_rank": 0}]})", "candidates[0].worker"},
           {R"({"block_hashes": [1], "blok_size": 16})", "blok_size"},
           {R"({"block_hashes": [1)", "JSON at"},
       }) {
    const JsonValue v = Place(body, &status);
    EXPECT_EQ(status, 400) << body;
    const JsonValue* err = v.Find("error");
    ASSERT_NE(err, nullptr) << body;
    EXPECT_NE(std::string(*err->Find("message")->AsString()).find(field), std::string::npos)
        << body << " -> " << *err->Find("message")->AsString();
  }
}

TEST_F(RouterServiceTest, WorkersListsEnginesAndTheNode) {
  ASSERT_TRUE(router_->index().Apply(Stored("w1", 3, {1, 2}), 1000).ok());
  router_->OnCopyChange({tiers::BlockKey::FromHash64(0, 5), std::nullopt, 0, true});
  const service::HttpResponse r = router_->HandleWorkers();
  absl::StatusOr<JsonValue> v = ParseJson(r.body);
  ASSERT_TRUE(v.ok()) << r.body;
  const auto& w = v->Find("workers")->items();
  ASSERT_EQ(w.size(), 2u) << r.body;
  EXPECT_EQ(*w[0].Find("worker")->AsString(), "node-a");
  EXPECT_EQ(*w[0].Find("kind")->AsString(), "kvstash");
  EXPECT_EQ(*w[1].Find("worker")->AsString(), "w1");
  EXPECT_EQ(Field(w[1], "dp_rank"), 3u);
  EXPECT_EQ(Field(w[1], "blocks"), 2u);
}

}  // namespace
}  // namespace kvstash::router
