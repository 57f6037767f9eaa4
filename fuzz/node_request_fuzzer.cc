// libFuzzer target over request decoding of the node API (proto/node.capnp).
//
// Each input is tried three ways:
//  1. as a Cap'n Proto message in the standard framing (a flat array of
//     words), and 2. as a packed message, both read with ReaderOptions
//     limits. The root is then taken as the params of every Node method and
//     dispatched, through a local capability, to a real NodeService over a
//     real TierManager with a small host tier (fresh per input, so every
//     input reproduces on its own). Keys of the put blocks are then looked up,
//     fetched in every format (copy and zero-copy), pinned, unpinned, erased.
//  3. as a serialised block (tiers/BLOCK_FORMAT.md) for tiers::ParseBlock,
//     first as is, then with its header and payload checksums fixed up so
//     that the fields behind them are reached; a block that parses is
//     converted to another format and must serialise back to an equal block.
//
// Expected failures are kj::Exceptions: capnp's own bounds and type checks,
// or a Status from the edge validation (status_wire.h). Anything else (a
// std::exception, an unexpected status code, a broken invariant) aborts, as
// do sanitizer findings and leaks.
#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <capnp/serialize.h>
#include <kj/async.h>
#include <kj/io.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/env.h"
#include "proto/node.capnp.h"
#include "service/node_service.h"
#include "tiers/block.h"
#include "tiers/convert.h"
#include "tiers/host_tier.h"
#include "tiers/tier_manager.h"
#include "xxhash.h"

namespace kvstash::fuzz {
namespace {

constexpr uint64_t kTraversalWords = uint64_t{1} << 20;  // 8 MiB per message
constexpr uint64_t kHostBytes = uint64_t{4} << 20;
constexpr size_t kMaxConvertBytes = size_t{1} << 20;

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "node_request_fuzzer: %s\n", why.c_str());
  std::abort();
}

void Require(bool ok, const char* what) {
  if (!ok) Die(std::string("invariant broken: ") + what);
}

// A failure the edge may legitimately report for bad input.
void CheckException(const kj::Exception& e) {
  const kj::StringPtr d = e.getDescription();
  if (d.startsWith("[")) {
    for (const char* ok : {"[INVALID_ARGUMENT]", "[RESOURCE_EXHAUSTED]", "[FAILED_PRECONDITION]"}) {
      if (d.startsWith(ok)) return;
    }
    Die(std::string("unexpected status: ") + d.cStr());
  }
  // capnp's own checks (malformed pointers, limits, unimplemented methods).
  // A C++ exception escaping the server is converted by kj; that is a bug.
  if (strstr(d.cStr(), "std::exception") != nullptr || strstr(d.cStr(), "bad_alloc") != nullptr) {
    Die(std::string("C++ exception escaped: ") + d.cStr());
  }
}

struct Loop {
  kj::EventLoop loop;
  kj::WaitScope wait{loop};
  FakeClock clock;
  Random random{1};
  Env env{&clock, &random, nullptr};
};

Loop& TheLoop() {
  static Loop* loop = new Loop;  // one per process; the kj loop is per thread
  return *loop;
}

template <typename Body>
void Try(Body&& body) {
  try {
    body();
  } catch (const kj::Exception& e) {
    CheckException(e);
  }
}

void CheckGetResults(proto::Node::GetResults::Reader r, unsigned keys) {
  Require(r.getBlocks().size() == keys, "get answers one result per key");
  for (proto::BlockResult::Reader b : r.getBlocks()) {
    if (!b.isInline()) continue;
    const auto bytes = b.getInline();
    auto parsed = tiers::ParseBlock(
        absl::string_view(reinterpret_cast<const char*>(bytes.begin()), bytes.size()));
    if (!parsed.ok())
      Die("get returned a block that does not parse: " + parsed.status().ToString());
  }
}

