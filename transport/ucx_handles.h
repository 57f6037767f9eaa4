// RAII owners of the UCX handles the UCX transport holds (STYLE.md 9), and
// the mapping of UCX status codes onto absl::Status.
#ifndef KVSTASH_TRANSPORT_UCX_HANDLES_H_
#define KVSTASH_TRANSPORT_UCX_HANDLES_H_

#include <ucp/api/ucp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace kvstash::transport::ucx_internal {

struct ConfigDeleter {
  void operator()(ucp_config_t* c) const { ucp_config_release(c); }
};
using ConfigPtr = std::unique_ptr<ucp_config_t, ConfigDeleter>;

struct WorkerDeleter {
  void operator()(ucp_worker_h w) const { ucp_worker_destroy(w); }
};
using WorkerPtr = std::unique_ptr<ucp_worker, WorkerDeleter>;

struct RkeyDeleter {
  void operator()(ucp_rkey_h k) const { ucp_rkey_destroy(k); }
};
using RkeyPtr = std::unique_ptr<ucp_rkey, RkeyDeleter>;

// The UCP context, shared by a transport and every Registration made through
// it (a registration may outlive its transport).
class Context {
 public:
  explicit Context(ucp_context_h h) : h_(h) {}
  ~Context() { ucp_cleanup(h_); }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ucp_context_h get() const { return h_; }

 private:
  const ucp_context_h h_;
};

// A ucp_mem_map'd region; unmapped on destruction.
class MemMapping {
 public:
  MemMapping(std::shared_ptr<Context> context, ucp_mem_h memh)
      : context_(std::move(context)), memh_(memh) {}
  ~MemMapping() { ucp_mem_unmap(context_->get(), memh_); }
  MemMapping(const MemMapping&) = delete;
  MemMapping& operator=(const MemMapping&) = delete;
  ucp_mem_h get() const { return memh_; }

 private:
  const std::shared_ptr<Context> context_;
  const ucp_mem_h memh_;
};

// "what: <UCX's words>" with a code that says whose fault it is.
inline absl::Status UcsError(ucs_status_t s, absl::string_view what) {
  const std::string msg = absl::StrCat(what, ": ", ucs_status_string(s));
  switch (s) {
    case UCS_ERR_CANCELED:
      return absl::CancelledError(msg);
    case UCS_ERR_INVALID_PARAM:
    case UCS_ERR_INVALID_ADDR:
      return absl::InvalidArgumentError(msg);
    case UCS_ERR_NO_MEMORY:
    case UCS_ERR_NO_RESOURCE:
    case UCS_ERR_EXCEEDS_LIMIT:
      return absl::ResourceExhaustedError(msg);
    case UCS_ERR_UNSUPPORTED:
    case UCS_ERR_NOT_IMPLEMENTED:
      return absl::UnimplementedError(msg);
    default:
      return absl::UnavailableError(msg);  // unreachable, reset, timed out, I/O error
  }
}

}  // namespace kvstash::transport::ucx_internal

#endif  // KVSTASH_TRANSPORT_UCX_HANDLES_H_
