// The worker side of `kvstash bench service` (service_bench.h): one client
// process driven phase by phase over stdin/stdout.
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/redis_client.h"
#include "bench/service_bench.h"
#include "bench/service_bench_internal.h"
#include "kvstash/client.h"

namespace kvstash::bench {
namespace service_internal {

std::vector<std::string> MakePayloads(uint64_t bytes, size_t count, uint64_t seed) {
  const kernels::KvGeometry g = GeometryFor(bytes);
  const kernels::KvBlockLayout layout = *kernels::KvBlockLayout::Create(g, kernels::Format::kNvfp4);
  std::vector<std::string> out(count);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::string& p : out) {
    p.resize(layout.block_bytes());
    for (size_t i = 0; i + 8 <= p.size(); i += 8) {  // splitmix64
      uint64_t z = (x += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      std::memcpy(p.data() + i, &z, 8);
    }
    for (uint32_t plane = 0; plane < g.planes; ++plane) {
      const kernels::Segment s = layout.segment(0, static_cast<kernels::Plane>(plane));
      for (size_t i = 0; i < s.scale_bytes; ++i) {  // E4M3 0x30..0x3f: 0.5 to ~0.94
        p[s.scale_offset + i] = static_cast<char>(0x30 | (p[s.scale_offset + i] & 0x0f));
      }
    }
  }
  return out;
}

}  // namespace service_internal

namespace {

using service_internal::Now;

constexpr size_t kPoolBytes = size_t{64} << 20;  // distinct source payloads per worker
constexpr size_t kEraseBatch = 1024;

// One client connection: kvstashd or Redis.
class Store {
 public:
  virtual ~Store() = default;
  virtual absl::Status Put(uint64_t key, const std::string& payload) = 0;
  virtual absl::Status Get(uint64_t key, uint64_t want_bytes) = 0;
  // A read in place where the store offers one (kvstashd's shared arena),
  // then one memcpy into the caller's buffer: the bytes must land somewhere
  // for the figure to mean anything. Sets *zero_copy when no socket copy ran.
  virtual absl::Status GetView(uint64_t key, uint64_t want_bytes, bool* zero_copy) = 0;
  virtual absl::Status Erase(const std::vector<uint64_t>& keys) = 0;
};

class KvstashStore final : public Store {
 public:
  KvstashStore(std::unique_ptr<Client> client, uint64_t bytes)
      : client_(std::move(client)), geometry_(service_internal::GeometryFor(bytes)) {}

  absl::Status Put(uint64_t key, const std::string& payload) override {
    PutBlock b;
    b.key = Key::FromU64(key);
    b.format = Format::kNvfp4;
    b.geometry = {geometry_.layers, geometry_.kv_heads, geometry_.head_dim, geometry_.block_tokens,
                  geometry_.planes};
    b.scales = service_internal::kScales;
    b.payload = {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()};
    return client_->Put({&b, 1}).status();
  }

  absl::Status Get(uint64_t key, uint64_t want_bytes) override {
    const Key k = Key::FromU64(key);
    absl::StatusOr<std::vector<std::optional<Block>>> r = client_->Get({&k, 1}, Format::kNvfp4);
    if (!r.ok()) return r.status();
    if (r->size() != 1 || !(*r)[0].has_value()) {
      return absl::NotFoundError(absl::StrCat("kvstashd: block ", key, " missing"));
    }
    if ((*r)[0]->payload.size() != want_bytes) {
      return absl::DataLossError(absl::StrCat(
          "kvstashd: block ", key, " has ", (*r)[0]->payload.size(), " bytes, want ", want_bytes));
    }
    return absl::OkStatus();
  }

  absl::Status GetView(uint64_t key, uint64_t want_bytes, bool* zero_copy) override {
    const Key k = Key::FromU64(key);
    absl::StatusOr<BlockViews> r = client_->GetViews({&k, 1}, Format::kNvfp4);
    if (!r.ok()) return r.status();
    if (r->size() != 1 || (*r)[0].tier == Tier::kNone) {
      return absl::NotFoundError(absl::StrCat("kvstashd: block ", key, " missing"));
    }
    const BlockView& v = (*r)[0];
    if (v.payload.size() != want_bytes) {
      return absl::DataLossError(absl::StrCat("kvstashd: block ", key, " has ", v.payload.size(),
                                              " bytes, want ", want_bytes));
    }
    dst_.resize(want_bytes);
    std::memcpy(dst_.data(), v.payload.data(), want_bytes);
    *zero_copy = v.zero_copy;
    return absl::OkStatus();
  }

