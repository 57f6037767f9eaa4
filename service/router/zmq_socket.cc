#include "service/router/zmq_socket.h"

#include <zmq.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace kvstash::router {

absl::Status ZmqError(absl::string_view what) {
  const int err = zmq_errno();
  const std::string msg = absl::StrCat(what, ": ", zmq_strerror(err));
  switch (err) {
    case ETERM:
      return absl::CancelledError(msg);
    case EAGAIN:
    case EADDRINUSE:
    case EADDRNOTAVAIL:
    case ENODEV:
    case EHOSTUNREACH:
      return absl::UnavailableError(msg);
    case EINVAL:
    case EPROTONOSUPPORT:
    case ENOCOMPATPROTO:
      return absl::InvalidArgumentError(msg);
    default:
      return absl::InternalError(msg);
  }
}

// ------------------------------------------------------------------ context --

absl::StatusOr<std::unique_ptr<ZmqContext>> ZmqContext::Create() {
  void* ctx = zmq_ctx_new();
  if (ctx == nullptr) return ZmqError("zmq_ctx_new");
  return std::unique_ptr<ZmqContext>(new ZmqContext(ctx));
}

ZmqContext::~ZmqContext() {
  // Blocks until every socket is closed; ours close with linger 0.
  while (zmq_ctx_term(ctx_) != 0 && zmq_errno() == EINTR) {
  }
}

void ZmqContext::Shutdown() { zmq_ctx_shutdown(ctx_); }

// ------------------------------------------------------------------- socket --

absl::StatusOr<std::unique_ptr<ZmqSocket>> ZmqSocket::Create(ZmqContext* ctx, int type) {
  void* s = zmq_socket(ctx->raw(), type);
  if (s == nullptr) return ZmqError("zmq_socket");
  auto socket = std::unique_ptr<ZmqSocket>(new ZmqSocket(s));
  if (absl::Status st = socket->SetInt(ZMQ_LINGER, 0); !st.ok()) return st;
  return socket;
}

ZmqSocket::~ZmqSocket() { zmq_close(socket_); }

absl::Status ZmqSocket::Bind(const std::string& endpoint) {
  if (zmq_bind(socket_, endpoint.c_str()) != 0) return ZmqError(absl::StrCat("bind ", endpoint));
  return absl::OkStatus();
}

absl::Status ZmqSocket::Connect(const std::string& endpoint) {
  if (zmq_connect(socket_, endpoint.c_str()) != 0) {
    return ZmqError(absl::StrCat("connect ", endpoint));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ZmqSocket::LastEndpoint() const {
  char buf[1024];
  size_t len = sizeof(buf);
  if (zmq_getsockopt(socket_, ZMQ_LAST_ENDPOINT, buf, &len) != 0) {
    return ZmqError("ZMQ_LAST_ENDPOINT");
  }
  // The value is NUL-terminated; len counts the NUL.
  return std::string(buf, len > 0 ? len - 1 : 0);
}

absl::Status ZmqSocket::SetInt(int option, int value) {
  if (zmq_setsockopt(socket_, option, &value, sizeof(value)) != 0) {
    return ZmqError(absl::StrCat("zmq_setsockopt ", option));
  }
  return absl::OkStatus();
}

absl::Status ZmqSocket::SetInt64(int option, int64_t value) {
  if (zmq_setsockopt(socket_, option, &value, sizeof(value)) != 0) {
    return ZmqError(absl::StrCat("zmq_setsockopt ", option));
  }
  return absl::OkStatus();
}

absl::Status ZmqSocket::SetBytes(int option, absl::string_view value) {
  if (zmq_setsockopt(socket_, option, value.data(), value.size()) != 0) {
    return ZmqError(absl::StrCat("zmq_setsockopt ", option));
  }
  return absl::OkStatus();
}

namespace {

template <typename Frames>
absl::Status SendFrames(void* socket, const Frames& frames, int flags) {
  size_t i = 0;
  for (const auto& frame : frames) {
    const bool last = ++i == frames.size();
    const int f = flags | (last ? 0 : ZMQ_SNDMORE);
    while (zmq_send(socket, frame.data(), frame.size(), f) < 0) {
      if (zmq_errno() != EINTR) return ZmqError("zmq_send");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ZmqSocket::Send(std::initializer_list<absl::string_view> frames, int flags) {
  return SendFrames(socket_, frames, flags);
}

absl::Status ZmqSocket::Send(const std::vector<std::string>& frames, int flags) {
  return SendFrames(socket_, frames, flags);
}

absl::StatusOr<std::vector<std::string>> ZmqSocket::Recv(int flags) {
  std::vector<std::string> frames;
  zmq_msg_t msg;
  zmq_msg_init(&msg);
  while (true) {
    // Only the first frame can block: a multipart message arrives whole.
    const int rc = zmq_msg_recv(&msg, socket_, frames.empty() ? flags : 0);
    if (rc < 0) {
      if (zmq_errno() == EINTR) continue;
      absl::Status s = ZmqError("zmq_msg_recv");
      zmq_msg_close(&msg);
      return s;
    }
    frames.emplace_back(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
    if (!zmq_msg_more(&msg)) break;
  }
  zmq_msg_close(&msg);
  return frames;
}

absl::StatusOr<bool> ZmqSocket::WaitReadable(int timeout_ms) {
  zmq_pollitem_t item = {socket_, 0, ZMQ_POLLIN, 0};
  while (true) {
    const int rc = zmq_poll(&item, 1, timeout_ms);
    if (rc >= 0) return rc > 0;
    if (zmq_errno() != EINTR) return ZmqError("zmq_poll");
  }
}

}  // namespace kvstash::router
