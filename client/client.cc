#include "kvstash/client.h"

#include <capnp/rpc-twoparty.h>
#include <fcntl.h>
#include <kj/async-io.h>
#include <kj/io.h>
#include <kj/thread.h>
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/client_impl.h"
#include "client/wire.h"
#include "common/mutex.h"
#include "proto/node.capnp.h"
#include "proto/status_wire.h"

namespace kvstash {

void Client::Impl::Run() {
  try {
    kj::AsyncIoContext io = kj::setupAsyncIo();
    executor = &kj::getCurrentThreadExecutor();
    auto stopped = kj::newPromiseAndFulfiller<void>();
    stop = kj::mv(stopped.fulfiller);
    kj::ForkedPromise<void> stopping = stopped.promise.fork();
    alive = true;
    try {
      Serve(io).exclusiveJoin(stopping.addBranch()).wait(io.waitScope);
    } catch (const kj::Exception&) {
      if (!ready.HasBeenNotified()) throw;  // never connected
    }
    alive = false;
    leases.clear();
    windows.clear();
    node.reset();
    // `executor` dies with this loop, so the loop runs until ~Client stops it,
    // even after the connection dropped: calls made meanwhile (and the
    // destructor) reach a live loop and fail cleanly with Unavailable.
    stopping.addBranch().wait(io.waitScope);
  } catch (const kj::Exception& e) {
    alive = false;
    if (!ready.HasBeenNotified()) {
      connect_status = proto::StatusFromException(e);
      ready.Notify();
    }
  }
  leases.clear();
  windows.clear();
  node.reset();
}

kj::Promise<void> Client::Impl::EnsureArena() {
  if (arena_base != nullptr) return kj::READY_NOW;
  auto arena = node->arenaRequest().send().getArena();
  auto size = arena.sizeRequest().send();
  // The fd belongs to the imported capability: keep `arena` alive until dup'd.
  auto fd_promise = arena.getFd();
  return fd_promise.then([this, arena = kj::mv(arena),
                          size = kj::mv(size)](kj::Maybe<int> fd) mutable {
    int raw = -1;
    KJ_IF_MAYBE (f, fd) {
      raw = *f;
    }
    KJ_REQUIRE(raw >= 0, "[FAILED_PRECONDITION] kvstashd did not pass its arena fd");
    auto owned = kj::heap<kj::AutoCloseFd>(::fcntl(raw, F_DUPFD_CLOEXEC, 0));
    KJ_REQUIRE(owned->get() >= 0, "[UNAVAILABLE] cannot dup the kvstashd arena fd");
    return size.then([this, owned = kj::mv(owned)](auto resp) {
      const uint64_t bytes = resp.getBytes();
      void* p = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, owned->get(), 0);
      KJ_REQUIRE(p != MAP_FAILED, "[UNAVAILABLE] cannot map the kvstashd arena", strerror(errno));
      arena_base = static_cast<const uint8_t*>(p);
      arena_bytes = bytes;
    });
  });
}

void Client::Impl::Unmap() {
  if (arena_base != nullptr) ::munmap(const_cast<uint8_t*>(arena_base), arena_bytes);
  arena_base = nullptr;
  MutexLock lock(&pool_mu);
  for (const MappedWindow& w : free_windows) ::munmap(w.base, w.bytes);
  free_windows.clear();
}

