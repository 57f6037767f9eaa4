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

// One client connection: kvstashd or Redis. Every call moves one batch of
// blocks in one round trip (kvstash batched calls; Redis pipelining).
class Store {
 public:
  virtual ~Store() = default;
  virtual absl::Status Put(absl::Span<const uint64_t> keys,
                           absl::Span<const absl::string_view> payloads) = 0;
  virtual absl::Status Get(absl::Span<const uint64_t> keys, uint64_t want_bytes) = 0;
  // A read in place where the store offers one (kvstashd's shared arena),
  // then one memcpy into the caller's buffer: the bytes must land somewhere
  // for the figure to mean anything. Adds to *zero_copy the blocks that no
  // socket copy carried.
  virtual absl::Status GetView(absl::Span<const uint64_t> keys, uint64_t want_bytes,
                               size_t* zero_copy) = 0;
  virtual absl::Status Erase(const std::vector<uint64_t>& keys) = 0;
};

absl::Status CheckSize(const char* who, uint64_t key, size_t got, uint64_t want) {
  if (got == want) return absl::OkStatus();
  return absl::DataLossError(
      absl::StrCat(who, ": block ", key, " has ", got, " bytes, want ", want));
}

class KvstashStore final : public Store {
 public:
  KvstashStore(std::unique_ptr<Client> client, uint64_t bytes)
      : client_(std::move(client)), geometry_(service_internal::GeometryFor(bytes)) {}

  absl::Status Put(absl::Span<const uint64_t> keys,
                   absl::Span<const absl::string_view> payloads) override {
    std::vector<PutBlock> batch(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      PutBlock& b = batch[i];
      b.key = Key::FromU64(keys[i]);
      b.format = Format::kNvfp4;
      b.geometry = {geometry_.layers, geometry_.kv_heads, geometry_.head_dim,
                    geometry_.block_tokens, geometry_.planes};
      b.scales = service_internal::kScales;
      b.payload = {reinterpret_cast<const uint8_t*>(payloads[i].data()), payloads[i].size()};
    }
    return client_->Put(batch).status();
  }

  absl::Status Get(absl::Span<const uint64_t> keys, uint64_t want_bytes) override {
    const std::vector<Key> k = Keys(keys);
    absl::StatusOr<std::vector<std::optional<Block>>> r = client_->Get(k, Format::kNvfp4);
    if (!r.ok()) return r.status();
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!(*r)[i].has_value()) {
        return absl::NotFoundError(absl::StrCat("kvstashd: block ", keys[i], " missing"));
      }
      if (absl::Status s = CheckSize("kvstashd", keys[i], (*r)[i]->payload.size(), want_bytes);
          !s.ok())
        return s;
    }
    return absl::OkStatus();
  }

  absl::Status GetView(absl::Span<const uint64_t> keys, uint64_t want_bytes,
                       size_t* zero_copy) override {
    const std::vector<Key> k = Keys(keys);
    absl::StatusOr<BlockViews> r = client_->GetViews(k, Format::kNvfp4);
    if (!r.ok()) return r.status();
    dst_.resize(want_bytes * keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      const BlockView& v = (*r)[i];
      if (v.tier == Tier::kNone) {
        return absl::NotFoundError(absl::StrCat("kvstashd: block ", keys[i], " missing"));
      }
      if (absl::Status s = CheckSize("kvstashd", keys[i], v.payload.size(), want_bytes); !s.ok())
        return s;
      std::memcpy(dst_.data() + i * want_bytes, v.payload.data(), want_bytes);
      *zero_copy += v.zero_copy;
    }
    return absl::OkStatus();
  }

  absl::Status Erase(const std::vector<uint64_t>& keys) override {
    for (size_t i = 0; i < keys.size(); i += kEraseBatch) {
      const size_t n = std::min(keys.size() - i, kEraseBatch);
      if (absl::Status s = client_->Erase(Keys(absl::MakeConstSpan(keys).subspan(i, n))).status();
          !s.ok())
        return s;
    }
    return absl::OkStatus();
  }

 private:
  static std::vector<Key> Keys(absl::Span<const uint64_t> keys) {
    std::vector<Key> out;
    out.reserve(keys.size());
    for (uint64_t k : keys) out.push_back(Key::FromU64(k));
    return out;
  }

  std::unique_ptr<Client> client_;
  const kernels::KvGeometry geometry_;
  std::string dst_;  // reused: where GetView copies to
};

