// The gtest fixture of the cluster tests: a real etcd per test (started in
// SetUp, killed in TearDown) and a kj event loop to run clients on.
#ifndef KVSTASH_SERVICE_CLUSTER_CLUSTER_TEST_FIXTURE_H_
#define KVSTASH_SERVICE_CLUSTER_CLUSTER_TEST_FIXTURE_H_

#include <gtest/gtest.h>
#include <kj/async-io.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "service/cluster/etcd_client.h"
#include "service/cluster/etcd_testing.h"
#include "service/cluster/membership.h"

// ASSERT that an absl::Status is OK, printing it when not.
#define CLUSTER_ASSERT_OK(expr)                            \
  do {                                                     \
    const absl::Status status_ = (expr);                   \
    ASSERT_TRUE(status_.ok()) << #expr << ": " << status_; \
  } while (false)

namespace kvstash::cluster::testing {

class EtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!EtcdInstalled()) GTEST_SKIP() << "no etcd on PATH (Debian: apt-get install etcd-server)";
    absl::StatusOr<std::unique_ptr<EtcdProcess>> etcd = EtcdProcess::Start();
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
    // After the blocking start: kj's timer reads the clock when the loop
    // polls, and a loop made earlier would start with a stale now().
    io_ = std::make_unique<kj::AsyncIoContext>(kj::setupAsyncIo());
  }

  // Restarts etcd (blocking), then lets the loop see the time that passed.
  absl::Status RestartEtcd() {
    absl::Status s = etcd_->Restart();
    ws().poll();
    return s;
  }

  kj::Timer& timer() { return io_->provider->getTimer(); }
  kj::WaitScope& ws() { return io_->waitScope; }

  // A client of this test's etcd (or of `endpoints`).
  std::unique_ptr<EtcdClient> Client(kj::Duration timeout = 1 * kj::SECONDS,
                                     std::string endpoints = "") {
    absl::StatusOr<std::vector<EtcdEndpoint>> parsed =
        ParseEtcdEndpoints(endpoints.empty() ? etcd_->endpoint() : endpoints);
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    EtcdClientOptions options;
    options.endpoints = *parsed;
    options.request_timeout = timeout;
    return *EtcdClient::Create(io_->provider->getNetwork(), timer(), std::move(options));
  }

  bool WaitUntil(const std::function<bool()>& done, kj::Duration limit = 15 * kj::SECONDS) {
    return testing::WaitUntil(timer(), ws(), done, limit);
  }

  // Seconds on the loop's clock since `start`, for messages.
  double SecondsSince(kj::TimePoint start) {
    return static_cast<double>((timer().now() - start) / kj::MILLISECONDS) / 1000.0;
  }

  std::unique_ptr<EtcdProcess> etcd_;
  // Declared after etcd_: goes first. Behind a pointer because kj's
  // destructors may throw and gtest's may not.
  std::unique_ptr<kj::AsyncIoContext> io_;
};

// One cluster node in this process: its own client and membership.
struct Node {
  Member self;
  std::unique_ptr<EtcdClient> client;
  std::unique_ptr<Membership> membership;  // declared after client: goes first

  Membership* operator->() { return membership.get(); }
  bool Sees(absl::string_view node_id) const {
    return membership->View()->Find(node_id) != nullptr;
  }
  int64_t LeaseOf(absl::string_view node_id) const {
    const Member* m = membership->View()->Find(node_id);
    return m == nullptr ? 0 : m->lease;
  }
};

inline MembershipOptions FastOptions(int64_t ttl_seconds = 2) {
  MembershipOptions options;
  options.cluster = "test";
  options.ttl_seconds = ttl_seconds;
  options.retry_delay = 200 * kj::MILLISECONDS;
  options.takeover_margin = 1 * kj::SECONDS;
  return options;
}

}  // namespace kvstash::cluster::testing

#endif  // KVSTASH_SERVICE_CLUSTER_CLUSTER_TEST_FIXTURE_H_