kj::Promise<void> Client::Impl::Serve(kj::AsyncIoContext& io) {
  std::string target = address;
  if (target.rfind("unix:", 0) != 0 && target.find('/') != std::string::npos) {
    target = "unix:" + target;
  }
  unix_socket = target.rfind("unix:", 0) == 0;
  return io.provider->getNetwork()
      .parseAddress(target.c_str())
      .then([](kj::Own<kj::NetworkAddress> addr) { return addr->connect().attach(kj::mv(addr)); })
      .then([this](kj::Own<kj::AsyncIoStream> stream) -> kj::Promise<void> {
        capnp::ReaderOptions opts;
        opts.traversalLimitInWords = wire::kMaxMessageBytes / 8;
        // Over a Unix socket, file descriptors travel (the arena's memfd).
        auto* caps = unix_socket ? dynamic_cast<kj::AsyncCapabilityStream*>(stream.get()) : nullptr;
        unix_socket = caps != nullptr;
        auto network = caps != nullptr ? kj::heap<capnp::TwoPartyVatNetwork>(
                                             *caps, 2, capnp::rpc::twoparty::Side::CLIENT, opts)
                                       : kj::heap<capnp::TwoPartyVatNetwork>(
                                             *stream, capnp::rpc::twoparty::Side::CLIENT, opts);
        auto rpc =
            kj::heap<capnp::RpcSystem<capnp::rpc::twoparty::VatId>>(capnp::makeRpcClient(*network));
        capnp::MallocMessageBuilder vat;
        auto id = vat.initRoot<capnp::rpc::twoparty::VatId>();
        id.setSide(capnp::rpc::twoparty::Side::SERVER);
        node = rpc->bootstrap(id).castAs<proto::Node>();
        ready.Notify();
        auto disconnected = network->onDisconnect();
        // Attached objects die last-first: the RPC system before its network and stream.
        return disconnected.attach(kj::mv(stream), kj::mv(network), kj::mv(rpc));
      });
}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const std::string& address) {
  auto impl = std::make_unique<Impl>();
  impl->address = address;
  Impl* raw = impl.get();
  impl->thread = kj::heap<kj::Thread>([raw] { raw->Run(); });
  impl->ready.WaitForNotification();
  if (!impl->connect_status.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot connect to kvstashd at '", address,
                                               "': ", impl->connect_status.message()));
  }
  auto client = std::unique_ptr<Client>(new Client(std::move(impl)));
  // Fail fast when nothing listens: a stats call needs a live peer.
  absl::StatusOr<std::vector<TierStats>> probe = client->Stats();
  if (!probe.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot reach kvstashd at '", address, "': ", probe.status().message()));
  }
  return client;
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() {
  if (impl_->executor != nullptr && impl_->alive) {
    try {
      impl_->executor->executeSync([this] {
        impl_->leases.clear();
        impl_->windows.clear();
      });
    } catch (const kj::Exception&) {
    }
  }
  if (impl_->executor != nullptr && impl_->connect_status.ok()) {
    try {
      impl_->executor->executeSync([this] {
        impl_->node.reset();
        if (impl_->stop) impl_->stop->fulfill();
      });
    } catch (const kj::Exception&) {
      // The loop already ended (disconnected); the thread is finishing.
    }
  }
  impl_->thread = nullptr;  // joins
  impl_->Unmap();
}

absl::StatusOr<LookupResult> Client::Lookup(std::span<const Key> keys) {
  return impl_->Invoke<LookupResult>([keys](proto::Node::Client& node) {
    auto req = node.lookupRequest();
    wire::KeysToProto(keys, req.initKeys(static_cast<unsigned>(keys.size())));
    return req.send().then(
        [](auto resp) { return absl::StatusOr<LookupResult>(wire::FromProto(resp)); });
  });
}

absl::StatusOr<std::vector<std::optional<Block>>> Client::Get(std::span<const Key> keys,
                                                              Format format) {
  using Out = std::vector<std::optional<Block>>;
  return impl_->Invoke<Out>([keys, format](proto::Node::Client& node) {
    auto req = node.getRequest();
    wire::KeysToProto(keys, req.initKeys(static_cast<unsigned>(keys.size())));
    req.setFormat(static_cast<proto::Format>(format));
    return req.send().then([](auto resp) { return wire::BlocksFromProto(resp.getBlocks()); });
  });
}

struct BlockViews::State {
  std::vector<BlockView> views;
  std::vector<std::string> copies;  // reserved up front: views point into them
  std::function<void()> release;    // drops the lease on the I/O thread
  ~State() {
    if (release) release();
  }
};

