// Membership against a real etcd, with every node in this process. The
// multi-process cases (SIGKILL) are in membership_process_test.cc.
#include "service/cluster/membership.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "service/cluster/cluster_test_fixture.h"

namespace kvstash::cluster {
namespace {

using testing::FastOptions;
using ::testing::HasSubstr;
using testing::Node;

class MembershipTest : public testing::EtcdTest {
 protected:
  Node NewNode(const std::string& id, MembershipOptions options = FastOptions(),
               kj::Duration timeout = 500 * kj::MILLISECONDS) {
    Node n;
    n.self.node_id = id;
    n.self.rpc = absl::StrCat("127.0.0.1:", 7000 + id.size());
    n.self.ucx = absl::StrCat(std::string("\0\x01", 2), "ucx-", id);
    n.self.host_bytes = uint64_t{1} << 30;
    n.self.gpus = {{0, "GPU-" + id, "NVIDIA H200", uint64_t{141} << 30}};
    n.client = Client(timeout);
    absl::StatusOr<std::unique_ptr<Membership>> m =
        Membership::Create(n.client.get(), &timer(), n.self, options);
    EXPECT_TRUE(m.ok()) << m.status();
    n.membership = *std::move(m);
    return n;
  }
  absl::Status Start(Node& n) { return n->Start().wait(ws()); }
};

TEST_F(MembershipTest, TwoMembersSeeEachOther) {
  Node a = NewNode("a");
  Node b = NewNode("b");
  uint64_t last_version = 0;
  int calls = 0;
  a->SetChangeCallback([&](const MembershipView& v) {
    ++calls;
    last_version = v.version;
  });
  EXPECT_EQ(a->View()->version, 0u);
  EXPECT_FALSE(a->registered());
  EXPECT_FALSE(a->health().ok());

  CLUSTER_ASSERT_OK(Start(a));
  CLUSTER_ASSERT_OK(Start(b));
  EXPECT_TRUE(a->registered());
  EXPECT_TRUE(a->health().ok()) << a->health();
  ASSERT_TRUE(WaitUntil([&] { return a.Sees("b") && b.Sees("a"); }));

  std::shared_ptr<const MembershipView> view = a->View();
  ASSERT_EQ(view->members.size(), 2u);
  EXPECT_EQ(view->members[0].node_id, "a");  // sorted, self included
  const Member* seen = view->Find("b");
  ASSERT_NE(seen, nullptr);
  Member expected = b.self;
  expected.started_ns = seen->started_ns;  // filled in at creation
  EXPECT_TRUE(seen->SameRegistration(expected));
  EXPECT_EQ(seen->ucx, b.self.ucx);
  EXPECT_EQ(seen->lease, b->lease_id());
  EXPECT_NE(seen->started_ns, 0);  // filled in at creation
  EXPECT_GT(calls, 0);
  EXPECT_EQ(last_version, view->version);
  EXPECT_EQ(a->key(), "/kvstash/test/members/a");
  EXPECT_EQ(a->stats().registrations, 1u);
}

TEST_F(MembershipTest, CleanLeaveIsSeenAtOnce) {
  // A long TTL: only the revoke can explain the quick departure.
  Node a = NewNode("a", FastOptions(30));
  Node b = NewNode("b", FastOptions(30));
  CLUSTER_ASSERT_OK(Start(a));
  CLUSTER_ASSERT_OK(Start(b));
  ASSERT_TRUE(WaitUntil([&] { return a.Sees("b"); }));

  CLUSTER_ASSERT_OK(b->Leave().wait(ws()));
  EXPECT_FALSE(b->registered());
  EXPECT_EQ(b->health().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(WaitUntil([&] { return !a.Sees("b"); }, 5 * kj::SECONDS));
  EXPECT_TRUE(a.client->Range(b->key()).wait(ws())->kvs.empty());
}

TEST_F(MembershipTest, MemberThatStopsWithoutLeavingExpiresThenRejoins) {
  Node a = NewNode("a");
  CLUSTER_ASSERT_OK(Start(a));
  int64_t old_lease = 0;
  {
    Node b = NewNode("b");
    CLUSTER_ASSERT_OK(Start(b));
    old_lease = b->lease_id();
    ASSERT_TRUE(WaitUntil([&] { return a.Sees("b"); }));
  }  // gone without a revoke, as in a crash: the keep-alives stop
  const kj::TimePoint gone = timer().now();
  ASSERT_TRUE(WaitUntil([&] { return !a.Sees("b"); }, 15 * kj::SECONDS));
  std::cout << "[ info ] a saw b leave " << SecondsSince(gone) << " s after it stopped (TTL 2 s)\n";

  Node b = NewNode("b");
  CLUSTER_ASSERT_OK(Start(b));
  EXPECT_NE(b->lease_id(), old_lease);
  EXPECT_TRUE(WaitUntil([&] { return a.LeaseOf("b") == b->lease_id(); }));
}

TEST_F(MembershipTest, DuplicateNodeIdIsRefused) {
  Node a = NewNode("dup");
  CLUSTER_ASSERT_OK(Start(a));
  Node b = NewNode("dup");
  b.self.rpc = "elsewhere:1";
  absl::Status s = Start(b);  // returns (ctest's timeout catches a hang)
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_THAT(s.message(), HasSubstr("node-id dup is already in use"));
  EXPECT_THAT(s.message(), HasSubstr(a.self.rpc));  // who holds it
  EXPECT_FALSE(b->registered());
  EXPECT_EQ(b->health().code(), absl::StatusCode::kAlreadyExists);

  EXPECT_TRUE(a->registered());
  ASSERT_TRUE(WaitUntil([&] { return a.Sees("dup"); }));
  EXPECT_EQ(a.LeaseOf("dup"), a->lease_id());
  EXPECT_EQ(a->View()->members.size(), 1u);
}

TEST_F(MembershipTest, StartAgainstAStoppedEtcdFailsWithinTheTimeout) {
  Node a = NewNode("a", FastOptions(), 300 * kj::MILLISECONDS);
  etcd_->Pause();
  absl::Status s = Start(a);  // fails by its deadline, never hangs
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("etcd lease/grant at ", etcd_->endpoint())));
  EXPECT_FALSE(a->registered());
  etcd_->Resume();
}

TEST_F(MembershipTest, SurvivesAnEtcdRestart) {
  Node a = NewNode("a");
  Node b = NewNode("b");
  CLUSTER_ASSERT_OK(Start(a));
  CLUSTER_ASSERT_OK(Start(b));
  ASSERT_TRUE(WaitUntil([&] { return a.Sees("b") && b.Sees("a"); }));

  etcd_->Kill();
  // Unreachable for longer than the TTL: no longer counted as registered.
  ASSERT_TRUE(WaitUntil([&] { return !a->registered() && !b->registered(); }));
  EXPECT_THAT(a->health().message(), HasSubstr("etcd unreachable for longer than the lease TTL"));
  EXPECT_TRUE(a.Sees("b"));  // the last snapshot stays

  CLUSTER_ASSERT_OK(RestartEtcd());
  ASSERT_TRUE(
      WaitUntil([&] { return a->registered() && b->registered() && a.Sees("b") && b.Sees("a"); }));
  // The watches work again: a newcomer is seen.
  Node c = NewNode("c");
  CLUSTER_ASSERT_OK(Start(c));
  EXPECT_TRUE(WaitUntil([&] { return a.Sees("c") && b.Sees("c"); }));
  EXPECT_GE(a->stats().watch_errors, 1u);
}

TEST_F(MembershipTest, WatchThatFellBehindACompactionReadsAgain) {
  // Long TTL (no keep-alive during the test) and a slow watch retry: while
  // a's watch waits to reconnect, history it has not seen is compacted.
  MembershipOptions options = FastOptions(30);
  options.retry_delay = 2 * kj::SECONDS;
  Node a = NewNode("a", options);
  CLUSTER_ASSERT_OK(Start(a));
  EXPECT_EQ(a->stats().ranges, 1u);

  etcd_->Kill();
  ASSERT_TRUE(WaitUntil([&] { return a->stats().watch_errors >= 1; }));
  CLUSTER_ASSERT_OK(RestartEtcd());
  auto writer = Client();
  Member c;
  c.node_id = "c";
  CLUSTER_ASSERT_OK(writer->Put(MemberKey("test", "c"), EncodeMember(c)).wait(ws()).status());
  const int64_t rev = *writer->Put(MemberKey("test", "c"), EncodeMember(c)).wait(ws());
  CLUSTER_ASSERT_OK(writer->Compact(rev).wait(ws()));

  ASSERT_TRUE(WaitUntil([&] { return a.Sees("c"); }));
  EXPECT_GE(a->stats().ranges, 2u);  // compacted: read the prefix again
}

TEST_F(MembershipTest, MalformedEntriesAreSkipped) {
  Node a = NewNode("a");
  CLUSTER_ASSERT_OK(Start(a));
  auto writer = Client();
  CLUSTER_ASSERT_OK(writer->Put(MemberKey("test", "junk"), "{not json").wait(ws()).status());
  Member liar;
  liar.node_id = "someone-else";
  CLUSTER_ASSERT_OK(writer->Put(MemberKey("test", "liar"), EncodeMember(liar)).wait(ws()).status());
  ASSERT_TRUE(WaitUntil([&] { return a->stats().malformed_entries >= 2; }));
  EXPECT_EQ(a->View()->members.size(), 1u);
  EXPECT_TRUE(a->registered());
}

TEST_F(MembershipTest, DeletedKeyIsPutBack) {
  Node a = NewNode("a");
  CLUSTER_ASSERT_OK(Start(a));
  auto writer = Client();
  CLUSTER_ASSERT_OK(writer->DeleteRange(a->key()).wait(ws()).status());
  // Seen gone, then back under the same lease at the next keep-alive.
  EXPECT_TRUE(WaitUntil([&] { return !a->registered(); }, 5 * kj::SECONDS));
  ASSERT_TRUE(WaitUntil([&] { return a->registered() && a.Sees("a"); }));
  EXPECT_EQ(a.LeaseOf("a"), a->lease_id());
}

TEST_F(MembershipTest, OptionsAreChecked) {
  auto client = Client();
  Member self;
  self.node_id = "a/b";
  EXPECT_FALSE(Membership::Create(client.get(), &timer(), self, FastOptions()).ok());
  self.node_id = "a";
  MembershipOptions options = FastOptions();
  options.ttl_seconds = 0;
  EXPECT_FALSE(Membership::Create(client.get(), &timer(), self, options).ok());
  options = FastOptions();
  options.cluster = "";
  EXPECT_FALSE(Membership::Create(client.get(), &timer(), self, options).ok());
}

}  // namespace
}  // namespace kvstash::cluster
