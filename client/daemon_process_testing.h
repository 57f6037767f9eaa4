// A kvstashd child process for tests: started with KVSTASHD_BIN, a fresh
// data dir and kernel-chosen ports; its ready line gives the addresses.
// SIGTERM on destruction. socket() is empty when it failed to start.
#ifndef KVSTASH_CLIENT_DAEMON_PROCESS_TESTING_H_
#define KVSTASH_CLIENT_DAEMON_PROCESS_TESTING_H_

#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace kvstash {

// Starts kvstashd (default profile: tiny) and reads its ready line.
class DaemonProcess {
 public:
  // `flags`: extra kvstashd flags, e.g. "--host-gib 0.01 --disk-gib 0".
  DaemonProcess(const std::string& dir, const std::string& flags) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const std::string cmd = std::string(KVSTASHD_BIN) + " --data-dir " + dir +
                            " --listen 127.0.0.1:0 --http 127.0.0.1:0 " + flags + " & echo $!";
    pipe_ = ::popen(("exec 3>&1; " + cmd + " ; wait").c_str(), "r");
    char line[512];
    while (pipe_ != nullptr && std::fgets(line, sizeof(line), pipe_) != nullptr) {
      const std::string l(line);
      if (pid_ == 0) {
        pid_ = std::stoi(l);
        continue;
      }
      if (l.rfind("kvstashd ready", 0) == 0) {
        socket_ = Field(l, "socket=");
        tcp_ = Field(l, "tcp=");
        break;
      }
    }
  }
  ~DaemonProcess() {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
    if (pipe_ != nullptr) ::pclose(pipe_);
  }
  const std::string& socket() const { return socket_; }
  const std::string& tcp() const { return tcp_; }

 private:
  static std::string Field(const std::string& line, const std::string& name) {
    const size_t at = line.find(name) + name.size();
    return line.substr(at, line.find_first_of(" \n", at) - at);
  }
  FILE* pipe_ = nullptr;
  int pid_ = 0;
  std::string socket_, tcp_;
};

}  // namespace kvstash

#endif  // KVSTASH_CLIENT_DAEMON_PROCESS_TESTING_H_
