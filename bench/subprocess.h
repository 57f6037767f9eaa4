// A child process for the benchmarks that start servers and workers: fork +
// exec with optional pipes on its stdin/stdout and redirected output, line
// I/O with timeouts, and cleanup. The child gets SIGKILL if this process
// dies first (PR_SET_PDEATHSIG), so no server outlives a crashed bench.
//
// Ownership: a Subprocess owns its pipes and its child; destroying it kills
// (SIGKILL) and reaps a child still running. Thread safety: none.
#ifndef KVSTASH_BENCH_SUBPROCESS_H_
#define KVSTASH_BENCH_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvstash::bench {

struct SubprocessSpec {
  std::vector<std::string> argv;  // argv[0] is looked up on PATH when it has no '/'
  bool pipe_stdin = false;        // else /dev/null
  bool pipe_stdout = false;       // else `stdout_file`
  std::string stdout_file;        // "" : /dev/null
  std::string stderr_file;        // "" : inherit ours
};

class Subprocess {
 public:
  // NotFound when argv[0] does not exist, naming it; other exec failures
  // are Internal.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const SubprocessSpec& spec);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }

  // REQUIRES: pipe_stdin. Writes `line` and a newline.
  absl::Status WriteLine(absl::string_view line);
  // REQUIRES: pipe_stdout. The next line without its newline; DeadlineExceeded
  // after `timeout_s`, Unavailable at EOF.
  absl::StatusOr<std::string> ReadLine(double timeout_s);
  void CloseStdin();
  // Sends `sig` (unless 0) and waits up to `timeout_s` for the child to
  // exit, then SIGKILLs it. Returns the wait status (as waitpid gives it).
  int Stop(int sig, double timeout_s);

 private:
  Subprocess() = default;

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string pending_;  // read from stdout, not yet returned
  bool reaped_ = false;
};

}  // namespace kvstash::bench

#endif  // KVSTASH_BENCH_SUBPROCESS_H_
