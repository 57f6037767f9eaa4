#include "kvstash/client.h"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/thread.h>

#include <atomic>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/wire.h"
#include "common/mutex.h"
#include "proto/node.capnp.h"
#include "proto/status_wire.h"

namespace kvstash {

// The I/O thread: owns the kj event loop, the connection and the Node
// capability. Other threads reach it only through `executor`.
struct Client::Impl {
  std::string address;
  Notification ready;
  absl::Status connect_status;
  const kj::Executor* executor = nullptr;
  kj::Own<kj::PromiseFulfiller<void>> stop;  // touched on the I/O thread only
  std::optional<proto::Node::Client> node;   // likewise
  std::atomic<bool> alive{false};            // the I/O loop is running
  kj::Own<kj::Thread> thread;

  void Run();
  kj::Promise<void> Serve(kj::AsyncIoContext& io);

  // Runs `call(node)` on the I/O thread and waits for its result.
  template <typename T, typename Call>
  absl::StatusOr<T> Invoke(Call&& call);
};

void Client::Impl::Run() {
  try {
    kj::AsyncIoContext io = kj::setupAsyncIo();
    executor = &kj::getCurrentThreadExecutor();
    auto stopped = kj::newPromiseAndFulfiller<void>();
    stop = kj::mv(stopped.fulfiller);
    alive = true;
    auto done = Serve(io).exclusiveJoin(kj::mv(stopped.promise));
    done.wait(io.waitScope);
    alive = false;
  } catch (const kj::Exception& e) {
    alive = false;
    if (!ready.HasBeenNotified()) {
      connect_status = proto::StatusFromException(e);
      ready.Notify();
    }
  }
  node.reset();
}

kj::Promise<void> Client::Impl::Serve(kj::AsyncIoContext& io) {
  std::string target = address;
  if (target.rfind("unix:", 0) != 0 && target.find('/') != std::string::npos) {
    target = "unix:" + target;
  }
  return io.provider->getNetwork()
      .parseAddress(target.c_str())
      .then([](kj::Own<kj::NetworkAddress> addr) { return addr->connect().attach(kj::mv(addr)); })
      .then([this](kj::Own<kj::AsyncIoStream> stream) -> kj::Promise<void> {
        capnp::ReaderOptions opts;
        opts.traversalLimitInWords = wire::kMaxMessageBytes / 8;
        auto network =
            kj::heap<capnp::TwoPartyVatNetwork>(*stream, capnp::rpc::twoparty::Side::CLIENT, opts);
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

template <typename T, typename Call>
absl::StatusOr<T> Client::Impl::Invoke(Call&& call) {
  if (!connect_status.ok()) return connect_status;
  if (!alive) return absl::UnavailableError("the connection to kvstashd is closed");
  try {
    return executor->executeSync([&]() -> kj::Promise<absl::StatusOr<T>> {
      if (!node) {
        return absl::StatusOr<T>(absl::UnavailableError("kvstashd connection is closed"));
      }
      return call(*node);
    });
  } catch (const kj::Exception& e) {
    if (!alive) return absl::UnavailableError("the connection to kvstashd is closed");
    return proto::StatusFromException(e);
  }
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

absl::StatusOr<size_t> Client::Put(std::span<const PutBlock> blocks) {
  return impl_->Invoke<size_t>([blocks](proto::Node::Client& node) {
    auto req = node.putRequest();
    auto list = req.initBlocks(static_cast<unsigned>(blocks.size()));
    for (size_t i = 0; i < blocks.size(); ++i) wire::PutToProto(blocks[i], list[i]);
    return req.send().then([](auto resp) { return absl::StatusOr<size_t>(resp.getStored()); });
  });
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
