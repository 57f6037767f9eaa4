// Client::Impl, shared by the client's source files. Internal.
#ifndef KVSTASH_CLIENT_CLIENT_IMPL_H_
#define KVSTASH_CLIENT_CLIENT_IMPL_H_

#include <kj/async-io.h>
#include <kj/thread.h>

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/mutex.h"
#include "kvstash/client.h"
#include "proto/node.capnp.h"
#include "proto/status_wire.h"

namespace kvstash {

// A put window mapped read-write into this process (Client::ReservePut).
struct MappedWindow {
  uint64_t id = 0;  // key of its capability in Impl::windows
  uint8_t* base = nullptr;
  uint64_t bytes = 0;
};

// The I/O thread: owns the kj event loop, the connection and the Node
// capability. Other threads reach it only through `executor`.
struct Client::Impl {
  std::string address;
  Notification ready;
  absl::Status connect_status;
  const kj::Executor* executor = nullptr;
  kj::Own<kj::PromiseFulfiller<void>> stop;  // touched on the I/O thread only
  std::optional<proto::Node::Client> node;   // likewise
  std::atomic<bool> alive{false};            // the I/O loop is running
  bool unix_socket = false;                  // fds travel: zero-copy is possible
  // The shared host arena, mapped read-only on first use (I/O thread only).
  const uint8_t* arena_base = nullptr;
  uint64_t arena_bytes = 0;
  // Leases of live BlockViews, by id (I/O thread only).
  std::map<uint64_t, proto::Lease::Client> leases;
  uint64_t next_lease = 0;
  // Put windows (zero-copy puts), by id (I/O thread only), and the mapped
  // ones not in use by any PutBuffers (any thread, under pool_mu).
  std::map<uint64_t, proto::PutWindow::Client> windows;
  uint64_t next_window = 0;
  Mutex pool_mu;
  std::vector<MappedWindow> free_windows ABSL_GUARDED_BY(pool_mu);
  kj::Own<kj::Thread> thread;

  void Run();
  kj::Promise<void> Serve(kj::AsyncIoContext& io);
  // Maps the node's arena once (I/O thread).
  kj::Promise<void> EnsureArena();
  void Unmap();

  // A put window of at least `bytes`, from the pool or new (any thread).
  absl::StatusOr<MappedWindow> AcquireWindow(uint64_t bytes);
  // Back to the pool, or closed when the pool is full (any thread).
  void ReleaseWindow(MappedWindow w);
  // Drops the node's window and unmaps it (any thread but the I/O thread).
  void CloseWindow(const MappedWindow& w);

  // Runs `call(node)` on the I/O thread and waits for its result.
  template <typename T, typename Call>
  absl::StatusOr<T> Invoke(Call&& call);
};

template <typename T, typename Call>
absl::StatusOr<T> Client::Impl::Invoke(Call&& call) {
  if (!connect_status.ok()) return connect_status;
  if (!alive) return absl::UnavailableError("the connection to kvstashd is closed");
  try {
    return executor->executeSync([&]() -> kj::Promise<absl::StatusOr<T>> {
      if (!node) {
        return absl::StatusOr<T>(absl::UnavailableError("kvstashd connection is closed"));
      }
      return call(*node);
    });
  } catch (const kj::Exception& e) {
    if (!alive) return absl::UnavailableError("the connection to kvstashd is closed");
    return proto::StatusFromException(e);
  }
}

}  // namespace kvstash

#endif  // KVSTASH_CLIENT_CLIENT_IMPL_H_
