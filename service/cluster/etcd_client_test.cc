// EtcdClient against a real etcd started by the test.
#include "service/cluster/etcd_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "service/cluster/cluster_test_fixture.h"

namespace kvstash::cluster {
namespace {

using testing::EtcdTest;
using ::testing::HasSubstr;
using testing::PickFreePort;

using EtcdClientTest = EtcdTest;

TEST_F(EtcdClientTest, PutRangeDelete) {
  auto client = Client();
  const std::string binary("\x00\xffvalue", 7);
  CLUSTER_ASSERT_OK(client->Put("/p/a", binary).wait(ws()).status());
  absl::StatusOr<int64_t> rev = client->Put("/p/b", "2").wait(ws());
  ASSERT_TRUE(rev.ok()) << rev.status();
  CLUSTER_ASSERT_OK(client->Put("/q", "other").wait(ws()).status());

  absl::StatusOr<EtcdRangeResult> one = client->Range("/p/a").wait(ws());
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->kvs.size(), 1u);
  EXPECT_EQ(one->kvs[0].value, binary);

  absl::StatusOr<EtcdRangeResult> all = client->Range("/p/", PrefixRangeEnd("/p/")).wait(ws());
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->kvs.size(), 2u);
  EXPECT_EQ(all->kvs[1].key, "/p/b");
  EXPECT_EQ(all->revision, *rev + 1);

  EXPECT_EQ(*client->DeleteRange("/p/", PrefixRangeEnd("/p/")).wait(ws()), 2);
  EXPECT_TRUE(client->Range("/p/", PrefixRangeEnd("/p/")).wait(ws())->kvs.empty());
  EXPECT_EQ(*client->DeleteRange("/nothing").wait(ws()), 0);
}

TEST_F(EtcdClientTest, LeaseLifecycle) {
  auto client = Client();
  absl::StatusOr<EtcdLease> lease = client->LeaseGrant(1).wait(ws());
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_GE(lease->ttl_seconds, 1);  // etcd raises it to its minimum (2 s by default)
  EXPECT_GT(*client->LeaseKeepAlive(lease->id).wait(ws()), 0);
  CLUSTER_ASSERT_OK(client->Put("/leased", "v", lease->id).wait(ws()).status());
  EXPECT_EQ(client->Range("/leased").wait(ws())->kvs.at(0).lease, lease->id);
  EXPECT_GT(client->LeaseTimeToLive(lease->id).wait(ws())->granted_ttl_seconds, 0);

  CLUSTER_ASSERT_OK(client->LeaseRevoke(lease->id).wait(ws()));
  EXPECT_TRUE(client->Range("/leased").wait(ws())->kvs.empty());  // went with the lease
  EXPECT_EQ(*client->LeaseKeepAlive(lease->id).wait(ws()), 0);    // unknown: TTL 0
  EXPECT_EQ(client->LeaseTimeToLive(lease->id).wait(ws())->ttl_seconds, -1);

  absl::Status again = client->LeaseRevoke(lease->id).wait(ws());
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(again.message(), HasSubstr(absl::StrCat("etcd lease/revoke at ", etcd_->endpoint())));
  // A put under a lease that does not exist is etcd's NotFound too.
  EXPECT_EQ(client->Put("/x", "v", lease->id).wait(ws()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(EtcdClientTest, CreateIfAbsentHasOneWinner) {
  auto client = Client();
  const int64_t l1 = client->LeaseGrant(10).wait(ws())->id;
  const int64_t l2 = client->LeaseGrant(10).wait(ws())->id;
  absl::StatusOr<EtcdCreateResult> first = client->CreateIfAbsent("/k", "one", l1).wait(ws());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->created);
  absl::StatusOr<EtcdCreateResult> second = client->CreateIfAbsent("/k", "two", l2).wait(ws());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->created);
  ASSERT_TRUE(second->existing.has_value());
  EXPECT_EQ(second->existing->lease, l1);
  EXPECT_EQ(second->existing->value, "one");
  EXPECT_EQ(client->Range("/k").wait(ws())->kvs.at(0).value, "one");
}

TEST_F(EtcdClientTest, WatchDeliversPutsAndDeletesInOrder) {
  auto client = Client();
  const std::string end = PrefixRangeEnd("/w/");
  absl::StatusOr<std::unique_ptr<EtcdWatch>> watch = client->Watch("/w/", end, 0).wait(ws());
  ASSERT_TRUE(watch.ok()) << watch.status();
  CLUSTER_ASSERT_OK(client->Put("/w/a", "1").wait(ws()).status());
  CLUSTER_ASSERT_OK(client->Put("/elsewhere", "x").wait(ws()).status());
  CLUSTER_ASSERT_OK(client->DeleteRange("/w/a").wait(ws()).status());

  std::vector<EtcdWatchEvent> events;
  while (events.size() < 2) {
    absl::StatusOr<EtcdWatchBatch> batch = (*watch)->Next().wait(ws());
    ASSERT_TRUE(batch.ok()) << batch.status();
    for (auto& e : batch->events) events.push_back(e);
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, EtcdWatchEvent::Type::kPut);
  EXPECT_EQ(events[0].kv.key, "/w/a");
  EXPECT_EQ(events[0].kv.value, "1");
  EXPECT_EQ(events[1].type, EtcdWatchEvent::Type::kDelete);
  EXPECT_GT(events[1].kv.mod_revision, events[0].kv.mod_revision + 1);  // /elsewhere in between

  // From a past revision: the history is replayed.
  absl::StatusOr<std::unique_ptr<EtcdWatch>> replay =
      client->Watch("/w/", end, events[0].kv.mod_revision).wait(ws());
  ASSERT_TRUE(replay.ok()) << replay.status();
  absl::StatusOr<EtcdWatchBatch> batch = (*replay)->Next().wait(ws());
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->events.at(0).kv.value, "1");
}

