#include "transport/ucx_wire.h"

#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kvstash::transport::ucx_internal {
namespace {

constexpr char kAddressMagic[4] = {'K', 'V', 'S', 'U'};
constexpr char kKeyMagic[4] = {'K', 'V', 'S', 'K'};
constexpr uint8_t kVersion = 1;
constexpr size_t kAddressFixed = 4 + 4 + 8 + 8 + 8 + 4 + 8 + 4 + 8;  // + worker address
constexpr size_t kKeyFixed = 4 + 4 + 8 + 8 + 8 + 4 + 8;              // + packed rkey
constexpr uint32_t kMaxBlob = 1 << 20;

template <typename T>
void Append(std::string* out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // x86-64 and aarch64 are little-endian
  out->append(b, sizeof(T));
}

// Reads fixed-size fields front to back; the caller checked the total size.
class Reader {
 public:
  explicit Reader(absl::string_view s) : s_(s) {}
  template <typename T>
  T Next() {
    T v;
    std::memcpy(&v, s_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  absl::string_view Bytes(size_t n) {
    absl::string_view v = s_.substr(pos_, n);
    pos_ += n;
    return v;
  }

 private:
  absl::string_view s_;
  size_t pos_ = 0;
};

void Seal(std::string* out) { Append<uint64_t>(out, XXH3_64bits(out->data(), out->size())); }

// Size, magic, version and checksum of a blob of `fixed` + variable bytes.
absl::Status CheckEnvelope(absl::string_view blob, const char (&magic)[4], size_t fixed,
                           const char* what) {
  if (blob.size() < fixed) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", blob.size(), " bytes, shorter than the ", fixed, "-byte minimum"));
  }
  if (std::memcmp(blob.data(), magic, 4) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": bad magic (not a kvstash UCX blob)"));
  }
  if (static_cast<uint8_t>(blob[4]) != kVersion) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": version ",
                                                   static_cast<int>(static_cast<uint8_t>(blob[4])),
                                                   ", expected ", static_cast<int>(kVersion)));
  }
  uint64_t sum;
  std::memcpy(&sum, blob.data() + blob.size() - 8, 8);
  if (sum != XXH3_64bits(blob.data(), blob.size() - 8)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": checksum mismatch (corrupt blob)"));
  }
  return absl::OkStatus();
}

absl::Status CheckLength(uint32_t declared, size_t total, size_t fixed, const char* what) {
  if (declared > kMaxBlob || fixed + declared != total) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": declares ", declared, " variable bytes but carries ", total - fixed));
  }
  return absl::OkStatus();
}

}  // namespace

std::string EncodeAddress(const WireAddress& a) {
  std::string out(kAddressMagic, 4);
  out.push_back(static_cast<char>(kVersion));
  out.append(3, '\0');
  Append<uint64_t>(&out, a.instance);
  Append<uint64_t>(&out, a.process.boot);
  Append<uint64_t>(&out, a.process.pid_ns);
  Append<uint32_t>(&out, a.process.pid);
  Append<uint64_t>(&out, a.process.start_ticks);
  Append<uint32_t>(&out, static_cast<uint32_t>(a.worker_address.size()));
  out += a.worker_address;
  Seal(&out);
  return out;
}

absl::StatusOr<WireAddress> DecodeAddress(absl::string_view blob) {
  constexpr const char* kWhat = "peer address";
  if (absl::Status s = CheckEnvelope(blob, kAddressMagic, kAddressFixed, kWhat); !s.ok()) return s;
  Reader r(blob);
  r.Bytes(8);
  WireAddress a;
  a.instance = r.Next<uint64_t>();
  a.process.boot = r.Next<uint64_t>();
  a.process.pid_ns = r.Next<uint64_t>();
  a.process.pid = r.Next<uint32_t>();
  a.process.start_ticks = r.Next<uint64_t>();
  const uint32_t n = r.Next<uint32_t>();
  if (absl::Status s = CheckLength(n, blob.size(), kAddressFixed, kWhat); !s.ok()) return s;
  if (n == 0) return absl::InvalidArgumentError("peer address: empty UCX worker address");
  a.worker_address = std::string(r.Bytes(n));
  return a;
}

