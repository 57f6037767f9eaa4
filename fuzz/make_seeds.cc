// Writes the seed corpus of node_request_fuzzer: valid params of each Node
// method (standard framing and packed) and serialised blocks, at a small
// geometry so that the fuzzer's inputs stay small.
//
//   make_node_request_seeds OUT_DIR
//
// The seeds in fuzz/corpus/node_request/ were made with it; rerun it after a
// change to proto/node.capnp or tiers/BLOCK_FORMAT.md.
#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <capnp/serialize.h>
#include <kj/io.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/node.capnp.h"
#include "tiers/block.h"

namespace kvstash::fuzz {
namespace {

constexpr kernels::KvGeometry kSmall{1, 1, 32, 2, 2};

void WriteFile(const std::string& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

void Write(const std::string& dir, const std::string& name, capnp::MessageBuilder& m) {
  kj::Array<capnp::word> flat = capnp::messageToFlatArray(m);
  WriteFile(dir + "/" + name + ".bin", flat.begin(), flat.size() * sizeof(capnp::word));
  kj::VectorOutputStream packed;
  capnp::writePackedMessage(packed, m);
  WriteFile(dir + "/" + name + ".packed", packed.getArray().begin(), packed.getArray().size());
}

void SetKey(proto::BlockKey::Builder k, uint64_t ns, uint8_t first, size_t digest_bytes) {
  k.setNs(ns);
  auto d = k.initDigest(static_cast<unsigned>(digest_bytes));
  for (size_t i = 0; i < digest_bytes; ++i) d[i] = static_cast<uint8_t>(first + i);
}

// A put of one block of `format` at kSmall, every payload byte 0x38.
void SetBlock(proto::PutBlock::Builder b, proto::Format format, uint8_t id, bool parent) {
  const auto f = static_cast<kernels::Format>(format);
  SetKey(b.initKey(), 1, id, id % 2 ? 32 : 8);
  if (parent) SetKey(b.initParent(), 1, id - 1, (id - 1) % 2 ? 32 : 8);
  b.setFormat(format);
  auto g = b.initGeometry();
  g.setLayers(kSmall.layers);
  g.setKvHeads(kSmall.kv_heads);
  g.setHeadDim(kSmall.head_dim);
  g.setBlockTokens(kSmall.block_tokens);
  g.setPlanes(kSmall.planes);
  const size_t scales = tiers::ScaleCount(f, kSmall);
  auto s = b.initScales(static_cast<unsigned>(scales));
  for (size_t i = 0; i < scales; ++i) s.set(i, 0.5f);
  const uint64_t bytes = *tiers::PayloadBytesFor(f, kSmall);
  auto p = b.initPayload(static_cast<unsigned>(bytes));
  // bf16/fp16 1.0-ish, fp8/fp4 codes and E4M3/E8M0 scales all fine as 0x38.
  for (size_t i = 0; i < bytes; ++i) p[i] = 0x38;
  b.setPriority(id % 3);
}

void Seeds(const std::string& dir) {
  constexpr proto::Format kFormats[] = {proto::Format::BF16, proto::Format::FP16,
                                        proto::Format::FP8_E4M3, proto::Format::NVFP4,
                                        proto::Format::MXFP4};
  for (proto::Format f : kFormats) {
    capnp::MallocMessageBuilder m;
    SetBlock(m.initRoot<proto::Node::PutParams>().initBlocks(1)[0], f, 1, false);
    Write(dir, absl::StrCat("put_", kernels::FormatName(static_cast<kernels::Format>(f))), m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto blocks = m.initRoot<proto::Node::PutParams>().initBlocks(3);
    for (unsigned i = 0; i < 3; ++i) SetBlock(blocks[i], kFormats[i], 10 + i, i > 0);
    Write(dir, "put_chain", m);
  }
  {
    // Regression: kv_heads * block_tokens * head_dim is 2^64 + 64, which
    // wrapped to 64 elements: a 128-byte payload "matched" the geometry.
    capnp::MallocMessageBuilder m;
    auto b = m.initRoot<proto::Node::PutParams>().initBlocks(1)[0];
    SetKey(b.initKey(), 1, 7, 8);
    b.setFormat(proto::Format::BF16);
    auto g = b.initGeometry();
    g.setLayers(1);
    g.setKvHeads((1u << 31) + (1u << 17) + 4);
    g.setHeadDim(16);
    g.setBlockTokens((1u << 29) - (1u << 15) + 1);
    g.setPlanes(1);
    auto p = b.initPayload(128);
    for (size_t i = 0; i < p.size(); ++i) p[i] = 0x3f;
    Write(dir, "put_geometry_overflow", m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto keys = m.initRoot<proto::Node::LookupParams>().initKeys(3);
    for (unsigned i = 0; i < 3; ++i) SetKey(keys[i], 1, 10 + i, i % 2 ? 32 : 8);
    Write(dir, "lookup", m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto params = m.initRoot<proto::Node::GetParams>();
    SetKey(params.initKeys(1)[0], 1, 1, 32);
    params.setFormat(proto::Format::NVFP4);
    params.setZeroCopy(true);
    Write(dir, "get_zero_copy", m);
  }
  tiers::BlockHeader h;
  h.key = tiers::BlockKey::FromHash64(1, 42);
  h.parent = tiers::BlockKey::FromHash64(1, 41);
  h.format = kernels::Format::kNvfp4;
  h.geometry = kSmall;
  h.scales.assign(tiers::ScaleCount(h.format, kSmall), 0.25f);
  const std::string payload(*tiers::PayloadBytesFor(h.format, kSmall), '\x38');
  const std::string block = *tiers::SerializeBlock(h, payload);
  WriteFile(dir + "/block_nvfp4.kvsb", block.data(), block.size());
}

}  // namespace
}  // namespace kvstash::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  kvstash::fuzz::Seeds(argv[1]);
  return 0;
}
