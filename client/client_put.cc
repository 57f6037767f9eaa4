// Puts: inline through the socket, or through put windows (zero-copy).
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/client_impl.h"
#include "client/wire.h"
#include "tiers/block.h"

namespace kvstash {
namespace {

constexpr uint64_t kMinWindowBytes = uint64_t{64} << 20;
constexpr uint64_t kMaxWindowBytes = uint64_t{1} << 30;  // the node's default per-window limit
constexpr uint64_t kWindowGranule = uint64_t{2} << 20;
constexpr uint64_t kRegionAlign = 64;  // regions start on cache lines
constexpr size_t kPooledWindows = 4;   // free windows kept mapped for reuse

uint64_t RoundUp(uint64_t x, uint64_t to) { return (x + to - 1) / to * to; }

absl::StatusOr<uint64_t> PayloadBytes(const PutBlock& b, size_t i) {
  const kernels::KvGeometry g{b.geometry.layers, b.geometry.kv_heads, b.geometry.head_dim,
                              b.geometry.block_tokens, b.geometry.planes};
  absl::StatusOr<uint64_t> n = tiers::PayloadBytesFor(static_cast<kernels::Format>(b.format), g);
  if (!n.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("blocks[", i, "].geometry: ", n.status().message()));
  }
  return *n;
}

}  // namespace

struct PutBuffers::State {
  std::vector<PutBlock> blocks;            // metadata; `payload` unused
  std::vector<std::vector<float>> scales;  // owned copies; blocks[i].scales points here
  std::vector<uint64_t> offsets;           // of each region, in the window or private bytes
  std::vector<std::span<uint8_t>> regions;
  std::optional<MappedWindow> window;
  std::vector<uint8_t> private_bytes;  // without a window
  std::function<void(MappedWindow)> release;
  ~State() {
    if (window && release) release(*window);
  }
};

PutBuffers::PutBuffers(std::unique_ptr<State> state) : state_(std::move(state)) {}
PutBuffers::PutBuffers(PutBuffers&&) noexcept = default;
PutBuffers& PutBuffers::operator=(PutBuffers&&) noexcept = default;
PutBuffers::~PutBuffers() = default;
size_t PutBuffers::size() const { return state_->regions.size(); }
std::span<uint8_t> PutBuffers::operator[](size_t i) const { return state_->regions[i]; }
bool PutBuffers::zero_copy() const { return state_->window.has_value(); }

absl::StatusOr<MappedWindow> Client::Impl::AcquireWindow(uint64_t bytes) {
  {
    MutexLock lock(&pool_mu);
    auto best = free_windows.end();
    for (auto it = free_windows.begin(); it != free_windows.end(); ++it) {
      if (it->bytes >= bytes && (best == free_windows.end() || it->bytes < best->bytes)) best = it;
    }
    if (best != free_windows.end()) {
      MappedWindow w = *best;
      free_windows.erase(best);
      return w;
    }
  }
  const uint64_t size = std::max(kMinWindowBytes, RoundUp(bytes, kWindowGranule));
  return Invoke<MappedWindow>([this, size](proto::Node::Client& node) {
    auto req = node.putWindowRequest();
    req.setBytes(size);
    proto::PutWindow::Client window = req.send().getWindow();
    auto fd = window.getFd();
    return fd.then([this, window = kj::mv(window),
                    size](kj::Maybe<int> fd) mutable -> absl::StatusOr<MappedWindow> {
      int raw = -1;
      KJ_IF_MAYBE (f, fd) {
        raw = *f;
      }
      if (raw < 0) return absl::FailedPreconditionError("kvstashd did not pass a put window fd");
      // The mapping keeps the memory; the fd may close with the capability.
      void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, raw, 0);
      if (p == MAP_FAILED) {
        return absl::UnavailableError(
            absl::StrCat("cannot map a kvstashd put window: ", strerror(errno)));
      }
      const uint64_t id = next_window++;
      windows.emplace(id, kj::mv(window));
      return MappedWindow{id, static_cast<uint8_t*>(p), size};
    });
  });
}

void Client::Impl::ReleaseWindow(MappedWindow w) {
  {
    MutexLock lock(&pool_mu);
    if (free_windows.size() < kPooledWindows) {
      free_windows.push_back(w);
      return;
    }
  }
  CloseWindow(w);
}

void Client::Impl::CloseWindow(const MappedWindow& w) {
  ::munmap(w.base, w.bytes);
  if (!alive) return;
  try {
    executor->executeSync([this, id = w.id] { windows.erase(id); });
  } catch (const kj::Exception&) {
    // The connection is gone; so is the node's window.
  }
}

