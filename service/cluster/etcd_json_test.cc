// The gateway's JSON, from answers captured from Debian's etcd 3.4.23.
#include "service/cluster/etcd_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/json_reader.h"
#include "service/cluster/etcd_client.h"

namespace kvstash::cluster::etcd_internal {
namespace {

using ::testing::HasSubstr;

constexpr char kHeader[] =
    R"("header":{"cluster_id":"324952591200643719","member_id":"3319814642761637952",)"
    R"("revision":"2","raft_term":"2"})";

TEST(EtcdJson, RequestsAreBase64AndStringInt64) {
  EXPECT_EQ(PutRequest("/a/b", std::string("x\0y", 3), 7),
            R"({"key":"L2EvYg==","value":"eAB5","lease":"7"})");
  EXPECT_EQ(PutRequest("k", "", 0), R"({"key":"aw==","value":""})");
  EXPECT_EQ(RangeRequest("/a/", "/a0"), R"({"key":"L2Ev","range_end":"L2Ew"})");
  EXPECT_EQ(LeaseGrantRequest(5), R"({"TTL":"5"})");
  EXPECT_EQ(LeaseIdRequest(2324035691009194504), R"({"ID":"2324035691009194504"})");
  EXPECT_EQ(WatchCreateRequest("/a/", "/a0", 12),
            R"({"create_request":{"key":"L2Ev","range_end":"L2Ew","start_revision":"12"}})");
  EXPECT_EQ(WatchCreateRequest("k", "", 0), R"({"create_request":{"key":"aw=="}})");
  // The transaction is JSON and carries the compare on create_revision.
  std::string txn = CreateIfAbsentRequest("/a/b", "v", 9);
  EXPECT_TRUE(ParseJson(txn).ok()) << txn;
  EXPECT_THAT(txn, HasSubstr(R"("target":"CREATE","result":"EQUAL","create_revision":"0")"));
  EXPECT_THAT(txn, HasSubstr(R"("request_put":{"key":"L2EvYg==","value":"dg==","lease":"9"})"));
}

TEST(EtcdJson, RangeReadsKeyValuesAndTreatsAbsentFieldsAsZero) {
  absl::StatusOr<EtcdRangeResult> r = DecodeRange(absl::StrCat(
      "{", kHeader,
      R"(,"kvs":[{"key":"L2EvYg==","create_revision":"2","mod_revision":"2","version":"1",)"
      R"("value":"eA==","lease":"2324035691009194504"},{"key":"L2EvYw==","mod_revision":"3"}],)"
      R"("count":"2"})"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->revision, 2);
  ASSERT_EQ(r->kvs.size(), 2u);
  EXPECT_EQ(r->kvs[0].key, "/a/b");
  EXPECT_EQ(r->kvs[0].value, "x");
  EXPECT_EQ(r->kvs[0].lease, 2324035691009194504);
  EXPECT_EQ(r->kvs[1].value, "");
  EXPECT_EQ(r->kvs[1].lease, 0);

  absl::StatusOr<EtcdRangeResult> empty = DecodeRange(absl::StrCat("{", kHeader, "}"));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->kvs.empty());
}

TEST(EtcdJson, BadAnswersNameTheField) {
  absl::StatusOr<EtcdRangeResult> r = DecodeRange(R"({"kvs":[{"key":"%%%"}]})");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(r.status().message(), HasSubstr("kvs[0].key: not base64"));
  r = DecodeRange(R"({"header":{"revision":"12x"}})");
  EXPECT_THAT(r.status().message(), HasSubstr("header.revision: expected a 64-bit integer"));
  EXPECT_FALSE(DecodeRange("not json").ok());
}

TEST(EtcdJson, KeepAliveAnswers) {
  EXPECT_EQ(*DecodeLeaseKeepAlive(
                absl::StrCat(R"({"result":{)", kHeader, R"(,"ID":"1","TTL":"5"}})", "\n")),
            5);
  // An unknown lease: no TTL at all, which means 0.
  EXPECT_EQ(*DecodeLeaseKeepAlive(absl::StrCat(R"({"result":{)", kHeader, R"(,"ID":"123"}})")), 0);
  absl::StatusOr<int64_t> error = DecodeLeaseKeepAlive(
      R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader"}})");
  EXPECT_EQ(error.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(error.status().message(), "etcdserver: no leader");
}

TEST(EtcdJson, GrantAndTimeToLive) {
  absl::StatusOr<EtcdLease> lease =
      DecodeLeaseGrant(absl::StrCat("{", kHeader, R"(,"ID":"2324035691009194502","TTL":"2"})"));
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->id, 2324035691009194502);
  EXPECT_EQ(lease->ttl_seconds, 2);
  EXPECT_FALSE(DecodeLeaseGrant(absl::StrCat("{", kHeader, "}")).ok());  // no ID

  absl::StatusOr<EtcdLeaseTimeToLive> ttl =
      DecodeLeaseTimeToLive(absl::StrCat("{", kHeader, R"(,"ID":"1","TTL":"4","grantedTTL":"5"})"));
  ASSERT_TRUE(ttl.ok());
  EXPECT_EQ(ttl->ttl_seconds, 4);
  EXPECT_EQ(ttl->granted_ttl_seconds, 5);
  EXPECT_EQ(
      DecodeLeaseTimeToLive(absl::StrCat("{", kHeader, R"(,"ID":"1","TTL":"-1"})"))->ttl_seconds,
      -1);
}

TEST(EtcdJson, CreateIfAbsentAnswers) {
  absl::StatusOr<EtcdCreateResult> created = DecodeCreateIfAbsent(absl::StrCat(
      "{", kHeader,
      R"(,"succeeded":true,"responses":[{"response_put":{"header":{"revision":"2"}}}]})"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->created);
  EXPECT_FALSE(created->existing.has_value());

  // "succeeded": false is omitted, as proto3 JSON does.
  absl::StatusOr<EtcdCreateResult> held = DecodeCreateIfAbsent(absl::StrCat(
      "{", kHeader,
      R"(,"responses":[{"response_range":{"header":{"revision":"2"},"kvs":[{"key":"L2EvYg==",)"
      R"("create_revision":"2","mod_revision":"2","version":"1","value":"eA==",)"
      R"("lease":"2324035691009194504"}],"count":"1"}}]})"));
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_FALSE(held->created);
  ASSERT_TRUE(held->existing.has_value());
  EXPECT_EQ(held->existing->lease, 2324035691009194504);
  EXPECT_EQ(held->existing->value, "x");
}

TEST(EtcdJson, WatchLines) {
  absl::StatusOr<WatchMessage> created =
      DecodeWatchLine(absl::StrCat(R"({"result":{)", kHeader, R"(,"created":true}})"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->header_revision, 2);

  absl::StatusOr<WatchMessage> events = DecodeWatchLine(absl::StrCat(
      R"({"result":{)", kHeader,
      R"(,"events":[{"kv":{"key":"L2EvYg==","create_revision":"2","mod_revision":"2",)"
      R"("version":"1","value":"eA==","lease":"7"}},{"type":"DELETE","kv":{"key":"L2EvYg==",)"
      R"("mod_revision":"3"}}]}})"));
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->events.size(), 2u);
  EXPECT_EQ(events->events[0].type, EtcdWatchEvent::Type::kPut);
  EXPECT_EQ(events->events[0].kv.lease, 7);
  EXPECT_EQ(events->events[1].type, EtcdWatchEvent::Type::kDelete);
  EXPECT_EQ(events->events[1].kv.key, "/a/b");
  EXPECT_EQ(events->events[1].kv.mod_revision, 3);

  absl::StatusOr<WatchMessage> compacted = DecodeWatchLine(
      R"({"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"4"}})");
  ASSERT_TRUE(compacted.ok());
  EXPECT_TRUE(compacted->canceled);
  EXPECT_EQ(compacted->compact_revision, 4);

