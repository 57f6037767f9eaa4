// Cluster membership through etcd (DESIGN.md "Cluster"; README.md here has
// the key layout and the lifecycle).
//
// A Membership registers this node at /kvstash/<cluster>/members/<node-id>
// under a lease, keeps the lease alive every TTL/3, and watches the members
// prefix to keep a snapshot of every registered node (this one included):
//
//   auto m = Membership::Create(&client, &timer, self, options);
//   absl::Status s = (*m)->Start().wait(wait_scope);  // or chained on the loop
//   std::shared_ptr<const MembershipView> view = (*m)->View();  // any thread
//   ...
//   (*m)->Leave().wait(wait_scope);  // revokes the lease: others see it at once
//
// Registration is a transaction (put only if the key's create_revision is 0),
// so two processes cannot both hold one node id. When another lease holds the
// key, Start() waits up to that lease's granted TTL plus takeover_margin for
// it to go away (it may be this node's own predecessor, killed a moment ago:
// its lease runs out within one TTL) and fails with AlreadyExists
// "node-id X is already in use ..." otherwise: a live holder keeps its lease.
//
// Failures: a keep-alive answered with TTL 0 means the lease is gone: the
// node marks itself not registered and registers again under a new lease. If
// etcd cannot be reached for longer than the TTL the node marks itself not
// registered too (etcd will have expired it, unless etcd itself was down);
// it keeps trying, and once etcd answers it either keeps the surviving lease
// or registers anew. The watch reconnects from the last revision it saw,
// ranges again when etcd compacted past it, and restarts whenever a
// keep-alive fails (its connection most likely broke with it). While etcd is
// unreachable the snapshot is the last one seen; health() says why the node
// is not registered.
//
// Ownership: the caller owns the Membership, the EtcdClient and the
// kj::Timer; the client and the timer must outlive the Membership.
// Destroying a Membership stops its work without revoking the lease, like a
// crash: the others see it leave when the lease expires.
//
// The Membership must outlive the promises it returns.
//
// Thread safety: Start, Leave, SetChangeCallback, stats, lease_id and the
// destructor run on the thread of the client's event loop, which also runs
// the callback. View(), registered() and health() may be called from any
// thread.
#ifndef KVSTASH_SERVICE_CLUSTER_MEMBERSHIP_H_
#define KVSTASH_SERVICE_CLUSTER_MEMBERSHIP_H_

#include <kj/async.h>
#include <kj/timer.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/mutex.h"
#include "service/cluster/etcd_client.h"
#include "service/cluster/member.h"

namespace kvstash::cluster {

struct MembershipOptions {
  std::string cluster = "default";
  // Requested lease TTL; etcd may grant more (3.4's minimum is 2 s with its
  // default election timeout). Keep-alives go every granted TTL / 3.
  int64_t ttl_seconds = 5;
  // Pause before reconnecting a failed watch or polling a held node id.
  kj::Duration retry_delay = 500 * kj::MILLISECONDS;
  // Start() waits for another lease holding the node id for that lease's
  // granted TTL plus this (etcd expires leases in 500 ms steps, then commits
  // the deletion through raft).
  kj::Duration takeover_margin = 1 * kj::SECONDS;
};

struct MembershipView {
  uint64_t version = 0;         // +1 on every change
  std::vector<Member> members;  // sorted by node_id

  const Member* Find(absl::string_view node_id) const;
};

struct MembershipStats {
  uint64_t registrations = 0;      // successful creates of the key
  uint64_t lease_losses = 0;       // times the node went from registered to not
  uint64_t keepalive_errors = 0;   // keep-alives etcd did not answer
  uint64_t watch_errors = 0;       // watch streams that failed or ended
  uint64_t ranges = 0;             // full reads of the prefix (start, compaction)
  uint64_t malformed_entries = 0;  // member values that did not decode
};

class Membership {
 public:
  using ChangeCallback = std::function<void(const MembershipView&)>;

