// libkvstash: the engine-facing client of a kvstashd (DESIGN.md "Node service
// (kvstashd) and client"). Connect once, then call the batched operations
// from any number of threads.
//
// Ownership and threading: a Client owns one connection and one background
// I/O thread that runs its event loop; every method marshals its call onto
// that thread and blocks until the answer arrives, so methods are safe to
// call concurrently. Destroying the Client closes the connection and joins
// the thread. A dropped connection makes calls fail with Unavailable.
//
// This header is the public contract: it includes no Cap'n Proto, RocksDB,
// CUDA or UCX header (pImpl).
#ifndef KVSTASH_CLIENT_CLIENT_H_
#define KVSTASH_CLIENT_CLIENT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "kvstash/block_hash.h"

namespace kvstash {

enum class Tier : uint8_t { kNone = 0, kDevice = 1, kHost = 2, kDisk = 3, kRemote = 4 };
enum class Format : uint8_t { kBf16 = 0, kFp16 = 1, kFp8E4M3 = 2, kNvfp4 = 3, kMxfp4 = 4 };

const char* TierName(Tier t);
const char* FormatName(Format f);
std::optional<Format> ParseFormatName(const std::string& name);

struct Geometry {
  uint32_t layers = 0;
  uint32_t kv_heads = 0;
  uint32_t head_dim = 0;
  uint32_t block_tokens = 0;
  uint32_t planes = 2;  // 2: K and V; 1: MLA latent
};

// (namespace, sequence hash). A 64-bit hash (Dynamo XXH3 chain, or the u64
// wire form of a vLLM hash) or a full 32-byte sha256_cbor digest.
struct Key {
  uint64_t ns = 0;
  std::array<uint8_t, 32> digest{};
  uint8_t digest_bytes = 8;

  static Key FromU64(uint64_t hash, uint64_t ns = 0);
  static Key FromDigest(const Sha256Digest& digest, uint64_t ns = 0);
  friend bool operator==(const Key&, const Key&) = default;
};

struct LookupResult {
  size_t matched = 0;       // keys[0, matched) are held
  std::vector<Tier> tiers;  // where each of them is
};

// A block as returned by Get: its payload in the format asked for, with the
// geometry and global scales needed to read it.
struct Block {
  Key key;
  Tier tier = Tier::kNone;
  Format format = Format::kNvfp4;
  Geometry geometry;
  std::vector<float> scales;  // nvfp4 g_dec / fp8 s per (layer, plane)
  bool dynamic_scales = false;
  std::string payload;
};

struct PutBlock {
  Key key;
  std::optional<Key> parent;
  Format format = Format::kBf16;
  Geometry geometry;
  std::span<const float> scales;  // empty: dynamic (computed per block)
  std::span<const uint8_t> payload;
  uint8_t priority = 0;
};

// A block in the node's device tier, for an engine process on the same GPU.
// libkvstash never calls CUDA itself: open `ipc_handle` (a
// cudaIpcMemHandle_t) once with cudaIpcOpenMemHandle on the GPU the node
// names `device` (the handle covers the node's whole device arena, so cache
// the mapping), then read [offset, offset + length): the payload, in the
// view's format, geometry and scales. Valid while its BlockViews lives.
struct DeviceBlockRef {
  std::array<uint8_t, 64> ipc_handle{};
  int device = 0;       // CUDA device ordinal in the node's process
  uint64_t offset = 0;  // of the payload in the arena
  uint64_t length = 0;  // payload bytes
};

// One block read in place. With zero_copy, `payload` points into the node's
// shared host arena (mapped read-only; no copy through the socket);
// otherwise into a private copy. A miss has tier kNone and no payload.
struct BlockView {
  Key key;
  Tier tier = Tier::kNone;
  bool zero_copy = false;
  Format format = Format::kNvfp4;
  Geometry geometry;
  std::vector<float> scales;
  bool dynamic_scales = false;
  std::span<const uint8_t> payload;      // empty when `device` is set
  std::optional<DeviceBlockRef> device;  // GetDeviceViews: the block in GPU memory
};

// The views of one GetViews call. The shared slots stay pinned in the node
// (never reused, even if evicted) until this object is destroyed.
// REQUIRES: destroyed before the Client that made it.
class BlockViews {
 public:
  BlockViews(BlockViews&&) noexcept;
  BlockViews& operator=(BlockViews&&) noexcept;
  ~BlockViews();
  size_t size() const;
  const BlockView& operator[](size_t i) const;