TEST_F(EtcdClientTest, WatchFromACompactedRevisionIsOutOfRange) {
  auto client = Client();
  const int64_t first = *client->Put("/c/a", "1").wait(ws());
  const int64_t last = *client->Put("/c/a", "2").wait(ws());
  CLUSTER_ASSERT_OK(client->Compact(last).wait(ws()));
  absl::StatusOr<std::unique_ptr<EtcdWatch>> watch =
      client->Watch("/c/", PrefixRangeEnd("/c/"), first).wait(ws());
  ASSERT_TRUE(watch.ok()) << watch.status();  // etcd confirms, then cancels
  absl::StatusOr<EtcdWatchBatch> batch = (*watch)->Next().wait(ws());
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kOutOfRange) << batch.status();
  EXPECT_EQ((*watch)->compact_revision(), last);
  EXPECT_THAT(batch.status().message(), HasSubstr(etcd_->endpoint()));
}

TEST_F(EtcdClientTest, WatchEndsWhenEtcdDies) {
  auto client = Client();
  absl::StatusOr<std::unique_ptr<EtcdWatch>> watch = client->Watch("/d/", "", 0).wait(ws());
  ASSERT_TRUE(watch.ok()) << watch.status();
  kj::Promise<absl::StatusOr<EtcdWatchBatch>> next = (*watch)->Next();
  etcd_->Kill();
  absl::StatusOr<EtcdWatchBatch> batch = next.wait(ws());
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kUnavailable) << batch.status();
  EXPECT_THAT(batch.status().message(),
              HasSubstr(absl::StrCat("etcd watch at ", etcd_->endpoint())));
}

TEST_F(EtcdClientTest, FailsOverPastADeadEndpoint) {
  const std::string dead = absl::StrCat("http://127.0.0.1:", PickFreePort());
  auto client = Client(1 * kj::SECONDS, absl::StrCat(dead, ",", etcd_->endpoint()));
  EXPECT_EQ(client->current_endpoint().url, dead);
  absl::StatusOr<int64_t> put = client->Put("/f", "v").wait(ws());
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(client->current_endpoint().url, etcd_->endpoint());  // and stays there
  CLUSTER_ASSERT_OK(client->Range("/f").wait(ws()).status());
  CLUSTER_ASSERT_OK(client->Watch("/f", "", 0).wait(ws()).status());
}

TEST_F(EtcdClientTest, RefusedConnectionsFailFastNamingEveryEndpoint) {
  const std::string dead1 = absl::StrCat("http://127.0.0.1:", PickFreePort());
  const std::string dead2 = absl::StrCat("http://127.0.0.1:", PickFreePort());
  auto one = Client(5 * kj::SECONDS, dead1);
  absl::StatusOr<EtcdRangeResult> r = one->Range("/x").wait(ws());
  // Unavailable (refused), not DeadlineExceeded: it did not wait for the timeout.
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr(absl::StrCat("etcd kv/range at ", dead1, ": ")));

  auto two = Client(5 * kj::SECONDS, absl::StrCat(dead1, ",", dead2));
  absl::Status s = two->LeaseRevoke(1).wait(ws());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(s.message(), HasSubstr("etcd lease/revoke: every endpoint failed"));
  EXPECT_THAT(s.message(), HasSubstr(dead1));
  EXPECT_THAT(s.message(), HasSubstr(dead2));
}

TEST_F(EtcdClientTest, StoppedEtcdTimesOutNamingTheEndpointAndNeverHangs) {
  auto client = Client(300 * kj::MILLISECONDS);
  CLUSTER_ASSERT_OK(client->Put("/s", "v").wait(ws()).status());
  etcd_->Pause();  // the kernel still accepts connections; nobody answers
  absl::StatusOr<EtcdRangeResult> r = client->Range("/s").wait(ws());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr(absl::StrCat("etcd kv/range at ", etcd_->endpoint(),
                                                           ": no answer within 300 ms")));
  absl::StatusOr<std::unique_ptr<EtcdWatch>> w = client->Watch("/s", "", 0).wait(ws());
  EXPECT_EQ(w.status().code(), absl::StatusCode::kDeadlineExceeded) << w.status();
  absl::StatusOr<int64_t> k = client->LeaseKeepAlive(1).wait(ws());
  EXPECT_THAT(k.status().message(), HasSubstr("etcd lease/keepalive at "));
  // Each call above ended by its own deadline (ctest's timeout catches a hang).

  etcd_->Resume();
  absl::StatusOr<EtcdRangeResult> after = client->Range("/s").wait(ws());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->kvs.size(), 1u);
}

TEST(EtcdClientOptions, AreChecked) {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  EtcdClientOptions options;
  EXPECT_FALSE(
      EtcdClient::Create(io.provider->getNetwork(), io.provider->getTimer(), options).ok());
  options.endpoints = *ParseEtcdEndpoints("http://127.0.0.1:1");
  options.request_timeout = 0 * kj::SECONDS;
  EXPECT_FALSE(
      EtcdClient::Create(io.provider->getNetwork(), io.provider->getTimer(), options).ok());
}

}  // namespace
}  // namespace kvstash::cluster
