// Minimal RAII over libzmq's C API (Debian ships no cppzmq): a context and a
// socket, with errors as Status. Used by the engine-event subscriber and by
// its tests (which play the engine's PUB and replay ROUTER).
//
// Ownership: ZmqContext owns the zmq context and terminates it on
// destruction; every ZmqSocket made from it must be destroyed first (declare
// the context before the sockets). ZmqSocket owns one socket and closes it
// with linger 0. Neither is copyable or movable; hold them by unique_ptr.
//
// Thread safety: as libzmq's. A socket is used by one thread at a time (it may
// move between threads across a full barrier such as a thread start or join);
// ZmqContext::Shutdown() may be called from any thread and makes every
// blocking call on its sockets fail with Cancelled.
#ifndef KVSTASH_SERVICE_ROUTER_ZMQ_SOCKET_H_
#define KVSTASH_SERVICE_ROUTER_ZMQ_SOCKET_H_

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvstash::router {

class ZmqContext {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ZmqContext>> Create();
  ~ZmqContext();
  ZmqContext(const ZmqContext&) = delete;
  ZmqContext& operator=(const ZmqContext&) = delete;

  // Wakes every blocking call on this context's sockets (they fail with
  // Cancelled) and refuses new ones. Idempotent, thread-safe.
  void Shutdown();

  void* raw() const { return ctx_; }

 private:
  explicit ZmqContext(void* ctx) : ctx_(ctx) {}
  void* const ctx_;
};

class ZmqSocket {
 public:
  // `type` is ZMQ_SUB, ZMQ_PUB, ZMQ_DEALER, ... Linger is set to 0.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ZmqSocket>> Create(ZmqContext* ctx, int type);
  ~ZmqSocket();
  ZmqSocket(const ZmqSocket&) = delete;
  ZmqSocket& operator=(const ZmqSocket&) = delete;

  [[nodiscard]] absl::Status Bind(const std::string& endpoint);
  [[nodiscard]] absl::Status Connect(const std::string& endpoint);
  // ZMQ_LAST_ENDPOINT: the resolved address after a wildcard bind.
  [[nodiscard]] absl::StatusOr<std::string> LastEndpoint() const;

  [[nodiscard]] absl::Status SetInt(int option, int value);
  [[nodiscard]] absl::Status SetInt64(int option, int64_t value);
  [[nodiscard]] absl::Status SetBytes(int option, absl::string_view value);

  // Sends one multipart message. flags: 0 or ZMQ_DONTWAIT.
  [[nodiscard]] absl::Status Send(std::initializer_list<absl::string_view> frames, int flags = 0);
  [[nodiscard]] absl::Status Send(const std::vector<std::string>& frames, int flags = 0);

  // Receives one whole multipart message. flags: 0 or ZMQ_DONTWAIT.
  // Errors: Unavailable when DONTWAIT finds nothing, Cancelled after
  // ZmqContext::Shutdown(), Internal otherwise.
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> Recv(int flags = 0);

  // Waits up to timeout_ms (-1: forever) for a message. false on timeout.
  // Cancelled after ZmqContext::Shutdown().
  [[nodiscard]] absl::StatusOr<bool> WaitReadable(int timeout_ms);

  void* raw() const { return socket_; }

 private:
  explicit ZmqSocket(void* socket) : socket_(socket) {}
  void* const socket_;
};

// The Status for a failed zmq call, from zmq_errno(): ETERM -> Cancelled,
// EAGAIN -> Unavailable, address and protocol errors -> InvalidArgument or
// Unavailable, the rest -> Internal. `what` names the call.
absl::Status ZmqError(absl::string_view what);

}  // namespace kvstash::router

#endif  // KVSTASH_SERVICE_ROUTER_ZMQ_SOCKET_H_