// What a stored block must satisfy whatever the edge let through: a known
// format, and a payload at least as large as its geometry's element count
// needs at 4 bits per element (computed without wrap-around).
void CheckAccepted(capnp::List<proto::PutBlock>::Reader blocks) {
  for (proto::PutBlock::Reader b : blocks) {
    Require(static_cast<uint16_t>(b.getFormat()) <= 4, "a put of an unknown format is refused");
    const auto g = b.getGeometry();
    unsigned __int128 elements =
        static_cast<unsigned __int128>(g.getKvHeads()) * g.getBlockTokens() * g.getHeadDim();
    if (elements <= (uint64_t{1} << 62)) elements *= g.getLayers();
    if (elements <= (uint64_t{1} << 62)) elements *= g.getPlanes();
    Require(static_cast<unsigned __int128>(b.getPayload().size()) * 2 >= elements,
            "an accepted payload holds its geometry's elements");
  }
}

// Looks up, fetches, pins, unpins and erases the keys of the put blocks.
void FollowUp(proto::Node::Client& node, capnp::List<proto::PutBlock>::Reader blocks) {
  capnp::MallocMessageBuilder keys_msg;
  auto keys = keys_msg.initRoot<proto::Node::LookupParams>().initKeys(blocks.size());
  for (unsigned i = 0; i < blocks.size(); ++i) keys.setWithCaveats(i, blocks[i].getKey());
  kj::WaitScope& ws = TheLoop().wait;
  Try([&] {
    auto req = node.lookupRequest();
    req.setKeys(keys.asReader());
    auto r = req.send().wait(ws);
    Require(r.getMatched() <= keys.size() && r.getTiers().size() == r.getMatched(),
            "lookup's prefix fits the keys");
  });
  for (uint16_t f = 0; f <= 5; ++f) {  // 5 is not a format
    Try([&] {
      auto req = node.getRequest();
      req.setKeys(keys.asReader());
      req.setFormat(static_cast<proto::Format>(f));
      req.setZeroCopy(f % 2 == 1);
      auto r = req.send().wait(ws);
      CheckGetResults(r, keys.size());
      if (f == 1) r.getLease().releaseRequest().send().wait(ws);
    });
  }
  Try([&] {
    auto req = node.pinRequest();
    req.setKeys(keys.asReader());
    req.send().wait(ws);
  });
  Try([&] {
    auto req = node.unpinRequest();
    req.setKeys(keys.asReader());
    req.send().wait(ws);
  });
  Try([&] {
    auto req = node.eraseRequest();
    req.setKeys(keys.asReader());
    req.send().wait(ws);
  });
}

// The root as the params of each method, in turn.
void Dispatch(capnp::AnyPointer::Reader root, proto::Node::Client& node) {
  kj::WaitScope& ws = TheLoop().wait;
  Try([&] {
    auto params = root.getAs<proto::Node::PutParams>();
    auto req = node.putRequest();
    req.setBlocks(params.getBlocks());
    auto r = req.send().wait(ws);
    Require(r.getStored() == params.getBlocks().size(), "put stores every block or throws");
    CheckAccepted(params.getBlocks());
    FollowUp(node, params.getBlocks());
  });
  Try([&] {
    auto params = root.getAs<proto::Node::LookupParams>();
    auto req = node.lookupRequest();
    req.setKeys(params.getKeys());
    auto r = req.send().wait(ws);
    Require(r.getMatched() <= params.getKeys().size(), "lookup's prefix fits the keys");
  });
  Try([&] {
    auto params = root.getAs<proto::Node::GetParams>();
    auto req = node.getRequest();
    req.setKeys(params.getKeys());
    req.setFormat(params.getFormat());
    req.setZeroCopy(params.getZeroCopy());
    CheckGetResults(req.send().wait(ws), params.getKeys().size());
  });
  Try([&] {
    auto params = root.getAs<proto::Node::PinParams>();
    auto req = node.pinRequest();
    req.setKeys(params.getKeys());
    req.send().wait(ws);
  });
  Try([&] {
    auto params = root.getAs<proto::Node::UnpinParams>();
    auto req = node.unpinRequest();
    req.setKeys(params.getKeys());
    req.send().wait(ws);
  });
  Try([&] {
    auto params = root.getAs<proto::Node::EraseParams>();
    auto req = node.eraseRequest();
    req.setKeys(params.getKeys());
    req.send().wait(ws);
  });
  Try([&] { node.statsRequest().send().wait(ws); });
  Try([&] { node.arenaRequest().send().wait(ws); });
}

