// Membership's half that owns the lease and the key: registration (with the
// wait for a predecessor's lease), the keep-alive loop and re-registration.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "service/cluster/membership.h"

namespace kvstash::cluster {

kj::Duration Membership::Ttl() const {
  return (lease_ttl_seconds_ > 0 ? lease_ttl_seconds_ : options_.ttl_seconds) * kj::SECONDS;
}

kj::Promise<absl::Status> Membership::GrantAndCreate() {
  return client_->LeaseGrant(options_.ttl_seconds)
      .then([this](absl::StatusOr<EtcdLease> lease) -> kj::Promise<absl::Status> {
        if (!lease.ok()) return lease.status();
        lease_ = lease->id;
        lease_ttl_seconds_ = lease->ttl_seconds > 0 ? lease->ttl_seconds : options_.ttl_seconds;
        last_keepalive_ok_ = timer_->now();
        return CreateKey();
      });
}

// A transaction rather than "range, then put": between a check and a put
// another process could register the same id, and both would think they
// hold it. With create_revision == 0 as the condition exactly one wins.
kj::Promise<absl::Status> Membership::CreateKey() {
  return client_->CreateIfAbsent(key_, value_, lease_)
      .then([this](absl::StatusOr<EtcdCreateResult> r) -> absl::Status {
        if (!r.ok()) return r.status();
        // Our own lease: an earlier attempt got through before a failover.
        if (r->created || (r->existing.has_value() && r->existing->lease == lease_)) {
          if (r->created) ++stats_.registrations;
          key_revision_ = r->created ? r->revision : r->existing->create_revision;
          SetRegistered(true, absl::OkStatus());
          return absl::OkStatus();
        }
        holder_lease_ = r->existing.has_value() ? r->existing->lease : 0;
        std::string holder = absl::StrCat("lease ", holder_lease_);
        if (r->existing.has_value()) {
          absl::StatusOr<Member> m = DecodeMember(r->existing->value);
          if (m.ok() && !m->rpc.empty()) holder = absl::StrCat("rpc ", m->rpc, ", ", holder);
        }
        return absl::AlreadyExistsError(
            absl::StrCat("node-id ", self_.node_id, " is already in use (", holder, ")"));
      });
}

kj::Promise<absl::Status> Membership::RegisterAtStart() {
  return GrantAndCreate().then([this](absl::Status s) -> kj::Promise<absl::Status> {
    if (!absl::IsAlreadyExists(s)) return s;
    // Another lease holds the id: a live process, or this node's predecessor
    // that died less than a TTL ago. Only a live holder keeps its lease
    // alive, so wait out the lease's remaining TTL; our own lease goes back
    // meanwhile (it would expire during the wait anyway).
    const int64_t holder = holder_lease_;
    const int64_t ours = std::exchange(lease_, 0);
    if (holder == 0) return s;  // a key without a lease never goes away by itself
    return client_->LeaseRevoke(ours)
        .then([this, holder](absl::Status) { return client_->LeaseTimeToLive(holder); })
        .then([this, holder, s](absl::StatusOr<EtcdLeaseTimeToLive> ttl) {
          // The remaining TTL is rounded down and etcd checks expiry only
          // every 500 ms, so wait the whole granted TTL (a dead holder
          // refreshed it last before now) plus the margin.
          const int64_t wait_seconds =
              ttl.ok() ? std::max(ttl->granted_ttl_seconds, ttl->ttl_seconds + 1)
                       : std::max<int64_t>(options_.ttl_seconds, lease_ttl_seconds_);
          const kj::TimePoint deadline =
              timer_->now() + wait_seconds * kj::SECONDS + options_.takeover_margin;
          return WaitForHolder(holder, deadline, s);
        });
  });
}

kj::Promise<absl::Status> Membership::WaitForHolder(int64_t holder_lease, kj::TimePoint deadline,
                                                    absl::Status refusal) {
  return client_->Range(key_).then([this, holder_lease, deadline,
                                    refusal](absl::StatusOr<EtcdRangeResult> r)
                                       -> kj::Promise<absl::Status> {
    if (!r.ok()) return r.status();
    // Gone: try again (AlreadyExists once more if another process got in first).
    if (r->kvs.empty()) return GrantAndCreate();
    if (timer_->now() >= deadline) return refusal;
    return timer_->afterDelay(options_.retry_delay).then([this, holder_lease, deadline, refusal] {
      return WaitForHolder(holder_lease, deadline, refusal);
    });
  });
}

kj::Promise<void> Membership::KeepAliveLoop(kj::TimePoint next) {
  return timer_->atTime(next).then([this] {
    // Paced from the start of each keep-alive, so a slow answer does not
    // stretch the gap between refreshes.
    const kj::TimePoint following = timer_->now() + Ttl() / 3;
    return KeepAliveOnce().then([this, following] { return KeepAliveLoop(following); });
  });
}

kj::Promise<void> Membership::KeepAliveOnce() {
  if (lease_ == 0) return Reregister();
  const int64_t lease = lease_;
  return client_->LeaseKeepAlive(lease).then([this, lease](
                                                 absl::StatusOr<int64_t> ttl) -> kj::Promise<void> {
    if (ttl.ok() && *ttl > 0) {
      last_keepalive_ok_ = timer_->now();
      if (registered()) return kj::READY_NOW;
      // The lease outlived an outage (etcd renews every lease when it
      // restarts) or the key was deleted: make sure the key is there.
      return CreateKey().then([this](absl::Status s) {
        if (!s.ok()) SetRegistered(false, s);
      });
    }
    if (ttl.ok()) {  // TTL 0: etcd expired the lease, and the key with it
      SetRegistered(false, absl::UnavailableError(
                               absl::StrCat("membership: lease ", lease, " expired in etcd")));
      lease_ = 0;
      return Reregister();
    }
    ++stats_.keepalive_errors;
    RestartWatch();  // its connection most likely went the same way
    if (timer_->now() - last_keepalive_ok_ > Ttl()) {
      SetRegistered(false, absl::Status(ttl.status().code(),
                                        absl::StrCat("membership: etcd unreachable for longer than "
                                                     "the lease TTL: ",
                                                     ttl.status().message())));
    }
    return kj::READY_NOW;
  });
}

kj::Promise<void> Membership::Reregister() {
  return GrantAndCreate().then([this](absl::Status s) -> kj::Promise<void> {
    if (s.ok()) return kj::READY_NOW;
    SetRegistered(false, s);
    if (absl::IsAlreadyExists(s) && lease_ != 0) {
      // Another process took the id while this one was out; try again with a
      // fresh lease next time rather than hold an idle one.
      const int64_t lease = std::exchange(lease_, 0);
      return client_->LeaseRevoke(lease).then([](absl::Status) {});
    }
    return kj::READY_NOW;
  });
}

}  // namespace kvstash::cluster
