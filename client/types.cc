#include <cstring>

#include "kernels/codec.h"
#include "kvstash/client.h"

namespace kvstash {

Key Key::FromU64(uint64_t hash, uint64_t ns) {
  Key k;
  k.ns = ns;
  for (int i = 0; i < 8; ++i) k.digest[i] = static_cast<uint8_t>(hash >> (8 * i));
  k.digest_bytes = 8;
  return k;
}

Key Key::FromDigest(const Sha256Digest& digest, uint64_t ns) {
  Key k;
  k.ns = ns;
  std::memcpy(k.digest.data(), digest.data(), digest.size());
  k.digest_bytes = 32;
  return k;
}

const char* TierName(Tier t) {
  switch (t) {
    case Tier::kNone:
      return "none";
    case Tier::kDevice:
      return "device";
    case Tier::kHost:
      return "host";
    case Tier::kDisk:
      return "disk";
    case Tier::kRemote:
      return "remote";
  }
  return "?";
}

// The public enum mirrors kernels::Format value for value (static_asserts below).
const char* FormatName(Format f) {
  // kernels::FormatName returns views of string literals: NUL-terminated.
  return kernels::FormatName(static_cast<kernels::Format>(f)).data();
}

std::optional<Format> ParseFormatName(const std::string& name) {
  absl::StatusOr<kernels::Format> f = kernels::ParseFormat(name);
  if (!f.ok()) return std::nullopt;
  return static_cast<Format>(*f);
}

static_assert(static_cast<int>(Format::kBf16) == static_cast<int>(kernels::Format::kBf16));
static_assert(static_cast<int>(Format::kFp16) == static_cast<int>(kernels::Format::kFp16));
static_assert(static_cast<int>(Format::kFp8E4M3) == static_cast<int>(kernels::Format::kFp8E4M3));
static_assert(static_cast<int>(Format::kNvfp4) == static_cast<int>(kernels::Format::kNvfp4));
static_assert(static_cast<int>(Format::kMxfp4) == static_cast<int>(kernels::Format::kMxfp4));

}  // namespace kvstash
