#include "service/cluster/membership.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/check.h"

namespace kvstash::cluster {

const Member* MembershipView::Find(absl::string_view node_id) const {
  auto it = std::lower_bound(members.begin(), members.end(), node_id,
                             [](const Member& m, absl::string_view id) { return m.node_id < id; });
  return it != members.end() && it->node_id == node_id ? &*it : nullptr;
}

absl::StatusOr<std::unique_ptr<Membership>> Membership::Create(EtcdClient* client, kj::Timer* timer,
                                                               Member self,
                                                               MembershipOptions options) {
  KVSTASH_CHECK(client != nullptr && timer != nullptr);
  if (absl::Status s = ValidateMember(self); !s.ok()) return s;
  if (absl::Status s = ValidateName("cluster", options.cluster); !s.ok()) return s;
  if (options.ttl_seconds < 1) {
    return absl::InvalidArgumentError("membership: ttl_seconds must be at least 1");
  }
  return std::unique_ptr<Membership>(
      new Membership(client, timer, std::move(self), std::move(options)));
}

Membership::Membership(EtcdClient* client, kj::Timer* timer, Member self, MembershipOptions options)
    : client_(client),
      timer_(timer),
      options_(std::move(options)),
      prefix_(MembersPrefix(options_.cluster)),
      prefix_end_(PrefixRangeEnd(prefix_)),
      key_(MemberKey(options_.cluster, self.node_id)),
      self_(std::move(self)),
      view_(std::make_shared<MembershipView>()),
      health_(absl::UnavailableError("membership: not started")) {
  if (self_.started_ns == 0) self_.started_ns = absl::GetCurrentTimeNanos();
  self_.lease = 0;
  self_.mod_revision = 0;
  value_ = EncodeMember(self_);
}

Membership::~Membership() {
  // Cancel the work (which refers to watch_ and the rest) before members go.
  keepalive_task_ = nullptr;
  watch_task_ = nullptr;
}

kj::Promise<absl::Status> Membership::Start() {
  KVSTASH_CHECK(state_ == State::kNew);
  state_ = State::kStarting;
  return RegisterAtStart().then([this](absl::Status s) -> kj::Promise<absl::Status> {
    if (!s.ok()) {
      state_ = State::kNew;
      SetRegistered(false, s);
      const int64_t lease = std::exchange(lease_, 0);
      if (lease == 0) return s;
      return client_->LeaseRevoke(lease).then([s](absl::Status) { return s; });
    }
    return client_->Range(prefix_, prefix_end_)
        .then([this](absl::StatusOr<EtcdRangeResult> range) -> kj::Promise<absl::Status> {
          absl::Status s = range.ok() ? ApplyRange(*range) : range.status();
          if (!s.ok()) {
            // Registered but blind: give the lease back rather than run half-started.
            state_ = State::kNew;
            SetRegistered(false, s);
            const int64_t lease = std::exchange(lease_, 0);
            return client_->LeaseRevoke(lease).then([s](absl::Status) { return s; });
          }
          state_ = State::kRunning;
          keepalive_task_ =
              KeepAliveLoop(timer_->now() + Ttl() / 3).eagerlyEvaluate([this](kj::Exception&& e) {
                OnTaskFailed(kj::mv(e));
              });
          RestartWatch();
          return absl::OkStatus();
        });
  });
}

kj::Promise<absl::Status> Membership::Leave() {
  state_ = State::kLeft;
  keepalive_task_ = nullptr;
  watch_task_ = nullptr;
  watch_.reset();
  SetRegistered(false, absl::CancelledError("membership: left the cluster"));
  const int64_t lease = std::exchange(lease_, 0);
  if (lease == 0) return absl::OkStatus();
  return client_->LeaseRevoke(lease).then([](absl::Status s) {
    return absl::IsNotFound(s) ? absl::OkStatus() : s;  // expired already: gone all the same
  });
}

std::shared_ptr<const MembershipView> Membership::View() const {
  MutexLock lock(&mu_);
  return view_;
}

absl::Status Membership::health() const {
  MutexLock lock(&mu_);
  return health_;
}

void Membership::SetRegistered(bool registered, absl::Status why) {
  const bool was = registered_.exchange(registered, std::memory_order_acq_rel);
  if (was && !registered) ++stats_.lease_losses;
  MutexLock lock(&mu_);
  health_ = registered ? absl::OkStatus() : std::move(why);
}

void Membership::OnTaskFailed(kj::Exception&& e) {
  // The loops turn every etcd failure into a Status; an exception is a bug
  // somewhere below. Report it rather than crash the daemon over membership.
  SetRegistered(false, absl::InternalError(absl::StrCat("membership: background task failed: ",
                                                        e.getDescription().cStr())));
}

// ------------------------------------------------------------------- view --

void Membership::RestartWatch() {
  if (state_ != State::kRunning) return;
  watch_task_ = nullptr;  // cancels a pending Next() before its watch goes
  watch_.reset();
  watch_task_ = WatchLoop().eagerlyEvaluate([this](kj::Exception&& e) { OnTaskFailed(kj::mv(e)); });
}

kj::Promise<void> Membership::WatchLoop() {
  if (need_range_) {
    return client_->Range(prefix_, prefix_end_)
        .then([this](absl::StatusOr<EtcdRangeResult> range) -> kj::Promise<void> {
          absl::Status s = range.ok() ? ApplyRange(*range) : range.status();
          if (!s.ok()) return OnWatchError(s);
          return WatchLoop();
        });
  }
  return client_->Watch(prefix_, prefix_end_, watch_from_)
      .then([this](absl::StatusOr<std::unique_ptr<EtcdWatch>> watch) -> kj::Promise<void> {
        if (!watch.ok()) return OnWatchError(watch.status());
        watch_ = *std::move(watch);
        if (watch_->created_revision() + 1 < watch_from_) {
          // etcd's store is behind what this node saw: it was restored or
          // wiped, so revisions were reused. Only a fresh read is right.
          return OnWatchError(absl::OutOfRangeError(
              absl::StrCat("etcd is at revision ", watch_->created_revision(), " but revision ",
                           watch_from_ - 1, " was seen before")));
        }
        return ReadWatch();
      });
}

kj::Promise<void> Membership::ReadWatch() {
  return watch_->Next().then([this](absl::StatusOr<EtcdWatchBatch> batch) -> kj::Promise<void> {
    if (!batch.ok()) return OnWatchError(batch.status());
    ApplyEvents(*batch);
    return ReadWatch();
  });
}

kj::Promise<void> Membership::OnWatchError(const absl::Status& status) {
  ++stats_.watch_errors;
  watch_.reset();
  if (absl::IsOutOfRange(status)) {  // compacted past watch_from_ (or etcd went back)
    need_range_ = true;
    return WatchLoop();
  }
  return timer_->afterDelay(options_.retry_delay).then([this] { return WatchLoop(); });
}

absl::Status Membership::ApplyRange(const EtcdRangeResult& range) {
  ++stats_.ranges;
  std::map<std::string, Member> members;
  for (const EtcdKeyValue& kv : range.kvs) ApplyPut(kv, members);
  need_range_ = false;
  watch_from_ = range.revision + 1;
  bool same = members.size() == members_.size();
  for (auto a = members.begin(), b = members_.begin(); same && a != members.end(); ++a, ++b) {
    same = a->first == b->first && a->second.mod_revision == b->second.mod_revision;
  }
  if (same) return absl::OkStatus();
  members_ = std::move(members);
  Publish();
  return absl::OkStatus();
}

void Membership::ApplyEvents(const EtcdWatchBatch& batch) {
  bool own_key_deleted = false;
  for (const EtcdWatchEvent& event : batch.events) {
    watch_from_ = std::max(watch_from_, event.kv.mod_revision + 1);
    if (event.type == EtcdWatchEvent::Type::kDelete) {
      members_.erase(event.kv.key);
      // A deletion older than our key is the previous lease's expiry,
      // arriving after the new registration: not news.
      own_key_deleted |= event.kv.key == key_ && event.kv.mod_revision > key_revision_;
    } else {
      ApplyPut(event.kv, members_);
    }
  }
  if (own_key_deleted && members_.count(key_) == 0 && registered()) {
    // Deleted under a live lease (by hand, or another process's revoke):
    // the next keep-alive puts it back.
    SetRegistered(
        false, absl::UnavailableError(absl::StrCat("membership: ", key_, " was deleted in etcd")));
  }
  Publish();
}

void Membership::ApplyPut(const EtcdKeyValue& kv, std::map<std::string, Member>& members) {
  if (!absl::StartsWith(kv.key, prefix_)) return;  // not ours; the range says otherwise
  absl::StatusOr<Member> member = DecodeMember(kv.value);
  if (!member.ok() || member->node_id != absl::string_view(kv.key).substr(prefix_.size())) {
    // One bad entry (a foreign writer, a future format) costs that entry only.
    ++stats_.malformed_entries;
    members.erase(kv.key);
    return;
  }
  member->lease = kv.lease;
  member->mod_revision = kv.mod_revision;
  members[kv.key] = *std::move(member);
}

void Membership::Publish() {
  auto view = std::make_shared<MembershipView>();
  view->version = ++version_;
  view->members.reserve(members_.size());
  for (const auto& [key, member] : members_) view->members.push_back(member);
  // Keys share the prefix, so key order is node-id order.
  {
    MutexLock lock(&mu_);
    view_ = view;
  }
  if (callback_) callback_(*view);
}

}  // namespace kvstash::cluster
