// Memory registration for the UCX transport (ucx_transport_internal.h):
// ucp_mem_map of host memory (or of the pinned staging copy of device
// memory), the packed remote key peers use, and the table transfers look
// their local buffers up in.
#include "absl/strings/str_cat.h"
#include "transport/ucx_transport_internal.h"
#include "transport/ucx_wire.h"

namespace kvstash::transport::ucx_internal {
namespace {

class UcxRegistration final : public Registration {
 public:
  UcxRegistration(void* base, size_t length, MemoryKind kind, std::string remote_key,
                  std::shared_ptr<MemRecord> record, std::shared_ptr<RegistrationTable> table)
      : Registration(base, length, kind, std::move(remote_key)),
        record_(std::move(record)),
        table_(std::move(table)) {}
  ~UcxRegistration() override { table_->Erase(record_->base); }

 private:
  const std::shared_ptr<MemRecord> record_;
  const std::shared_ptr<RegistrationTable> table_;
};

}  // namespace

absl::Status RegistrationTable::Insert(std::shared_ptr<MemRecord> record) {
  MutexLock l(&mu_);
  auto next = by_base_.lower_bound(record->base);
  if (next != by_base_.end() && next->first < record->base + record->length) {
    return absl::AlreadyExistsError(absl::StrCat("memory at 0x", absl::Hex(record->base),
                                                 " overlaps a registered region at 0x",
                                                 absl::Hex(next->first)));
  }
  if (next != by_base_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second->length > record->base) {
      return absl::AlreadyExistsError(absl::StrCat("memory at 0x", absl::Hex(record->base),
                                                   " overlaps a registered region at 0x",
                                                   absl::Hex(prev->first)));
    }
  }
  by_base_.emplace(record->base, std::move(record));
  return absl::OkStatus();
}

void RegistrationTable::Erase(uintptr_t base) {
  std::shared_ptr<MemRecord> doomed;  // unmapped outside the lock, if last
  MutexLock l(&mu_);
  auto it = by_base_.find(base);
  if (it == by_base_.end()) return;
  doomed = std::move(it->second);
  by_base_.erase(it);
}

absl::StatusOr<std::shared_ptr<MemRecord>> RegistrationTable::Find(uintptr_t addr,
                                                                   size_t length) const {
  ReaderMutexLock l(&mu_);
  auto it = by_base_.upper_bound(addr);
  if (it == by_base_.begin()) return nullptr;
  --it;
  const MemRecord& r = *it->second;
  if (addr >= r.base + r.length) return nullptr;
  if (length > r.base + r.length - addr) {
    return absl::InvalidArgumentError(absl::StrCat("local range [0x", absl::Hex(addr), ", +",
                                                   length, ") runs past its registered region [0x",
                                                   absl::Hex(r.base), ", +", r.length, ")"));
  }
  return it->second;
}

absl::StatusOr<std::unique_ptr<Registration>> UcxTransport::Register(void* addr, size_t length,
                                                                     MemoryKind kind) {
  if (addr == nullptr || length == 0) {
    return absl::InvalidArgumentError("register: null address or zero length");
  }
  return Map(addr, length, kind);
}

absl::StatusOr<std::unique_ptr<Registration>> UcxTransport::Allocate(size_t length,
                                                                     MemoryKind kind) {
  if (length == 0) return absl::InvalidArgumentError("allocate: zero length");
  if (kind != MemoryKind::kHost) {
    return absl::UnimplementedError(absl::StrCat(caps().name, " allocates host memory only"));
  }
  return Map(nullptr, length, kind);
}

absl::StatusOr<std::unique_ptr<Registration>> UcxTransport::Map(void* addr, size_t length,
                                                                MemoryKind kind) {
  auto record = std::make_shared<MemRecord>();
  record->length = length;
  record->kind = kind;
  void* mapped = addr;
  if (kind == MemoryKind::kDevice) {
    if (absl::Status s = staging::Available(); !s.ok()) {
      return absl::UnimplementedError(absl::StrCat(caps().name, ": ", s.message()));
    }
    absl::StatusOr<std::unique_ptr<staging::PinnedBuffer>> pinned = staging::AllocatePinned(length);
    if (!pinned.ok()) return pinned.status();
    record->staging = std::move(*pinned);
    mapped = record->staging->data();
  }
  ucp_mem_map_params_t mp{};
  mp.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH;
  mp.address = mapped;
  mp.length = length;
  if (mapped == nullptr) {  // UCX allocates (shared memory where a transport has it)
    mp.field_mask |= UCP_MEM_MAP_PARAM_FIELD_FLAGS;
    mp.flags = UCP_MEM_MAP_ALLOCATE;
  }
  ucp_mem_h memh = nullptr;
  if (ucs_status_t s = ucp_mem_map(context_->get(), &mp, &memh); s != UCS_OK) {
    return UcsError(s, absl::StrCat("ucp_mem_map of ", length, " bytes"));
  }
  record->mapping = std::make_unique<MemMapping>(context_, memh);  // unmaps (and frees) it
  if (addr == nullptr) {
    ucp_mem_attr_t attr{};
    attr.field_mask = UCP_MEM_ATTR_FIELD_ADDRESS | UCP_MEM_ATTR_FIELD_LENGTH;
    if (ucs_status_t s = ucp_mem_query(memh, &attr); s != UCS_OK) {
      return UcsError(s, "ucp_mem_query");
    }
    addr = attr.address;
  }
  record->base = reinterpret_cast<uintptr_t>(addr);
  std::string key;  // staged device memory is local-only: no key
  if (kind == MemoryKind::kHost) {
    void* packed = nullptr;
    size_t packed_len = 0;
    if (ucs_status_t s = ucp_rkey_pack(context_->get(), memh, &packed, &packed_len); s != UCS_OK) {
      return UcsError(s, "ucp_rkey_pack");
    }
    WireKey k;
    k.issuer = instance_;
    k.base = record->base;
    k.length = length;
    k.packed_rkey.assign(static_cast<const char*>(packed), packed_len);
    ucp_rkey_buffer_release(packed);
    key = EncodeKey(k);
  }
  if (absl::Status s = registrations_->Insert(record); !s.ok()) return s;
  return std::unique_ptr<Registration>(
      new UcxRegistration(addr, length, kind, std::move(key), std::move(record), registrations_));
}

}  // namespace kvstash::transport::ucx_internal
