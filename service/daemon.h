// Daemon: one kvstashd process. Owns the tier stack (TierManager), serves the
// node API (proto/node.capnp) over a Unix socket and TCP, and the admin HTTP
// endpoints (/metrics, /healthz, /readyz, /v1/stats), and runs the router
// (service/router: engine KV events, POST /v1/placement, GET /v1/workers).
//
// Threading model: one kj event loop on the thread that calls Run(); every
// RPC and HTTP request is handled on it. SIGTERM or SIGINT drains: the
// listeners close, open connections are dropped between requests (no request
// is ever half-applied: each runs to completion within one loop turn), the
// tiers close cleanly (the disk tier flushes), and Run() returns.
#ifndef KVSTASH_SERVICE_DAEMON_H_
#define KVSTASH_SERVICE_DAEMON_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "service/metrics.h"
#include "service/node_events.h"
#include "service/options.h"
#include "service/profile.h"
#include "service/router/router_service.h"
#include "tiers/tier_manager.h"

namespace kvstash::service {

struct ListenInfo {
  std::string socket_path;
  std::string tcp_address;   // host:port actually bound
  std::string http_address;  // likewise
};

class Daemon {
 public:
  // Blocks SIGTERM/SIGINT for kj to deliver to Run(). REQUIRES: called on the
  // main thread before any thread starts (tiers start RocksDB threads, which
  // inherit the mask), so the signal cannot land on another thread.
  static void CaptureSignals();

  // Loads the profile and builds the tiers (creating the data dir).
  static absl::StatusOr<std::unique_ptr<Daemon>> Create(const DaemonOptions& options);
  ~Daemon();

  // Serves until SIGTERM/SIGINT. `on_ready` runs once every listener is bound.
  // REQUIRES: CaptureSignals() ran first; called at most once, on the main thread.
  absl::Status Run(const std::function<void(const ListenInfo&)>& on_ready);

  tiers::TierManager& manager() { return *manager_; }

 private:
  Daemon(const DaemonOptions& options, ModelProfile profile,
         std::unique_ptr<router::RouterService> router, std::unique_ptr<NodeEventLog> events,
         std::unique_ptr<tiers::TierManager> manager);
  // Flushes the event log every few milliseconds while the daemon serves.
  kj::Promise<void> FlushEvents(kj::Timer& timer);
  std::string StatsJson() const;

  const DaemonOptions options_;
  const ModelProfile profile_;
  // Before the manager: the manager reports its tier changes to the router.
  std::unique_ptr<router::RouterService> router_;
  std::unique_ptr<NodeEventLog> events_;
  std::unique_ptr<tiers::TierManager> manager_;
  MetricsRegistry metrics_;
  CollectorHandle tier_metrics_;
  CollectorHandle router_metrics_;
};

// `kvstashd [flags]` and `kvstash serve [flags]`: parse, run, report.
int DaemonMain(const std::vector<std::string>& args);

}  // namespace kvstash::service

#endif  // KVSTASH_SERVICE_DAEMON_H_
