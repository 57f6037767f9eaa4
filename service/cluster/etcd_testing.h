// Test support for service/cluster: a real etcd started on free loopback
// ports (STYLE.md 14), member processes to kill, and waiting on a kj loop.
//
// Thread safety: for the test's main thread.
#ifndef KVSTASH_SERVICE_CLUSTER_ETCD_TESTING_H_
#define KVSTASH_SERVICE_CLUSTER_ETCD_TESTING_H_

#include <kj/async-io.h>
#include <kj/timer.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kvstash::cluster::testing {

// Whether an `etcd` binary is on PATH (tests skip without one).
bool EtcdInstalled();

// A port nothing listens on right now (bound to 127.0.0.1:0, then closed).
int PickFreePort();

// One single-member etcd: `etcd --data-dir TMP --listen-client-urls
// http://127.0.0.1:PORT ...`, its output in TMP/etcd.log. Killed (SIGKILL) and
// its data removed on destruction. The child gets PR_SET_PDEATHSIG, so it
// dies with the test process.
class EtcdProcess {
 public:
  // Starts etcd and waits (blocking, up to 20 s) until GET /health says true.
  static absl::StatusOr<std::unique_ptr<EtcdProcess>> Start();
  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  std::string endpoint() const;  // "http://127.0.0.1:PORT"
  int client_port() const { return client_port_; }

  void Kill();    // SIGKILL and reap; the data directory stays
  void Pause();   // SIGSTOP: connections are accepted, nothing answers
  void Resume();  // SIGCONT
  // Kill() if running, then start again on the same ports and data.
  absl::Status Restart();

 private:
  EtcdProcess() = default;
  absl::Status Spawn();
  absl::Status WaitHealthy();

  std::string dir_;
  int client_port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
};

// A child process (e.g. kvstash_cluster_test_member) whose stdout the test
// reads. SIGKILLed on destruction if still running.
class ChildProcess {
 public:
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(const std::string& binary,
                                                             const std::vector<std::string>& args);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  void Signal(int sig);
  // Waits for the exit and returns the wait status.
  int Wait();
  // Appends what the child printed since the last call (non-blocking) and
  // returns everything printed so far.
  const std::string& Output();
  pid_t pid() const { return pid_; }

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string output_;
};

// Runs the loop until `done()` or `limit` passes; whether done() came true.
bool WaitUntil(kj::Timer& timer, kj::WaitScope& wait_scope, const std::function<bool()>& done,
               kj::Duration limit);

}  // namespace kvstash::cluster::testing

#endif  // KVSTASH_SERVICE_CLUSTER_ETCD_TESTING_H_