BlockViews::BlockViews(std::unique_ptr<State> state) : state_(std::move(state)) {}
BlockViews::BlockViews(BlockViews&&) noexcept = default;
BlockViews& BlockViews::operator=(BlockViews&&) noexcept = default;
BlockViews::~BlockViews() = default;
size_t BlockViews::size() const { return state_->views.size(); }
const BlockView& BlockViews::operator[](size_t i) const { return state_->views[i]; }

absl::StatusOr<BlockViews> Client::GetViews(std::span<const Key> keys, Format format) {
  return Views(keys, format, /*device_ipc=*/false);
}

absl::StatusOr<BlockViews> Client::GetDeviceViews(std::span<const Key> keys, Format format) {
  return Views(keys, format, /*device_ipc=*/true);
}

absl::StatusOr<BlockViews> Client::Views(std::span<const Key> keys, Format format,
                                         bool device_ipc) {
  auto state = std::make_unique<BlockViews::State>();
  state->copies.reserve(keys.size());
  Impl* impl = impl_.get();
  BlockViews::State* st = state.get();
  absl::StatusOr<uint64_t> lease = impl->Invoke<uint64_t>([=](proto::Node::Client&) {
    // No shared arena (TCP, or a node without a host tier): copies only.
    kj::Promise<void> ready = impl->unix_socket ? impl->EnsureArena().catch_([](kj::Exception&&) {})
                                                : kj::Promise<void>(kj::READY_NOW);
    return ready.then([=]() {
      auto req = impl->node->getRequest();
      wire::KeysToProto(keys, req.initKeys(static_cast<unsigned>(keys.size())));
      req.setFormat(static_cast<proto::Format>(format));
      req.setZeroCopy(impl->arena_base != nullptr);
      req.setDeviceIpc(device_ipc && impl->unix_socket);
      return req.send().then([=](auto resp) -> absl::StatusOr<uint64_t> {
        absl::Status s = wire::ViewsFromProto(resp.getBlocks(), impl->arena_base, impl->arena_bytes,
                                              &st->views, &st->copies);
        if (!s.ok()) return s;
        const uint64_t id = impl->next_lease++;
        impl->leases.emplace(id, resp.getLease());
        return id;
      });
    });
  });
  if (!lease.ok()) return lease.status();
  state->release = [impl, id = *lease] {
    if (!impl->alive) return;
    try {
      impl->executor->executeSync([impl, id] { impl->leases.erase(id); });
    } catch (const kj::Exception&) {
      // The connection is gone; so are the node's pins.
    }
  };
  return BlockViews(std::move(state));
}

#define KVSTASH_KEYS_CALL(Method, request, getter)                                             \
  absl::StatusOr<size_t> Client::Method(std::span<const Key> keys) {                           \
    return impl_->Invoke<size_t>([keys](proto::Node::Client& node) {                           \
      auto req = node.request();                                                               \
      wire::KeysToProto(keys, req.initKeys(static_cast<unsigned>(keys.size())));               \
      return req.send().then([](auto resp) { return absl::StatusOr<size_t>(resp.getter()); }); \
    });                                                                                        \
  }
KVSTASH_KEYS_CALL(Pin, pinRequest, getPinned)
KVSTASH_KEYS_CALL(Unpin, unpinRequest, getUnpinned)
KVSTASH_KEYS_CALL(Erase, eraseRequest, getErased)
#undef KVSTASH_KEYS_CALL

absl::StatusOr<std::vector<TierStats>> Client::Stats() {
  using Out = std::vector<TierStats>;
  return impl_->Invoke<Out>([](proto::Node::Client& node) {
    return node.statsRequest().send().then(
        [](auto resp) { return absl::StatusOr<Out>(wire::StatsFromProto(resp.getTiers())); });
  });
}

}  // namespace kvstash
