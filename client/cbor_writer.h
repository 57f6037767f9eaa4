// Minimal canonical CBOR (RFC 8949 "core deterministic" encoding) writer:
// just what vLLM's sha256_cbor hashes need: unsigned ints, text and byte
// strings, arrays and null, always in their shortest head form.
#ifndef KVSTASH_CLIENT_CBOR_WRITER_H_
#define KVSTASH_CLIENT_CBOR_WRITER_H_

#include <cstdint>
#include <string_view>
#include <vector>

namespace kvstash::client_internal {

class CborWriter {
 public:
  void Uint(uint64_t v) { Head(0, v); }
  void Bytes(const uint8_t* p, size_t n) {
    Head(2, n);
    out_.insert(out_.end(), p, p + n);
  }
  void Text(std::string_view s) {
    Head(3, s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void Array(size_t n) { Head(4, n); }
  void Null() { out_.push_back(0xf6); }
  const std::vector<uint8_t>& bytes() const { return out_; }
  void Clear() { out_.clear(); }

 private:
  void Head(uint8_t major, uint64_t v) {
    const uint8_t m = static_cast<uint8_t>(major << 5);
    if (v < 24) {
      out_.push_back(m | static_cast<uint8_t>(v));
      return;
    }
    int bytes = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
    out_.push_back(m | static_cast<uint8_t>(bytes == 1   ? 24
                                            : bytes == 2 ? 25
                                            : bytes == 4 ? 26
                                                         : 27));
    for (int i = bytes - 1; i >= 0; --i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> out_;
};

}  // namespace kvstash::client_internal

#endif  // KVSTASH_CLIENT_CBOR_WRITER_H_
