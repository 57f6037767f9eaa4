// Transport over NCCL: GPU-to-GPU send/recv of device buffers between the
// ranks of one NCCL communicator (DESIGN.md "Cluster": NCCL moves blocks when
// both ends have GPUs in one communicator). Built only when CUDA and NCCL are
// available; runs only on a GPU.
//
// Bootstrap: one rank calls NcclNewUniqueId() and the cluster's control
// plane publishes that blob; every rank creates its transport with it, its
// rank and the rank count (communicator creation is collective: Create()
// returns once all ranks have joined, or fails at init_timeout).
// LocalAddress() names (communicator, rank); Connect() checks that a peer's
// address belongs to the same communicator and returns its rank as PeerId.
//
// Transfers are two-sided: a kSend on rank A pairs with a kRecv for A on
// rank B, in posting order (NCCL's rule). A transfer to oneself needs its
// send and its recv in one Post() call, which runs as one NCCL group.
// Local buffers are device memory on options.device; Register() is
// optional (NCCL needs no registration) and hands out no remote key.
//
// Threading model: NCCL calls are serialised by the transport's mutex and
// enqueued on one CUDA stream; completion is a CUDA event per Post() batch,
// polled without blocking. Failure model: NCCL's failure domain is the whole
// communicator, not a peer. An asynchronous NCCL error (a rank died, a
// network failure) fails every unfinished transfer; Disconnect() aborts the
// communicator (ncclCommAbort) so that transfers stuck on a silent rank end
// with Cancelled. Either way the transport is then unusable and must be
// recreated, with a new unique id, by the control plane.
#ifndef KVSTASH_TRANSPORT_NCCL_TRANSPORT_H_
#define KVSTASH_TRANSPORT_NCCL_TRANSPORT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "transport/transport.h"

namespace kvstash::transport {

struct NcclTransportOptions {
  int device = 0;  // CUDA device of this rank
  int rank = 0;
  int nranks = 1;
  std::string unique_id;  // from NcclNewUniqueId() on one rank
  absl::Duration init_timeout = absl::Seconds(60);
};

// A fresh ncclUniqueId as an opaque blob (NCCL_UNIQUE_ID_BYTES bytes).
absl::StatusOr<std::string> NcclNewUniqueId();

// Unavailable without a usable GPU or when the communicator cannot form.
absl::StatusOr<std::unique_ptr<Transport>> CreateNcclTransport(const NcclTransportOptions& options);

}  // namespace kvstash::transport

#endif  // KVSTASH_TRANSPORT_NCCL_TRANSPORT_H_