 private:
  friend class Client;
  struct State;
  explicit BlockViews(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Writable memory for one batch of puts (Client::ReservePut): one region per
// block, sized for its format and geometry. Over a Unix socket the regions
// live in a put window shared with the node, so CommitPut moves no payload
// bytes through the socket; otherwise they are private and CommitPut sends
// them inline. REQUIRES: destroyed before the Client that made it.
class PutBuffers {
 public:
  PutBuffers(PutBuffers&&) noexcept;
  PutBuffers& operator=(PutBuffers&&) noexcept;
  ~PutBuffers();
  size_t size() const;
  std::span<uint8_t> operator[](size_t i) const;
  bool zero_copy() const;  // the regions are shared with the node

 private:
  friend class Client;
  struct State;
  explicit PutBuffers(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

struct TierStats {
  std::string name;
  uint64_t capacity_bytes = 0, used_bytes = 0, blocks = 0;
  uint64_t hits = 0, misses = 0, bytes_in = 0, bytes_out = 0;
  uint64_t evictions = 0, spills = 0, promotions = 0, checksum_failures = 0;
  bool read_only = false;
  std::string error;
  // Further counters by name (the "remote" entry: ucx_pulls, ucx_bytes,
  // ucx_fallbacks, ucx_errors, peer_errors), in the node's order.
  std::vector<std::pair<std::string, uint64_t>> counters;
};

class Client {
 public:
  // `address`: "unix:/path/to/kvstashd.sock", a socket path, or "host:port".
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const std::string& address);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  absl::StatusOr<LookupResult> Lookup(std::span<const Key> keys);
  // One entry per key; nullopt for a miss.
  absl::StatusOr<std::vector<std::optional<Block>>> Get(std::span<const Key> keys, Format format);
  // Like Get, without copies where possible: over a Unix socket, blocks held
  // in the host tier in `format` are read in place from shared memory.
  absl::StatusOr<BlockViews> GetViews(std::span<const Key> keys, Format format);
  // Like GetViews, and blocks held in the node's device tier in `format` come
  // back as DeviceBlockRefs (CUDA IPC, same node and GPU) instead of copies.
  absl::StatusOr<BlockViews> GetDeviceViews(std::span<const Key> keys, Format format);
  // Stores every block or none (the batch is validated first). Returns the
  // count. Over a Unix socket the payloads go through a put window (one copy
  // into shared memory, none through the socket).
  absl::StatusOr<size_t> Put(std::span<const PutBlock> blocks);
  // Zero-copy puts: reserves a region for each block (sized from its format
  // and geometry; `payload` is ignored) for the caller to write in place,
  // e.g. straight from a KV-cache copy-out, then CommitPut stores them all.
  absl::StatusOr<PutBuffers> ReservePut(std::span<const PutBlock> blocks);
  absl::StatusOr<size_t> CommitPut(PutBuffers buffers);
  absl::StatusOr<size_t> Pin(std::span<const Key> keys);
  absl::StatusOr<size_t> Unpin(std::span<const Key> keys);
  absl::StatusOr<size_t> Erase(std::span<const Key> keys);
  absl::StatusOr<std::vector<TierStats>> Stats();

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  absl::StatusOr<BlockViews> Views(std::span<const Key> keys, Format format, bool device_ipc);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kvstash

#endif  // KVSTASH_CLIENT_CLIENT_H_
