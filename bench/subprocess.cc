#include "bench/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"

namespace kvstash::bench {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int OpenOrNull(const std::string& path, int flags) {
  return open(path.empty() ? "/dev/null" : path.c_str(), flags | O_CLOEXEC, 0644);
}

// In the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void ExecChild(const SubprocessSpec& spec, char* const* argv, int in_fd, int out_fd,
                            int err_fd, int report_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGPIPE, SIG_DFL);  // the bench ignores it; its children should not
  if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || (err_fd >= 0 && dup2(err_fd, 2) < 0)) {
    const int e = errno;
    (void)!write(report_fd, &e, sizeof(e));
    _exit(127);
  }
  if (spec.argv[0].find('/') == std::string::npos) {
    execvp(argv[0], argv);
  } else {
    execv(argv[0], argv);
  }
  const int e = errno;
  (void)!write(report_fd, &e, sizeof(e));
  _exit(127);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(const SubprocessSpec& spec) {
  if (spec.argv.empty()) return absl::InvalidArgumentError("subprocess: empty argv");
  std::vector<char*> argv;
  for (const std::string& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int in[2] = {-1, -1}, out[2] = {-1, -1}, report[2] = {-1, -1};
  auto close_all = [&] {
    for (int fd : {in[0], in[1], out[0], out[1], report[0], report[1]})
      if (fd >= 0) close(fd);
  };
  bool ok = pipe2(report, O_CLOEXEC) == 0;
  ok =
      ok && (spec.pipe_stdin ? pipe2(in, O_CLOEXEC) == 0 : (in[0] = OpenOrNull("", O_RDONLY)) >= 0);
  ok = ok && (spec.pipe_stdout
                  ? pipe2(out, O_CLOEXEC) == 0
                  : (out[1] = OpenOrNull(spec.stdout_file, O_WRONLY | O_CREAT | O_TRUNC)) >= 0);
  const int err_fd =
      spec.stderr_file.empty() ? -1 : OpenOrNull(spec.stderr_file, O_WRONLY | O_CREAT | O_TRUNC);
  if (!ok || (!spec.stderr_file.empty() && err_fd < 0)) {
    const int e = errno;
    close_all();
    if (err_fd >= 0) close(err_fd);
    return absl::InternalError(absl::StrCat("subprocess: cannot set up pipes or files for '",
                                            spec.argv[0], "': ", std::strerror(e)));
  }
  const pid_t pid = fork();
  if (pid == 0) ExecChild(spec, argv.data(), in[0], out[1], err_fd, report[1]);
  const int fork_errno = errno;
  if (err_fd >= 0) close(err_fd);
  close(in[0]);
  close(out[1]);
  close(report[1]);
  in[0] = out[1] = report[1] = -1;
  if (pid < 0) {
    close_all();
    return absl::InternalError(absl::StrCat("subprocess: fork: ", std::strerror(fork_errno)));
  }
  auto p = std::unique_ptr<Subprocess>(new Subprocess());
  p->pid_ = pid;
  p->stdin_fd_ = in[1];
  p->stdout_fd_ = out[0];
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(report[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == sizeof(child_errno)) {  // exec failed; the child has exited
    p->Stop(0, 5);
    const std::string msg =
        absl::StrCat("cannot run '", spec.argv[0], "': ", std::strerror(child_errno));
    return child_errno == ENOENT ? absl::NotFoundError(msg) : absl::InternalError(msg);
  }
  return p;
}

Subprocess::~Subprocess() {
  CloseStdin();
  if (stdout_fd_ >= 0) close(stdout_fd_);
  if (!reaped_) Stop(SIGKILL, 5);
}

absl::Status Subprocess::WriteLine(absl::string_view line) {
  std::string data = absl::StrCat(line, "\n");
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(stdin_fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::UnavailableError(
          absl::StrCat("subprocess ", pid_, ": write: ", std::strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Subprocess::ReadLine(double timeout_s) {
  const double deadline = Now() + timeout_s;
  for (;;) {
    if (const size_t nl = pending_.find('\n'); nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    const double left = deadline - Now();
    if (left <= 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("subprocess ", pid_, ": no answer within ", timeout_s, " s"));
    }
    pollfd p{stdout_fd_, POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(left * 1000) + 1);
    if (r < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
    }
    if (r <= 0) continue;
    char buf[4096];
    const ssize_t n = read(stdout_fd_, buf, sizeof(buf));
    if (n == 0) return absl::UnavailableError(absl::StrCat("subprocess ", pid_, " closed stdout"));
    if (n > 0) pending_.append(buf, static_cast<size_t>(n));
  }
}

void Subprocess::CloseStdin() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  stdin_fd_ = -1;
}

int Subprocess::Stop(int sig, double timeout_s) {
  if (reaped_) return 0;
  if (sig != 0) kill(pid_, sig);
  const double deadline = Now() + timeout_s;
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) break;
    if (Now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  reaped_ = true;
  return status;
}

}  // namespace kvstash::bench
