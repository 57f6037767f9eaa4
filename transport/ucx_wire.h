// The two opaque blobs a UCX transport hands out, and how they are checked
// before any byte of them reaches UCX (whose own unpackers trust their input
// and know no lengths):
//
//   address (Transport::LocalAddress)          remote key (Registration::remote_key)
//   ------------------------------------       -------------------------------------
//   "KVSU"            4 bytes magic            "KVSK"            4 bytes magic
//   version = 1       1 byte                   version = 1       1 byte
//   reserved          3 bytes, zero            memory kind       1 byte (0 host)
//   instance          8 bytes                  reserved          2 bytes, zero
//   boot id hash      8 bytes                  issuer instance   8 bytes
//   pid namespace     8 bytes                  base              8 bytes
//   pid               4 bytes                  length            8 bytes
//   process start     8 bytes                  packed rkey len   4 bytes
//   worker addr len   4 bytes                  packed rkey       ucp_rkey_pack
//   worker address    ucp_worker_get_address   checksum          8 bytes
//   checksum          8 bytes
//
// Integers are little-endian; the checksum is XXH3-64 of every byte before
// it. `instance` is a random 64-bit identity drawn when a transport is
// created: a remote key names the transport that issued it, so a key used
// against the wrong peer is refused instead of reaching UCX. The process
// fields let a peer on the same host (same boot id and pid namespace) see
// that the process behind an address has exited (ProcessIsGone).
#ifndef KVSTASH_TRANSPORT_UCX_WIRE_H_
#define KVSTASH_TRANSPORT_UCX_WIRE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvstash::transport::ucx_internal {

// Which process on which boot of which host: enough to tell, from the same
// host, that the process has exited (its pid is gone or was reused).
struct ProcessIdentity {
  uint64_t boot = 0;    // XXH3-64 of /proc/sys/kernel/random/boot_id
  uint64_t pid_ns = 0;  // inode of /proc/self/ns/pid
  uint32_t pid = 0;
  uint64_t start_ticks = 0;  // field 22 of /proc/<pid>/stat
  static const ProcessIdentity& Self();
};

// True only when `p` runs on this host and in this pid namespace, and its
// process has exited (or its pid now names another process). A process
// elsewhere is never "gone": the network says so instead.
bool ProcessIsGone(const ProcessIdentity& p);

struct WireAddress {
  uint64_t instance = 0;
  ProcessIdentity process;
  std::string worker_address;
};

struct WireKey {
  uint8_t memory_kind = 0;
  uint64_t issuer = 0;
  uint64_t base = 0;
  uint64_t length = 0;
  std::string packed_rkey;
};

std::string EncodeAddress(const WireAddress& a);
// InvalidArgument naming what is wrong (size, magic, version, checksum).
absl::StatusOr<WireAddress> DecodeAddress(absl::string_view blob);

std::string EncodeKey(const WireKey& k);
absl::StatusOr<WireKey> DecodeKey(absl::string_view blob);

// A random, nonzero instance identity.
uint64_t NewInstanceId();

}  // namespace kvstash::transport::ucx_internal

#endif  // KVSTASH_TRANSPORT_UCX_WIRE_H_
