#include "service/cluster/etcd_testing.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kvstash::cluster::testing {
namespace {

// fork + exec with stdout/stderr going to `out_fd`; the child dies with us.
absl::StatusOr<pid_t> ForkExec(const std::vector<std::string>& argv, int out_fd) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
    dup2(out_fd, STDOUT_FILENO);
    dup2(out_fd, STDERR_FILENO);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// GET /health on 127.0.0.1:port with a blocking socket; true when etcd says so.
bool Healthy(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[1024];
      ssize_t n;
      while ((n = read(fd, buf, sizeof(buf))) > 0) reply.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return absl::StrContains(reply, "\"health\":\"true\"");
}

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

}  // namespace

bool EtcdInstalled() {
  const char* path = getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "/usr/bin:/bin", ':')) {
    if (!dir.empty() && access(absl::StrCat(dir, "/etcd").c_str(), X_OK) == 0) return true;
  }
  return false;
}

int PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) close(fd);
  return port;
}

// ----------------------------------------------------------------- etcd --

absl::StatusOr<std::unique_ptr<EtcdProcess>> EtcdProcess::Start() {
  std::unique_ptr<EtcdProcess> etcd(new EtcdProcess());
  std::string tmpl = (std::filesystem::temp_directory_path() / "kvstash-etcd-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", std::strerror(errno)));
  }
  etcd->dir_ = tmpl;
  etcd->client_port_ = PickFreePort();
  etcd->peer_port_ = PickFreePort();
  if (etcd->client_port_ == 0 || etcd->peer_port_ == 0 || etcd->client_port_ == etcd->peer_port_) {
    return absl::InternalError("no free loopback ports for etcd");
  }
  if (absl::Status s = etcd->Restart(); !s.ok()) return s;
  return etcd;
}

EtcdProcess::~EtcdProcess() {
  Kill();
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

std::string EtcdProcess::endpoint() const {
  return absl::StrCat("http://127.0.0.1:", client_port_);
}

absl::Status EtcdProcess::Spawn() {
  const std::string client = endpoint();
  const std::string peer = absl::StrCat("http://127.0.0.1:", peer_port_);
  const std::string log = dir_ + "/etcd.log";
  const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) return absl::InternalError(absl::StrCat("open ", log, ": ", std::strerror(errno)));
  absl::StatusOr<pid_t> pid =
      ForkExec({"etcd", "--data-dir", dir_ + "/data", "--name", "default", "--listen-client-urls",
                client, "--advertise-client-urls", client, "--listen-peer-urls", peer,
                "--initial-advertise-peer-urls", peer, "--initial-cluster", "default=" + peer},
               out);
  close(out);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  return absl::OkStatus();
}

absl::Status EtcdProcess::WaitHealthy() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(
          absl::StrCat("etcd exited with status ", status, ":\n", Tail(dir_ + "/etcd.log")));
    }
    if (Healthy(client_port_)) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("etcd not healthy after 20 s:\n", Tail(dir_ + "/etcd.log")));
}

absl::Status EtcdProcess::Restart() {
  Kill();
  if (absl::Status s = Spawn(); !s.ok()) return s;
  return WaitHealthy();
}

void EtcdProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGCONT);  // a stopped process dies of SIGKILL too, but be explicit
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

// SIGSTOP is asynchronous: a thread running on another CPU may still answer
// a request after kill() returns. Wait until every thread of etcd is stopped
// (state 'T' in /proc/<pid>/task/*/stat), so the caller's next request really
// meets a silent server.
void EtcdProcess::Pause() {
  if (pid_ <= 0) return;
  kill(pid_, SIGSTOP);
  const std::string tasks = absl::StrCat("/proc/", pid_, "/task");
  for (int attempt = 0; attempt < 500; ++attempt) {
    bool all_stopped = true;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
      std::ifstream in(task.path() / "stat");
      std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const size_t paren = stat.rfind(')');
      if (paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'T') {
        all_stopped = false;
        break;
      }
    }
    if (all_stopped) return;
    usleep(2000);
  }
}

void EtcdProcess::Resume() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

// ------------------------------------------------------------- children --

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const std::string& binary, const std::vector<std::string>& args) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  std::vector<std::string> argv = {binary};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<pid_t> pid = ForkExec(argv, fds[1]);
  close(fds[1]);
  if (!pid.ok()) {
    close(fds[0]);
    return pid.status();
  }
  fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->pid_ = *pid;
  child->out_fd_ = fds[0];
  return child;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

int ChildProcess::Wait() {
  int status = 0;
  if (pid_ > 0) {
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  return status;
}

const std::string& ChildProcess::Output() {
  char buf[4096];
  ssize_t n;
  while (out_fd_ >= 0 && (n = read(out_fd_, buf, sizeof(buf))) > 0) {
    output_.append(buf, static_cast<size_t>(n));
  }
  return output_;
}

bool WaitUntil(kj::Timer& timer, kj::WaitScope& wait_scope, const std::function<bool()>& done,
               kj::Duration limit) {
  const kj::TimePoint deadline = timer.now() + limit;
  while (!done()) {
    if (timer.now() >= deadline) return false;
    timer.afterDelay(20 * kj::MILLISECONDS).wait(wait_scope);
  }
  return true;
}

}  // namespace kvstash::cluster::testing
