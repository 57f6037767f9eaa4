#include "transport/transport.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"

namespace kvstash::transport {

const char* OpName(Op op) {
  switch (op) {
    case Op::kGet:
      return "get";
    case Op::kPut:
      return "put";
    case Op::kSend:
      return "send";
    case Op::kRecv:
      return "recv";
  }
  return "?";
}

const char* MemoryKindName(MemoryKind kind) {
  return kind == MemoryKind::kDevice ? "device" : "host";
}

absl::StatusOr<std::unique_ptr<Registration>> Transport::Allocate(size_t, MemoryKind) {
  return absl::UnimplementedError(
      absl::StrCat(caps().name, " allocates no memory of its own; use Register"));
}

// The portable fallback: polls with a backoff from 1 us to 1 ms.
// Implementations with a completion signal override it.
absl::Status Transport::Wait(TransferId id, absl::Time deadline) {
  absl::Duration nap = absl::Microseconds(1);
  for (;;) {
    const TransferState s = Poll(id);
    if (s.phase == TransferPhase::kDone) return absl::OkStatus();
    if (s.phase == TransferPhase::kFailed) return s.status;
    if (s.phase == TransferPhase::kPrepared) {
      return absl::FailedPreconditionError(absl::StrCat("transfer ", id, " was never posted"));
    }
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("transfer ", id, " still pending at its deadline"));
    }
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(std::min(nap, deadline - now)));
    nap = std::min(nap * 2, absl::Milliseconds(1));
  }
}

absl::Status Transport::Transfer(const TransferSpec& spec, absl::Time deadline) {
  absl::StatusOr<TransferId> id = Prepare(spec);
  if (!id.ok()) return id.status();
  if (absl::Status s = Post(*id); !s.ok()) {
    (void)Release(*id);
    return s;
  }
  absl::Status s = Wait(*id, deadline);
  if (absl::IsDeadlineExceeded(s)) {
    // Stuck peer: cancel everything in flight to it so the buffer is ours again.
    (void)Disconnect(spec.peer);
    (void)Wait(*id, absl::InfiniteFuture());
  }
  (void)Release(*id);
  return s;
}

}  // namespace kvstash::transport
