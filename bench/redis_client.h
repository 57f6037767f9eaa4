// A minimal Redis client for the service benchmark's baseline: RESP2 over
// one plain TCP connection, enough for SET, GET, DEL and PING of binary
// values. Large values go out with writev straight from the caller's bytes
// and come back straight into the caller's buffer (no intermediate copy),
// so the client adds as little as possible to Redis's own cost.
//
// Thread safety: none; one client per thread (or process).
#ifndef KVSTASH_BENCH_REDIS_CLIENT_H_
#define KVSTASH_BENCH_REDIS_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace kvstash::bench {

class RedisClient {
 public:
  // Connects to host:port with TCP_NODELAY. Unavailable when nothing listens.
  static absl::StatusOr<std::unique_ptr<RedisClient>> Connect(const std::string& host, int port);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  absl::Status Ping();
  absl::Status Set(absl::string_view key, absl::string_view value);
  // The value into *value (its capacity is reused); NotFound when absent.
  absl::Status Get(absl::string_view key, std::string* value);
  // Pipelined: every command goes out before the first reply is read, so a
  // batch costs one round trip (the fair peer of a batched kvstash call).
  absl::Status SetMany(absl::Span<const std::string> keys,
                       absl::Span<const absl::string_view> values);
  // values->size() becomes keys.size(); each string's capacity is reused.
  absl::Status GetMany(absl::Span<const std::string> keys, std::vector<std::string>* values);
  // Number of keys removed.
  absl::StatusOr<int64_t> Del(absl::Span<const std::string> keys);

 private:
  struct Reply {
    char type = 0;        // '+', '-', ':', '$' (bulk; into the caller's string)
    std::string line;     // simple string, error text or integer digits
    bool is_nil = false;  // "$-1"
  };

  explicit RedisClient(int fd) : fd_(fd) {}
  absl::Status Send(absl::Span<const absl::string_view> args);
  // Reads one reply; a bulk string's bytes go into *bulk (may be null: dropped).
  absl::Status Receive(Reply* reply, std::string* bulk);
  absl::Status ReadLine(std::string* line);
  absl::Status ReadExact(char* dst, size_t n);
  absl::Status Fill();

  const int fd_;
  std::string buf_;  // received bytes; buf_[pos_, end_) not yet consumed
  size_t pos_ = 0;
  size_t end_ = 0;
};

}  // namespace kvstash::bench

#endif  // KVSTASH_BENCH_REDIS_CLIENT_H_