std::string EncodeKey(const WireKey& k) {
  std::string out(kKeyMagic, 4);
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(k.memory_kind));
  out.append(2, '\0');
  Append<uint64_t>(&out, k.issuer);
  Append<uint64_t>(&out, k.base);
  Append<uint64_t>(&out, k.length);
  Append<uint32_t>(&out, static_cast<uint32_t>(k.packed_rkey.size()));
  out += k.packed_rkey;
  Seal(&out);
  return out;
}

absl::StatusOr<WireKey> DecodeKey(absl::string_view blob) {
  constexpr const char* kWhat = "remote key";
  if (absl::Status s = CheckEnvelope(blob, kKeyMagic, kKeyFixed, kWhat); !s.ok()) return s;
  Reader r(blob);
  r.Bytes(5);
  WireKey k;
  k.memory_kind = r.Next<uint8_t>();
  r.Bytes(2);
  k.issuer = r.Next<uint64_t>();
  k.base = r.Next<uint64_t>();
  k.length = r.Next<uint64_t>();
  const uint32_t n = r.Next<uint32_t>();
  if (absl::Status s = CheckLength(n, blob.size(), kKeyFixed, kWhat); !s.ok()) return s;
  if (n == 0) return absl::InvalidArgumentError("remote key: empty packed UCX rkey");
  if (k.base + k.length < k.base) {
    return absl::InvalidArgumentError("remote key: region wraps around the address space");
  }
  k.packed_rkey = std::string(r.Bytes(n));
  return k;
}

namespace {

// Field 22 (starttime) of /proc/<pid>/stat, and whether the process is a
// zombie; false when the file is gone.
bool ReadStat(uint32_t pid, uint64_t* start_ticks, bool* zombie) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos) return false;
  std::vector<absl::string_view> f = absl::StrSplit(absl::string_view(stat).substr(paren + 2), ' ');
  // f[0] is field 3 (state), so field 22 is f[19].
  if (f.size() < 20 || !absl::SimpleAtoi(f[19], start_ticks)) return false;
  *zombie = f[0] == "Z" || f[0] == "X";
  return true;
}

ProcessIdentity ComputeSelf() {
  ProcessIdentity p;
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string id((std::istreambuf_iterator<char>(boot)), std::istreambuf_iterator<char>());
  p.boot = XXH3_64bits(id.data(), id.size());
  struct stat ns;
  if (stat("/proc/self/ns/pid", &ns) == 0) p.pid_ns = ns.st_ino;
  p.pid = static_cast<uint32_t>(getpid());
  bool zombie;
  if (!ReadStat(p.pid, &p.start_ticks, &zombie)) p.start_ticks = 0;
  return p;
}

}  // namespace

const ProcessIdentity& ProcessIdentity::Self() {
  static const ProcessIdentity self = ComputeSelf();
  return self;
}

bool ProcessIsGone(const ProcessIdentity& p) {
  const ProcessIdentity& self = ProcessIdentity::Self();
  if (p.boot != self.boot || p.pid_ns != self.pid_ns || p.pid == 0 || p.start_ticks == 0) {
    return false;  // another host or namespace: not ours to judge
  }
  uint64_t start = 0;
  bool zombie = false;
  if (!ReadStat(p.pid, &start, &zombie)) return true;
  return zombie || start != p.start_ticks;
}

uint64_t NewInstanceId() {
  std::random_device rd;
  uint64_t id = 0;
  while (id == 0) id = (uint64_t{rd()} << 32) ^ rd();
  return id;
}

}  // namespace kvstash::transport::ucx_internal