  absl::Status Erase(const std::vector<uint64_t>& keys) override {
    std::vector<Key> batch;
    for (size_t i = 0; i < keys.size(); i += kEraseBatch) {
      batch.clear();
      for (size_t j = i; j < std::min(keys.size(), i + kEraseBatch); ++j) {
        batch.push_back(Key::FromU64(keys[j]));
      }
      if (absl::Status s = client_->Erase(batch).status(); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  std::unique_ptr<Client> client_;
  const kernels::KvGeometry geometry_;
  std::string dst_;  // reused: where GetView copies to
};

class RedisStore final : public Store {
 public:
  explicit RedisStore(std::unique_ptr<RedisClient> client) : client_(std::move(client)) {}

  absl::Status Put(uint64_t key, const std::string& payload) override {
    return client_->Set(service_internal::RedisKey(key), payload);
  }

  absl::Status Get(uint64_t key, uint64_t want_bytes) override {
    if (absl::Status s = client_->Get(service_internal::RedisKey(key), &value_); !s.ok()) return s;
    if (value_.size() != want_bytes) {
      return absl::DataLossError(
          absl::StrCat("redis: value ", key, " has ", value_.size(), " bytes, want ", want_bytes));
    }
    return absl::OkStatus();
  }

  absl::Status GetView(uint64_t key, uint64_t want_bytes, bool* zero_copy) override {
    *zero_copy = false;  // Redis has no shared-memory read: GET into our buffer is the best case
    return Get(key, want_bytes);
  }

  absl::Status Erase(const std::vector<uint64_t>& keys) override {
    std::vector<std::string> batch;
    for (size_t i = 0; i < keys.size(); i += kEraseBatch) {
      batch.clear();
      for (size_t j = i; j < std::min(keys.size(), i + kEraseBatch); ++j) {
        batch.push_back(service_internal::RedisKey(keys[j]));
      }
      if (absl::Status s = client_->Del(batch).status(); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  std::unique_ptr<RedisClient> client_;
  std::string value_;  // reused: the GET destination buffer
};

absl::StatusOr<std::unique_ptr<Store>> Open(const ServiceWorkerOptions& o) {
  if (o.target == ServiceWorkerOptions::Target::kKvstash) {
    absl::StatusOr<std::unique_ptr<Client>> c = Client::Connect(o.address);
    if (!c.ok()) return c.status();
    return std::make_unique<KvstashStore>(*std::move(c), o.block_bytes);
  }
  const size_t colon = o.address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(o.address.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--address: '", o.address, "' is not host:port"));
  }
  absl::StatusOr<std::unique_ptr<RedisClient>> c =
      RedisClient::Connect(o.address.substr(0, colon), port);
  if (!c.ok()) return c.status();
  return std::make_unique<RedisStore>(*std::move(c));
}

// Runs one phase over every key; the answer line for the parent.
absl::StatusOr<std::string> RunPhase(const std::string& phase, Store& store,
                                     const std::vector<uint64_t>& keys,
                                     const std::vector<std::string>& pool, uint64_t bytes) {
  absl::Status status;
  size_t zero_copy = 0;
  const double t0 = Now();
  if (phase == "put") {
    for (size_t i = 0; i < keys.size() && status.ok(); ++i) {
      status = store.Put(keys[i], pool[i % pool.size()]);
    }
  } else if (phase == "get") {
    for (size_t i = 0; i < keys.size() && status.ok(); ++i) status = store.Get(keys[i], bytes);
  } else if (phase == "getview") {
    for (size_t i = 0; i < keys.size() && status.ok(); ++i) {
      bool zc = false;
      status = store.GetView(keys[i], bytes, &zc);
      zero_copy += zc;
    }
  } else if (phase == "erase") {
    status = store.Erase(keys);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown phase '", phase, "'"));
  }
  const double t1 = Now();
  if (!status.ok()) return status;
  return absl::StrFormat("%s %d %d %.9f %.9f %d", phase, keys.size(), keys.size() * bytes, t0, t1,
                         zero_copy);
}

}  // namespace

int RunServiceWorker(const ServiceWorkerOptions& o) {
  auto fail = [](const absl::Status& s) {
    std::cout << "error " << s.message() << std::endl;
    return 1;
  };
  if (o.block_bytes == 0 || o.blocks == 0) {
    return fail(absl::InvalidArgumentError("--block-bytes and --blocks must be positive"));
  }
  const uint64_t bytes = service_internal::PayloadBytes(o.block_bytes);
  const size_t pool_size = std::max<size_t>(1, std::min<size_t>(o.blocks, kPoolBytes / bytes));
  const std::vector<std::string> pool =
      service_internal::MakePayloads(o.block_bytes, pool_size, o.key_base);
  std::vector<uint64_t> keys(o.blocks);
  for (uint64_t i = 0; i < o.blocks; ++i) keys[i] = o.key_base + i;
  absl::StatusOr<std::unique_ptr<Store>> store = Open(o);
  if (!store.ok()) return fail(store.status());
  std::cout << "ready" << std::endl;
  std::string phase;
  while (std::getline(std::cin, phase)) {
    absl::StatusOr<std::string> answer = RunPhase(phase, **store, keys, pool, bytes);
    if (!answer.ok()) return fail(answer.status());
    std::cout << *answer << std::endl;
  }
  return 0;
}

}  // namespace kvstash::bench
