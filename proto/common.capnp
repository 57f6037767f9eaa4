# Types shared by the node API (node.capnp) and the KV events (events.capnp).
@0xe68e8ef5a2ca5d56;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("kvstash::proto");

struct BlockKey {
  # (namespace, sequence hash). `digest` is the chained sequence hash: 32
  # bytes for vLLM's sha256_cbor; a 64-bit hash (Dynamo XXH3, or the u64 wire
  # form) sits little-endian in the first 8 bytes, the rest zero. Shorter
  # digests are zero-extended; longer ones are rejected.
  ns @0 :UInt64;
  digest @1 :Data;
}

enum Tier {
  none @0;
  device @1;
  host @2;
  disk @3;
  remote @4;
}