void ServeMessage(capnp::MessageReader& message) {
  Loop& loop = TheLoop();
  tiers::HostTierOptions host;
  host.capacity_bytes = kHostBytes;
  auto tier = tiers::HostTier::Create(host);
  if (!tier.ok()) Die("host tier: " + tier.status().ToString());
  std::vector<tiers::TierConfig> configs;
  configs.push_back(tiers::TierConfig{*std::move(tier), false});
  auto manager = tiers::TierManager::Create({}, std::move(configs), loop.env);
  if (!manager.ok()) Die("tier manager: " + manager.status().ToString());
  {
    service::NodeLimits limits;
    limits.max_batch_blocks = 64;
    limits.max_block_bytes = uint64_t{1} << 20;
    proto::Node::Client node = kj::heap<service::NodeService>(manager->get(), limits);
    Try([&] { Dispatch(message.getRoot<capnp::AnyPointer>(), node); });
  }
  loop.wait.poll();  // lets dropped capabilities (leases) go before the tiers
}

capnp::ReaderOptions Limits() {
  capnp::ReaderOptions opts;
  opts.traversalLimitInWords = kTraversalWords;
  opts.nestingLimit = 16;
  return opts;
}

void FuzzFlat(const uint8_t* data, size_t size) {
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(size / sizeof(capnp::word));
  std::memcpy(words.begin(), data, words.size() * sizeof(capnp::word));
  Try([&] {
    capnp::FlatArrayMessageReader message(words, Limits());
    ServeMessage(message);
  });
}

void FuzzPacked(const uint8_t* data, size_t size) {
  Try([&] {
    kj::ArrayInputStream in(kj::arrayPtr(data, size));
    capnp::PackedMessageReader message(in, Limits());
    ServeMessage(message);
  });
}

// Makes the checksums of a would-be block right, so that parsing gets past
// them: header checksum at header_bytes - 8, payload checksum at 48.
void FixChecksums(std::string& b) {
  if (b.size() < 64) return;
  uint32_t n = 0;
  uint64_t payload_bytes = 0;
  std::memcpy(&n, b.data() + 8, 4);
  std::memcpy(&payload_bytes, b.data() + 40, 8);
  if (n < 64 || n > b.size()) return;
  if (payload_bytes <= b.size() - n) {
    const uint64_t sum = XXH3_64bits(b.data() + n, payload_bytes);
    std::memcpy(b.data() + 48, &sum, 8);
  }
  const uint64_t header_sum = XXH3_64bits(b.data(), n - 8);
  std::memcpy(b.data() + n - 8, &header_sum, 8);
}

void ParseOne(const std::string& bytes) {
  (void)tiers::ParseBlock(bytes, tiers::Verify::kHeaderOnly);
  absl::StatusOr<tiers::ParsedBlock> p = tiers::ParseBlock(bytes);
  if (!p.ok()) {
    Require(absl::IsDataLoss(p.status()), "a bad block is DataLoss");
    return;
  }
  absl::StatusOr<std::string> again = tiers::SerializeBlock(p->header, p->payload);
  if (!again.ok()) Die("a parsed block does not serialise: " + again.status().ToString());
  // Reserved bytes and padding are not checked by readers, so compare what
  // the header means rather than its bytes.
  Require(again->size() == bytes.size(), "a parsed block serialises to the same size");
  absl::StatusOr<tiers::ParsedBlock> back = tiers::ParseBlock(*again);
  Require(back.ok() && back->payload == p->payload && back->header.key == p->header.key &&
              back->header.scales == p->header.scales,
          "a parsed block serialises to an equal block");
  if (p->payload.size() > kMaxConvertBytes) return;
  const auto to = static_cast<kernels::Format>((static_cast<int>(p->header.format) + 3) % 5);
  (void)tiers::ConvertBlock(
      p->header.geometry, tiers::BlockPayload{p->header.format, p->payload, p->header.scales}, to);
}

void FuzzBlock(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  ParseOne(bytes);
  FixChecksums(bytes);
  ParseOne(bytes);
}

}  // namespace
}  // namespace kvstash::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kvstash::fuzz::FuzzFlat(data, size);
  kvstash::fuzz::FuzzPacked(data, size);
  kvstash::fuzz::FuzzBlock(data, size);
  return 0;
}
