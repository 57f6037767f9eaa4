// Membership across processes: member B is a kvstash_cluster_test_member
// process that the test kills with SIGKILL, stops with SIGTERM and restarts;
// member A runs in this process and watches.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstring>
#include <iostream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "service/cluster/cluster_test_fixture.h"
#include "service/cluster/membership.h"

namespace kvstash::cluster {
namespace {

using testing::ChildProcess;
using testing::FastOptions;
using ::testing::HasSubstr;
using testing::Node;

class MembershipProcessTest : public testing::EtcdTest {
 protected:
  void SetUp() override {
    EtcdTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    a_.self.node_id = "a";
    a_.client = Client(500 * kj::MILLISECONDS);
    a_.membership = *Membership::Create(a_.client.get(), &timer(), a_.self, FastOptions());
    CLUSTER_ASSERT_OK(a_->Start().wait(ws()));
  }
  void TearDown() override { a_ = Node(); }

  std::unique_ptr<ChildProcess> SpawnMember(const std::string& id, int ttl = 2) {
    absl::StatusOr<std::unique_ptr<ChildProcess>> child =
        ChildProcess::Spawn(KVSTASH_TEST_MEMBER_BINARY,
                            {"--etcd=" + etcd_->endpoint(), "--cluster=test", "--node-id=" + id,
                             "--rpc=127.0.0.1:9" + std::to_string(id.size()),
                             absl::StrCat("--ttl=", ttl), "--timeout-ms=500"});
    EXPECT_TRUE(child.ok()) << child.status();
    return child.ok() ? *std::move(child) : nullptr;
  }
  // The child's first line: "registered <lease>" or "error: ...".
  std::string FirstLine(ChildProcess& child) {
    WaitUntil([&] { return absl::StrContains(child.Output(), "\n"); }, 20 * kj::SECONDS);
    const std::string& out = child.Output();
    return out.substr(0, out.find('\n'));
  }

  Node a_;
};

TEST_F(MembershipProcessTest, KilledMemberLeavesWithinTheTtlAndRejoins) {
  std::unique_ptr<ChildProcess> b = SpawnMember("b");
  ASSERT_NE(b, nullptr);
  ASSERT_THAT(FirstLine(*b), HasSubstr("registered"));
  ASSERT_TRUE(WaitUntil([&] { return a_.Sees("b"); }));
  const int64_t first_lease = a_.LeaseOf("b");

  b->Signal(SIGKILL);
  b->Wait();
  const kj::TimePoint killed = timer().now();
  // Within the lease TTL (2 s) the entry goes; the bound is only against a hang.
  ASSERT_TRUE(WaitUntil([&] { return !a_.Sees("b"); }, 15 * kj::SECONDS));
  std::cout << "[ info ] b left a's view " << SecondsSince(killed)
            << " s after SIGKILL (TTL 2 s)\n";

  std::unique_ptr<ChildProcess> again = SpawnMember("b");
  ASSERT_NE(again, nullptr);
  ASSERT_THAT(FirstLine(*again), HasSubstr("registered"));
  ASSERT_TRUE(WaitUntil([&] { return a_.Sees("b"); }));
  EXPECT_NE(a_.LeaseOf("b"), first_lease);
}

TEST_F(MembershipProcessTest, RestartRightAfterAKillTakesOverTheStaleEntry) {
  std::unique_ptr<ChildProcess> b = SpawnMember("b");
  ASSERT_NE(b, nullptr);
  ASSERT_THAT(FirstLine(*b), HasSubstr("registered"));
  ASSERT_TRUE(WaitUntil([&] { return a_.Sees("b"); }));
  const int64_t first_lease = a_.LeaseOf("b");
  b->Signal(SIGKILL);
  b->Wait();

  // The dead process's lease still holds the id; the new one waits it out.
  std::unique_ptr<ChildProcess> again = SpawnMember("b");
  ASSERT_NE(again, nullptr);
  ASSERT_THAT(FirstLine(*again), HasSubstr("registered"));
  ASSERT_TRUE(WaitUntil([&] { return a_.Sees("b") && a_.LeaseOf("b") != first_lease; }));
}

TEST_F(MembershipProcessTest, TerminatedMemberLeavesAtOnce) {
  std::unique_ptr<ChildProcess> b = SpawnMember("b", /*ttl=*/30);
  ASSERT_NE(b, nullptr);
  ASSERT_THAT(FirstLine(*b), HasSubstr("registered"));
  ASSERT_TRUE(WaitUntil([&] { return a_.Sees("b"); }));
  b->Signal(SIGTERM);
  const int status = b->Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << b->Output();
  EXPECT_THAT(b->Output(), HasSubstr("left"));
  // TTL 30 s: gone within seconds means the revoke did it.
  EXPECT_TRUE(WaitUntil([&] { return !a_.Sees("b"); }, 5 * kj::SECONDS));
}

TEST_F(MembershipProcessTest, SecondProcessWithTheSameIdIsRefused) {
  std::unique_ptr<ChildProcess> b = SpawnMember("b");
  ASSERT_NE(b, nullptr);
  ASSERT_THAT(FirstLine(*b), HasSubstr("registered"));
  std::unique_ptr<ChildProcess> twin = SpawnMember("b");
  ASSERT_NE(twin, nullptr);
  EXPECT_THAT(FirstLine(*twin), HasSubstr("node-id b is already in use"));
  const int status = twin->Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
  // The first one is untouched.
  ASSERT_TRUE(WaitUntil([&] { return a_.Sees("b"); }));
  EXPECT_EQ(a_.LeaseOf("b"), std::stoll(FirstLine(*b).substr(strlen("registered "))));
}

}  // namespace
}  // namespace kvstash::cluster
