// The conformance suite's helpers and its peer process
// (transport_conformance_internal.h). The peer speaks lines on stdin/stdout:
//
//   peer -> "ready <address hex> <key hex> <base> <length>"   once, at start
//   "digest <offset> <n>"  -> "digest <16 hex digits>"
//   "exit" or end of input -> exits 0
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "transport/transport_conformance.h"
#include "transport/transport_conformance_internal.h"

namespace kvstash::transport::testing {
namespace {

constexpr char kPeerEnv[] = "KVSTASH_TRANSPORT_PEER";               // factory name
constexpr char kBytesEnv[] = "KVSTASH_TRANSPORT_PEER_BYTES";        // region size
constexpr char kSeedEnv[] = "KVSTASH_TRANSPORT_PEER_SEED";          // its pattern
constexpr char kAllocateEnv[] = "KVSTASH_TRANSPORT_PEER_ALLOCATE";  // "1": Allocate()
constexpr int kLineTimeoutMs = 60'000;

std::string SelfPath() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

}  // namespace

void FillPattern(char* p, size_t n, uint64_t seed, uint64_t first_index) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<char>(PatternByte(seed, first_index + i));
}

size_t FirstMismatch(const char* p, size_t n, uint64_t seed, uint64_t first_index) {
  for (size_t i = 0; i < n; ++i) {
    if (static_cast<uint8_t>(p[i]) != PatternByte(seed, first_index + i)) return i;
  }
  return n;
}

std::string Digest(const char* p, size_t n) {
  return absl::StrCat(absl::Hex(XXH3_64bits(p, n), absl::kZeroPad16));
}

absl::StatusOr<HostBuffer> HostBuffer::Create(Transport& t, size_t n, uint64_t seed) {
  HostBuffer b;
  b.bytes.reset(new char[n]);
  b.size = n;
  FillPattern(b.data(), n, seed);
  absl::StatusOr<std::unique_ptr<Registration>> reg = t.Register(b.data(), n, MemoryKind::kHost);
  if (!reg.ok()) return reg.status();
  b.reg = std::move(*reg);
  return b;
}

int RunPeer(Transport& t, size_t bytes, uint64_t seed, PeerMemory memory) {
  absl::StatusOr<std::unique_ptr<Registration>> reg = absl::UnimplementedError("");
  if (memory == PeerMemory::kAllocated) reg = t.Allocate(bytes, MemoryKind::kHost);
  absl::StatusOr<HostBuffer> heap = absl::UnimplementedError("");
  if (absl::IsUnimplemented(reg.status())) {
    heap = HostBuffer::Create(t, bytes, seed);
    if (heap.ok()) reg = std::move(heap->reg);
  }
  if (!reg.ok()) {
    std::cout << "error " << reg.status() << std::endl;
    return 1;
  }
  char* data = static_cast<char*>((*reg)->base());
  FillPattern(data, bytes, seed);
  std::cout << "ready " << absl::BytesToHexString(t.LocalAddress()) << " "
            << absl::BytesToHexString((*reg)->remote_key()) << " "
            << reinterpret_cast<uintptr_t>(data) << " " << bytes << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    uint64_t offset = 0, n = 0;
    if (f.size() == 3 && f[0] == "digest" && absl::SimpleAtoi(f[1], &offset) &&
        absl::SimpleAtoi(f[2], &n) && offset <= bytes && n <= bytes - offset) {
      std::cout << "digest " << Digest(data + offset, n) << std::endl;
    } else if (line == "exit") {
      break;
    } else {
      std::cout << "error bad command: " << line << std::endl;
    }
  }
  return 0;
}

bool RegisterConformancePeers(std::vector<TransportFactory> factories) {
  const char* name = std::getenv(kPeerEnv);
  if (name == nullptr) return true;
  uint64_t bytes = 0, seed = 0;
  const char* b = std::getenv(kBytesEnv);
  const char* s = std::getenv(kSeedEnv);
  if (b == nullptr || s == nullptr || !absl::SimpleAtoi(b, &bytes) || !absl::SimpleAtoi(s, &seed) ||
      bytes == 0) {
    std::cout << "error bad peer environment" << std::endl;
    std::_Exit(2);
  }
  for (const TransportFactory& f : factories) {
    if (f.name != name) continue;
    int rc = 1;
    {
      absl::StatusOr<std::unique_ptr<Transport>> t = f.create();
      if (!t.ok()) {
        std::cout << "error " << t.status() << std::endl;
      } else {
        const char* a = std::getenv(kAllocateEnv);
        rc = RunPeer(**t, bytes, seed,
                     a != nullptr && std::string(a) == "1" ? PeerMemory::kAllocated
                                                           : PeerMemory::kRegistered);
      }
    }
    std::cout.flush();
    std::_Exit(rc);  // no gtest main, no static destructors of a half-run binary
  }
  std::cout << "error unknown factory " << name << std::endl;
  std::_Exit(2);
}

