// Test helpers for engine KV-event payloads: a msgpack builder over
// msgpack-cxx (an encoder independent of the router's own reader) and the
// captured fixtures in the shared data tree. Tests only.
#ifndef KVSTASH_SERVICE_ROUTER_EVENT_PAYLOADS_TESTING_H_
#define KVSTASH_SERVICE_ROUTER_EVENT_PAYLOADS_TESTING_H_

#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "msgpack.hpp"

namespace kvstash::router::router_testing {

// KVSTASH_VLLM_EVENTS_DIR is set by CMake to <repo>/../shared/data/vllm_events.
inline constexpr char kFixtureDir[] = KVSTASH_VLLM_EVENTS_DIR;
inline constexpr char kMapRemoved[] = "vllm-0.28.0_seq223_removed.msgpack";
inline constexpr char kMapRemovedStored[] = "vllm-0.28.0_seq234_removed_stored.msgpack";
inline constexpr char kArrayStored[] = "vllm-array-form_stored.msgpack";

inline std::optional<std::string> ReadFixture(const char* name) {
  std::ifstream in(std::string(kFixtureDir) + "/" + name, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

#define KVSTASH_LOAD_FIXTURE_OR_SKIP(var, name)                                          \
  std::optional<std::string> var = ::kvstash::router::router_testing::ReadFixture(name); \
  if (!var.has_value()) {                                                                \
    GTEST_SKIP() << "fixture " << name << " not found in "                               \
                 << ::kvstash::router::router_testing::kFixtureDir                       \
                 << " (the shared data tree is not next to this checkout)";              \
  }

// Pack().Array(3).F64(1.0).Array(0).Nil().str() == msgpack of [1.0, [], nil].
class Pack {
 public:
  Pack& Array(uint32_t n) {
    return Do([&] { pk_.pack_array(n); });
  }
  Pack& Map(uint32_t n) {
    return Do([&] { pk_.pack_map(n); });
  }
  Pack& Str(const std::string& s) {
    return Do([&] { pk_.pack(s); });
  }
  Pack& U64(uint64_t v) {
    return Do([&] { pk_.pack_fix_uint64(v); });
  }  // always 0xcf
  Pack& I64(int64_t v) {
    return Do([&] { pk_.pack_fix_int64(v); });
  }  // always 0xd3
  Pack& Int(int64_t v) {
    return Do([&] { pk_.pack(v); });
  }  // smallest form
  // msgpack-cxx packs a double with an integral value (2.0) as an int.
  Pack& F64(double v) {
    return Do([&] { pk_.pack_double(v); });
  }
  Pack& Nil() {
    return Do([&] { pk_.pack_nil(); });
  }
  Pack& Bin(const std::string& b) {
    return Do([&] {
      pk_.pack_bin(static_cast<uint32_t>(b.size()));
      pk_.pack_bin_body(b.data(), static_cast<uint32_t>(b.size()));
    });
  }
  Pack& Raw(const std::string& bytes) {
    return Do([&] { buf_.write(bytes.data(), bytes.size()); });
  }
  std::string str() const { return std::string(buf_.data(), buf_.size()); }

 private:
  template <typename F>
  Pack& Do(F f) {
    f();
    return *this;
  }
  msgpack::sbuffer buf_;
  msgpack::packer<msgpack::sbuffer> pk_{buf_};
};

}  // namespace kvstash::router::router_testing

#endif  // KVSTASH_SERVICE_ROUTER_EVENT_PAYLOADS_TESTING_H_
