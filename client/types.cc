#include <cstring>

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

const char* FormatName(Format f) {
  switch (f) {
    case Format::kBf16:
      return "bf16";
    case Format::kFp16:
      return "fp16";
    case Format::kFp8E4M3:
      return "fp8_e4m3";
    case Format::kNvfp4:
      return "nvfp4";
    case Format::kMxfp4:
      return "mxfp4";
  }
  return "?";
}

std::optional<Format> ParseFormatName(const std::string& name) {
  for (Format f :
       {Format::kBf16, Format::kFp16, Format::kFp8E4M3, Format::kNvfp4, Format::kMxfp4}) {
    if (name == FormatName(f)) return f;
  }
  if (name == "f16") return Format::kFp16;
  if (name == "fp8") return Format::kFp8E4M3;
  return std::nullopt;
}

}  // namespace kvstash