absl::StatusOr<PutBuffers> Client::ReservePut(std::span<const PutBlock> blocks) {
  auto st = std::make_unique<PutBuffers::State>();
  st->blocks.assign(blocks.begin(), blocks.end());
  st->scales.resize(blocks.size());
  uint64_t total = 0;
  std::vector<uint64_t> sizes(blocks.size());
  for (size_t i = 0; i < blocks.size(); ++i) {
    absl::StatusOr<uint64_t> n = PayloadBytes(blocks[i], i);
    if (!n.ok()) return n.status();
    sizes[i] = *n;
    st->offsets.push_back(total);
    total = RoundUp(total + *n, kRegionAlign);
    st->scales[i].assign(blocks[i].scales.begin(), blocks[i].scales.end());
    st->blocks[i].scales = st->scales[i];
    st->blocks[i].payload = {};
  }
  uint8_t* base = nullptr;
  if (impl_->unix_socket && total > 0 && total <= kMaxWindowBytes) {
    absl::StatusOr<MappedWindow> w = impl_->AcquireWindow(total);
    // Out of window budget: fall back to private memory and an inline put.
    if (!w.ok() && !absl::IsResourceExhausted(w.status())) return w.status();
    if (w.ok()) {
      st->window = *w;
      base = w->base;
      Impl* impl = impl_.get();
      st->release = [impl](MappedWindow m) { impl->ReleaseWindow(m); };
    }
  }
  if (base == nullptr) {
    st->private_bytes.resize(total);
    base = st->private_bytes.data();
  }
  for (size_t i = 0; i < blocks.size(); ++i)
    st->regions.emplace_back(base + st->offsets[i], sizes[i]);
  return PutBuffers(std::move(st));
}

absl::StatusOr<size_t> Client::CommitPut(PutBuffers buffers) {
  PutBuffers::State* st = buffers.state_.get();
  Impl* impl = impl_.get();
  if (!st->window) {  // inline through the socket
    return impl->Invoke<size_t>([st](proto::Node::Client& node) {
      auto req = node.putRequest();
      auto list = req.initBlocks(static_cast<unsigned>(st->blocks.size()));
      for (size_t i = 0; i < st->blocks.size(); ++i) {
        PutBlock b = st->blocks[i];
        b.payload = st->regions[i];
        wire::PutToProto(b, list[i]);
      }
      return req.send().then([](auto resp) { return absl::StatusOr<size_t>(resp.getStored()); });
    });
  }
  return impl->Invoke<size_t>(
      [impl, st](proto::Node::Client&) -> kj::Promise<absl::StatusOr<size_t>> {
        auto it = impl->windows.find(st->window->id);
        if (it == impl->windows.end()) {
          return absl::StatusOr<size_t>(absl::UnavailableError("the put window is closed"));
        }
        auto req = it->second.commitRequest();
        auto list = req.initBlocks(static_cast<unsigned>(st->blocks.size()));
        for (size_t i = 0; i < st->blocks.size(); ++i) {
          wire::PutToProto(st->blocks[i], list[i]);
          list[i].setWindowOffset(st->offsets[i]);
        }
        return req.send().then([](auto resp) { return absl::StatusOr<size_t>(resp.getStored()); });
      });
}

namespace {

// Whether every payload fits its reserved region; if not, the inline path
// lets the node name the bad field, exactly as for any other client.
bool PayloadsFit(std::span<const PutBlock> blocks, const PutBuffers& buffers) {
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (blocks[i].payload.size() != buffers[i].size()) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<size_t> Client::Put(std::span<const PutBlock> blocks) {
  if (impl_->unix_socket) {
    absl::StatusOr<PutBuffers> buffers = ReservePut(blocks);
    if (buffers.ok() && buffers->zero_copy() && PayloadsFit(blocks, *buffers)) {
      for (size_t i = 0; i < blocks.size(); ++i) {
        std::memcpy((*buffers)[i].data(), blocks[i].payload.data(), blocks[i].payload.size());
      }
      return CommitPut(*std::move(buffers));
    }
    if (!buffers.ok() && !absl::IsInvalidArgument(buffers.status())) return buffers.status();
  }
  return impl_->Invoke<size_t>([blocks](proto::Node::Client& node) {
    auto req = node.putRequest();
    auto list = req.initBlocks(static_cast<unsigned>(blocks.size()));
    for (size_t i = 0; i < blocks.size(); ++i) wire::PutToProto(blocks[i], list[i]);
    return req.send().then([](auto resp) { return absl::StatusOr<size_t>(resp.getStored()); });
  });
}

}  // namespace kvstash