class RedisStore final : public Store {
 public:
  explicit RedisStore(std::unique_ptr<RedisClient> client) : client_(std::move(client)) {}

  absl::Status Put(absl::Span<const uint64_t> keys,
                   absl::Span<const absl::string_view> payloads) override {
    return client_->SetMany(Names(keys), payloads);
  }

  absl::Status Get(absl::Span<const uint64_t> keys, uint64_t want_bytes) override {
    if (absl::Status s = client_->GetMany(Names(keys), &values_); !s.ok()) return s;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (absl::Status s = CheckSize("redis", keys[i], values_[i].size(), want_bytes); !s.ok())
        return s;
    }
    return absl::OkStatus();
  }

  // Redis has no shared-memory read: GET into our buffers is its best case.
  absl::Status GetView(absl::Span<const uint64_t> keys, uint64_t want_bytes,
                       size_t* zero_copy) override {
    return Get(keys, want_bytes);
  }

  absl::Status Erase(const std::vector<uint64_t>& keys) override {
    for (size_t i = 0; i < keys.size(); i += kEraseBatch) {
      const size_t n = std::min(keys.size() - i, kEraseBatch);
      if (absl::Status s = client_->Del(Names(absl::MakeConstSpan(keys).subspan(i, n))).status();
          !s.ok())
        return s;
    }
    return absl::OkStatus();
  }

 private:
  static std::vector<std::string> Names(absl::Span<const uint64_t> keys) {
    std::vector<std::string> out;
    out.reserve(keys.size());
    for (uint64_t k : keys) out.push_back(service_internal::RedisKey(k));
    return out;
  }

  std::unique_ptr<RedisClient> client_;
  std::vector<std::string> values_;  // reused: the GET destination buffers
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

// A long-lived engine maps the node's arena once and keeps its page tables;
// a fresh worker process would instead pay one page fault per 64 KiB of
// arena on its first read. One untimed pass over the keys gets the worker to
// that steady state before GetView is timed.
absl::Status Warm(Store& store, const std::vector<uint64_t>& keys, uint64_t bytes, size_t batch) {
  size_t ignored = 0;
  for (size_t i = 0; i < keys.size(); i += batch) {
    const absl::Span<const uint64_t> part =
        absl::MakeConstSpan(keys).subspan(i, std::min(batch, keys.size() - i));
    if (absl::Status s = store.GetView(part, bytes, &ignored); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// Runs one phase over every key, `batch` keys per call; the answer line for
// the parent.
absl::StatusOr<std::string> RunPhase(const std::string& phase, Store& store,
                                     const std::vector<uint64_t>& keys,
                                     const std::vector<std::string>& pool, uint64_t bytes,
                                     size_t batch) {
  absl::Status status;
  size_t zero_copy = 0;
  std::vector<absl::string_view> payloads;
  if (phase == "getview") {  // steady state: see Warm()
    if (absl::Status s = Warm(store, keys, bytes, batch); !s.ok()) return s;
  }
  const double t0 = Now();
  if (phase == "erase") {
    status = store.Erase(keys);
  } else if (phase == "put" || phase == "get" || phase == "getview") {
    for (size_t i = 0; i < keys.size() && status.ok(); i += batch) {
      const absl::Span<const uint64_t> part =
          absl::MakeConstSpan(keys).subspan(i, std::min(batch, keys.size() - i));
      if (phase == "put") {
        payloads.clear();
        for (size_t j = 0; j < part.size(); ++j) payloads.push_back(pool[(i + j) % pool.size()]);
        status = store.Put(part, payloads);
      } else if (phase == "get") {
        status = store.Get(part, bytes);
      } else {
        status = store.GetView(part, bytes, &zero_copy);
      }
    }
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
    absl::StatusOr<std::string> answer =
        RunPhase(phase, **store, keys, pool, bytes, std::max<size_t>(1, o.batch));
    if (!answer.ok()) return fail(answer.status());
    std::cout << *answer << std::endl;
  }
  return 0;
}

}  // namespace kvstash::bench