  // InvalidArgument for a bad node id, cluster name or TTL.
  // REQUIRES: client and timer are not null.
  static absl::StatusOr<std::unique_ptr<Membership>> Create(EtcdClient* client, kj::Timer* timer,
                                                            Member self, MembershipOptions options);
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // Registers, reads the current members and starts the keep-alive and the
  // watch. Fails with AlreadyExists when another live process holds the node
  // id, or with the etcd error (each call bounded by the client's timeout).
  // REQUIRES: called once.
  kj::Promise<absl::Status> Start();
  // Stops the keep-alive and the watch and revokes the lease, which deletes
  // the key. OK when the lease was already gone. The view keeps its last
  // state. REQUIRES: not called from the change callback.
  kj::Promise<absl::Status> Leave();

  // The current snapshot; never null (version 0 and empty before Start).
  std::shared_ptr<const MembershipView> View() const;
  bool registered() const { return registered_.load(std::memory_order_acquire); }
  // OK while registered; else why not ("not started", the etcd error, ...).
  absl::Status health() const;

  // Called on the event loop after every change of the view. It must not
  // destroy the Membership or call Leave().
  void SetChangeCallback(ChangeCallback callback) { callback_ = std::move(callback); }

  const std::string& key() const { return key_; }
  int64_t lease_id() const { return lease_; }
  MembershipStats stats() const { return stats_; }

 private:
  enum class State { kNew, kStarting, kRunning, kLeft };

  Membership(EtcdClient* client, kj::Timer* timer, Member self, MembershipOptions options);

  // membership_register.cc: the lease and the key.
  kj::Promise<absl::Status> RegisterAtStart();
  kj::Promise<absl::Status> WaitForHolder(int64_t holder_lease, kj::TimePoint deadline,
                                          absl::Status refusal);
  kj::Promise<absl::Status> GrantAndCreate();
  kj::Promise<absl::Status> CreateKey();
  kj::Promise<void> KeepAliveLoop(kj::TimePoint next);
  kj::Promise<void> KeepAliveOnce();
  kj::Promise<void> Reregister();
  kj::Duration Ttl() const;

  // membership.cc: the view.
  kj::Promise<void> WatchLoop();
  kj::Promise<void> ReadWatch();
  kj::Promise<void> OnWatchError(const absl::Status& status);
  void RestartWatch();
  absl::Status ApplyRange(const EtcdRangeResult& range);
  void ApplyEvents(const EtcdWatchBatch& batch);
  // Decodes one entry into `members` (or drops it when malformed).
  void ApplyPut(const EtcdKeyValue& kv, std::map<std::string, Member>& members);
  void Publish();
  void SetRegistered(bool registered, absl::Status why);
  void OnTaskFailed(kj::Exception&& e);

  // Constant after construction.
  EtcdClient* const client_;
  kj::Timer* const timer_;
  const MembershipOptions options_;
  const std::string prefix_;
  const std::string prefix_end_;
  const std::string key_;
  Member self_;  // started_ns is set by the constructor when 0
  std::string value_;

  // Event-loop thread only.
  State state_ = State::kNew;
  int64_t lease_ = 0;              // 0: none
  int64_t lease_ttl_seconds_ = 0;  // as granted
  int64_t holder_lease_ = 0;       // after AlreadyExists: the lease holding key_
  int64_t key_revision_ = 0;       // when key_ was created under lease_
  kj::TimePoint last_keepalive_ok_ = kj::origin<kj::TimePoint>();
  std::map<std::string, Member> members_;  // by etcd key
  int64_t watch_from_ = 0;                 // next revision the watch must deliver
  bool need_range_ = true;
  uint64_t version_ = 0;
  ChangeCallback callback_;
  MembershipStats stats_;
  std::unique_ptr<EtcdWatch> watch_;

  // Any thread.
  std::atomic<bool> registered_{false};
  mutable Mutex mu_;
  std::shared_ptr<const MembershipView> view_ ABSL_GUARDED_BY(mu_);
  absl::Status health_ ABSL_GUARDED_BY(mu_);

  // Background work; declared last so that it is cancelled first.
  kj::Maybe<kj::Promise<void>> keepalive_task_;
  kj::Maybe<kj::Promise<void>> watch_task_;
};

}  // namespace kvstash::cluster

#endif  // KVSTASH_SERVICE_CLUSTER_MEMBERSHIP_H_