absl::StatusOr<std::unique_ptr<PeerProcess>> PeerProcess::Start(const std::string& factory,
                                                                size_t bytes, uint64_t seed,
                                                                PeerMemory memory) {
  const std::string self = SelfPath();
  if (self.empty()) return absl::InternalError("cannot read /proc/self/exe");
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return absl::InternalError("pipe2 failed");
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return absl::InternalError("pipe2 failed");
  }
  // Everything the child needs is built before fork (only exec follows it).
  const std::string env_peer = absl::StrCat(kPeerEnv, "=", factory);
  const std::string env_bytes = absl::StrCat(kBytesEnv, "=", bytes);
  const std::string env_seed = absl::StrCat(kSeedEnv, "=", seed);
  const std::string env_allocate =
      absl::StrCat(kAllocateEnv, "=", memory == PeerMemory::kAllocated ? "1" : "0");
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  envp.push_back(const_cast<char*>(env_peer.c_str()));
  envp.push_back(const_cast<char*>(env_bytes.c_str()));
  envp.push_back(const_cast<char*>(env_seed.c_str()));
  envp.push_back(const_cast<char*>(env_allocate.c_str()));
  envp.push_back(nullptr);
  char* argv[] = {const_cast<char*>(self.c_str()), nullptr};
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(3);
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    execve(self.c_str(), argv, envp.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  std::unique_ptr<PeerProcess> p(new PeerProcess());
  p->pid_ = pid;
  p->to_child_ = in[1];
  p->from_child_ = out[0];
  absl::StatusOr<std::string> line = p->ReadLine();
  if (!line.ok()) return line.status();
  std::vector<std::string> f = absl::StrSplit(*line, ' ');
  std::string address, key;
  if (f.size() != 5 || f[0] != "ready" || !absl::SimpleAtoi(f[3], &p->base_) ||
      !absl::SimpleAtoi(f[4], &p->length_)) {
    return absl::InternalError(absl::StrCat("peer did not start: ", *line));
  }
  p->address_ = absl::HexStringToBytes(f[1]);
  p->key_ = absl::HexStringToBytes(f[2]);
  return p;
}

PeerProcess::~PeerProcess() {
  if (pid_ > 0) {
    (void)WriteLine("exit");
    close(to_child_);
    for (int i = 0; i < 2000; ++i) {  // up to 10 s for a clean exit
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      usleep(5000);
    }
    if (pid_ > 0) Kill();
  } else if (to_child_ >= 0) {
    close(to_child_);
  }
  close(from_child_);
}

void PeerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

absl::StatusOr<std::string> PeerProcess::Digest(uint64_t offset, size_t n) {
  if (absl::Status s = WriteLine(absl::StrCat("digest ", offset, " ", n)); !s.ok()) return s;
  absl::StatusOr<std::string> line = ReadLine();
  if (!line.ok()) return line.status();
  if (line->rfind("digest ", 0) != 0) return absl::InternalError("peer said: " + *line);
  return line->substr(7);
}

absl::Status PeerProcess::WriteLine(const std::string& line) {
  const std::string s = line + "\n";
  if (write(to_child_, s.data(), s.size()) != static_cast<ssize_t>(s.size())) {
    return absl::UnavailableError("peer process is gone");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PeerProcess::ReadLine() {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kLineTimeoutMs);
  for (;;) {
    if (size_t nl = pending_.find('\n'); nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return absl::DeadlineExceededError("peer process did not answer");
    pollfd p{from_child_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = read(from_child_, buf, sizeof(buf));
    if (n <= 0) return absl::UnavailableError("peer process closed its output");
    pending_.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace kvstash::transport::testing
