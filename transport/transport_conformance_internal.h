// Helpers of the Transport conformance suite (transport_conformance.h):
// deterministic byte patterns, registered test buffers, and the peer process.
#ifndef KVSTASH_TRANSPORT_TRANSPORT_CONFORMANCE_INTERNAL_H_
#define KVSTASH_TRANSPORT_TRANSPORT_CONFORMANCE_INTERNAL_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "transport/transport.h"

namespace kvstash::transport::testing {

// Byte i of the pattern `seed`; every (seed, i) differs from its neighbours.
inline uint8_t PatternByte(uint64_t seed, uint64_t i) {
  uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull ^ (seed * 0xD6E8FEB86659FD93ull);
  x ^= x >> 29;
  return static_cast<uint8_t>(x ^ (x >> 17));
}
void FillPattern(char* p, size_t n, uint64_t seed, uint64_t first_index = 0);
// Index of the first byte of p[0, n) that differs from the pattern, or n.
size_t FirstMismatch(const char* p, size_t n, uint64_t seed, uint64_t first_index = 0);
// XXH3-64 of the bytes, as 16 hex digits.
std::string Digest(const char* p, size_t n);

// Host memory registered with one transport, filled with pattern `seed`.
struct HostBuffer {
  static absl::StatusOr<HostBuffer> Create(Transport& t, size_t n, uint64_t seed);
  char* data() const { return bytes.get(); }
  std::unique_ptr<char[]> bytes;
  size_t size = 0;
  std::unique_ptr<Registration> reg;
};

// How a peer process gets the region it serves.
enum class PeerMemory { kRegistered, kAllocated };

// This test binary, started again as a conformance peer (see
// RegisterConformancePeers): it creates a transport with the named factory,
// registers (or, with kAllocated, has the transport allocate, where it can)
// `bytes` bytes filled with pattern `seed` and announces its address and key.
// Killed (SIGKILL) on destruction if still running.
class PeerProcess {
 public:
  static absl::StatusOr<std::unique_ptr<PeerProcess>> Start(
      const std::string& factory, size_t bytes, uint64_t seed,
      PeerMemory memory = PeerMemory::kRegistered);
  ~PeerProcess();
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;

  const std::string& address() const { return address_; }
  const std::string& key() const { return key_; }
  uint64_t base() const { return base_; }
  size_t length() const { return length_; }
  pid_t pid() const { return pid_; }

  // The peer's digest of its region's bytes [offset, offset + n).
  absl::StatusOr<std::string> Digest(uint64_t offset, size_t n);
  // SIGKILL, then reap.
  void Kill();

 private:
  PeerProcess() = default;
  absl::StatusOr<std::string> ReadLine();
  absl::Status WriteLine(const std::string& line);

  pid_t pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
  std::string pending_;
  std::string address_, key_;
  uint64_t base_ = 0;
  size_t length_ = 0;
};

// The child side: runs when the environment names a factory. Returns the
// exit code.
int RunPeer(Transport& t, size_t bytes, uint64_t seed, PeerMemory memory);

}  // namespace kvstash::transport::testing

#endif  // KVSTASH_TRANSPORT_TRANSPORT_CONFORMANCE_INTERNAL_H_
