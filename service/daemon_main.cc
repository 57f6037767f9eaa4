// kvstashd's entry point, shared with `kvstash serve`.
#include <unistd.h>

#include <iostream>

#include "absl/strings/str_format.h"
#include "service/daemon.h"

namespace kvstash::service {

int DaemonMain(const std::vector<std::string>& args) {
  absl::StatusOr<DaemonOptions> options = ParseDaemonOptions(args);
  if (!options.ok()) {
    std::cerr << "kvstashd: " << options.status().message() << "\n(run with --help for usage)\n";
    return 2;
  }
  if (options->help) {
    std::cout << DaemonOptionsHelp(OptionsEnvironment::FromProcess());
    return 0;
  }
  Daemon::CaptureSignals();
  absl::StatusOr<std::unique_ptr<Daemon>> daemon = Daemon::Create(*options);
  if (!daemon.ok()) {
    std::cerr << "kvstashd: " << daemon.status().message() << "\n";
    return 1;
  }
  const absl::Status s = (*daemon)->Run([&](const ListenInfo& info) {
    // One machine-readable line on stdout, so scripts and tests can wait for it.
    std::cout << absl::StrFormat("kvstashd ready pid=%d socket=%s tcp=%s http=%s\n", ::getpid(),
                                 info.socket_path, info.tcp_address, info.http_address)
              << std::flush;
    std::cerr << absl::StrFormat(
        "kvstashd: profile %s, storage %s, tiers: host %.2f GiB, disk %.2f GiB, device %.2f GiB; "
        "data in %s\n",
        options->profile, kernels::FormatName(options->storage_format),
        options->host_bytes / 1073741824.0, options->disk_bytes / 1073741824.0,
        options->device_bytes / 1073741824.0, options->data_dir);
  });
  daemon->reset();  // closes the tiers (the disk tier flushes) before we report
  if (!s.ok()) {
    std::cerr << "kvstashd: " << s.message() << "\n";
    return 1;
  }
  std::cerr << "kvstashd: stopped cleanly\n";
  return 0;
}

}  // namespace kvstash::service
