// A cluster member in a process of its own, for the multi-process tests
// (membership_process_test.cc): registers, prints one line, then waits.
//
//   kvstash_cluster_test_member --etcd=URLS --cluster=C --node-id=ID
//       [--rpc=HOST:PORT] [--ttl=SECONDS] [--timeout-ms=N]
//
// Prints "registered <lease>" once registered or "error: <status>" (exit 1).
// SIGTERM: leaves the cluster (revokes the lease), prints "left", exits 0.
// SIGKILL is the crash the tests are about.
#include <kj/async-io.h>
#include <kj/async-unix.h>
#include <signal.h>
#include <sys/prctl.h>

#include <cstdio>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "service/cluster/etcd_client.h"
#include "service/cluster/membership.h"

namespace {

void Say(const std::string& line) {
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

int Run(std::map<std::string, std::string> flags) {
  using kvstash::cluster::EtcdClient;
  using kvstash::cluster::Membership;
  absl::StatusOr<std::vector<kvstash::cluster::EtcdEndpoint>> endpoints =
      kvstash::cluster::ParseEtcdEndpoints(flags["etcd"]);
  if (!endpoints.ok()) {
    Say(absl::StrCat("error: ", endpoints.status().ToString()));
    return 1;
  }
  int64_t ttl = 2;
  int64_t timeout_ms = 1000;
  if ((flags.count("ttl") && !absl::SimpleAtoi(flags["ttl"], &ttl)) ||
      (flags.count("timeout-ms") && !absl::SimpleAtoi(flags["timeout-ms"], &timeout_ms))) {
    Say("error: --ttl and --timeout-ms take integers");
    return 1;
  }

  kj::UnixEventPort::captureSignal(SIGTERM);
  kj::AsyncIoContext io = kj::setupAsyncIo();
  kvstash::cluster::EtcdClientOptions client_options;
  client_options.endpoints = *endpoints;
  client_options.request_timeout = timeout_ms * kj::MILLISECONDS;
  std::unique_ptr<EtcdClient> client = *EtcdClient::Create(
      io.provider->getNetwork(), io.provider->getTimer(), std::move(client_options));

  kvstash::cluster::Member self;
  self.node_id = flags["node-id"];
  self.rpc = flags["rpc"];
  kvstash::cluster::MembershipOptions options;
  options.cluster = flags.count("cluster") ? flags["cluster"] : "default";
  options.ttl_seconds = ttl;
  absl::StatusOr<std::unique_ptr<Membership>> membership =
      Membership::Create(client.get(), &io.provider->getTimer(), self, options);
  if (!membership.ok()) {
    Say(absl::StrCat("error: ", membership.status().ToString()));
    return 1;
  }
  absl::Status started = (*membership)->Start().wait(io.waitScope);
  if (!started.ok()) {
    Say(absl::StrCat("error: ", started.ToString()));
    return 1;
  }
  Say(absl::StrCat("registered ", (*membership)->lease_id()));

  io.unixEventPort.onSignal(SIGTERM).wait(io.waitScope);
  absl::Status left = (*membership)->Leave().wait(io.waitScope);
  Say(left.ok() ? "left" : absl::StrCat("error: ", left.ToString()));
  return left.ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
  std::map<std::string, std::string> flags;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!absl::ConsumePrefix(&arg, "--")) {
      Say(absl::StrCat("error: unexpected argument ", argv[i]));
      return 2;
    }
    const size_t eq = arg.find('=');
    flags[std::string(arg.substr(0, eq))] =
        eq == absl::string_view::npos ? "" : std::string(arg.substr(eq + 1));
  }
  try {
    return Run(std::move(flags));
  } catch (const kj::Exception& e) {
    Say(absl::StrCat("error: ", e.getDescription().cStr()));
    return 1;
  }
}