  EXPECT_THAT(DecodeWatchLine(R"({"result":{"events":[{"type":"NOPE"}]}})").status().message(),
              HasSubstr("events[0].type"));
}

TEST(EtcdJson, ErrorAnswers) {
  absl::Status s = ErrorFromAnswer(
      404, R"({"error":"etcdserver: requested lease not found","message":"etcdserver: )"
           R"(requested lease not found","code":5})");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "etcdserver: requested lease not found");
  EXPECT_EQ(ErrorFromAnswer(404, "Not Found\n").code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ErrorFromAnswer(503, "").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorFromAnswer(502, "<html>").code(), absl::StatusCode::kInternal);
}

TEST(EtcdEndpoints, Parse) {
  absl::StatusOr<std::vector<EtcdEndpoint>> e =
      ParseEtcdEndpoints("http://h1:2379, h2:1234 ,http://[::1]:2379/,http://h3");
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->size(), 4u);
  EXPECT_EQ((*e)[0].url, "http://h1:2379");
  EXPECT_EQ((*e)[0].host_port, "h1:2379");
  EXPECT_EQ((*e)[1].url, "http://h2:1234");
  EXPECT_EQ((*e)[2].host_port, "[::1]:2379");
  EXPECT_EQ((*e)[3].host_port, "h3:2379");

  for (const char* bad : {"", " , ", "https://h:2379", "http://h:0", "http://h:x", "http://h/v3",
                          "::1:2379", "http://:2379"}) {
    absl::StatusOr<std::vector<EtcdEndpoint>> r = ParseEtcdEndpoints(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(ParseEtcdEndpoints("https://h:2379").status().message(), HasSubstr("https"));
}

TEST(EtcdEndpoints, PrefixRangeEnd) {
  EXPECT_EQ(PrefixRangeEnd("/kvstash/c/members/"), "/kvstash/c/members0");
  EXPECT_EQ(PrefixRangeEnd("a\xff"), "b");
}

}  // namespace
}  // namespace kvstash::cluster::etcd_internal
