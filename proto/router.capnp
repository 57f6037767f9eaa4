# The router API of kvstashd (issue 5): placement hints and the router's view
# of engine ranks and kvstash nodes. The Cap'n Proto form of the admin HTTP
# routes POST /v1/placement and GET /v1/workers
# (service/router/router_service.h); both answer from the same RouterService.
# Prose description: proto/README.md ("Router API").
@0xfda1909448827b32;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("kvstash::proto");

interface Router {
  placement @0 (request :PlacementRequest)
      -> (candidates :List(RankedRank), fetchHints :List(FetchHint), blocks :UInt32);
  # Ranks engine ranks for one request, best first, and says which of its
  # blocks to fetch from which kvstash node for the best one. `blocks` is the
  # number of block hashes the request named (or that its tokens made).

  workers @1 () -> (workers :List(WorkerInfo), engines :List(EngineStream));
  # Live holders (engine ranks and kvstash nodes) and the state of each
  # engine KV-event stream this router subscribes to.

  enum Medium {
    device @0;
    host @1;
    disk @2;
  }

  struct Candidate {
    worker @0 :Text;                # non-empty
    dpRank @1 :Int32;               # >= 0
    activeBlocks @2 :Int64;         # >= 0
    queuedPrefillTokens @3 :Int64;  # >= 0; counted as ceil(tokens / blockSize) blocks
  }

  struct PlacementRequest {
    # Exactly one of blockHashes and tokenIds must be set (a set empty list
    # counts as set).
    blockHashes @0 :List(UInt64);   # chained hashes, u64 wire form, first block first
    tokenIds @1 :List(UInt32);      # hashed here into the full blocks' hashes
    blockSize @2 :UInt32 = 16;      # tokens per block
    hashScheme @3 :Text = "sha256_cbor";
    # tokenIds only: "sha256_cbor" (vLLM) or "xxh3" (Dynamo).
    hashSeed @4 :Text;
    # tokenIds only; unset: the scheme's default. sha256_cbor: the NONE_HASH
    # seed (PYTHONHASHSEED). xxh3: a u64 in decimal.
    chainSeed :union {
      # tokenIds with xxh3 only: the chaining seed.
      none @5 :Void;                # the scheme's default
      value @6 :UInt64;
    }
    candidates @7 :List(Candidate); # empty: every live engine rank the router knows
    temperature @8 :Float64;        # 0: deterministic; > 0: sample the first entry
    maxCandidates @9 :UInt32 = 8;   # answer size when candidates is empty
    seed @10 :UInt64;               # for the temperature sampler
    record @11 :Bool = true;        # approximate mode: remember the answer
  }

  struct RankedRank {
    worker @0 :Text;
    dpRank @1 :Int32;
    device @2 :UInt32;              # overlap in blocks, by where the rank has them
    host @3 :UInt32;
    disk @4 :UInt32;
    remote @5 :UInt32;              # fetchable from kvstash nodes
    prefillBlocks @6 :UInt32;       # blocks the rank must compute
    load @7 :Int64;                 # blocks active or queued on the rank
    cost @8 :Float64;               # lower is better
  }

  struct FetchHint {
    # Blocks [start, start + count) of the request, held by kvstash node
    # `node` in `medium`; blockHashes are those blocks' hashes.
    node @0 :Text;
    medium @1 :Medium;
    start @2 :UInt32;
    count @3 :UInt32;
    blockHashes @4 :List(UInt64);
  }

  enum HolderKind {
    engine @0;                      # an engine rank (its KV events)
    kvstash @1;                     # a kvstash node (dpRank -1)
  }

  struct WorkerInfo {
    worker @0 :Text;
    dpRank @1 :Int32;
    kind @2 :HolderKind;
    blocks @3 :Int64;               # blocks it holds in at least one medium
    lastSeenS @4 :Float64;          # seconds since last heard from; NaN: never
  }

  struct EngineStream {
    worker @0 :Text;
    endpoint @1 :Text;              # as resolved after a wildcard bind
    replayEndpoint @2 :Text;        # empty: no replay
    messages @3 :UInt64;            # ZMQ messages received
    batches @4 :UInt64;             # decoded batches delivered (replayed included)
    events @5 :UInt64;
    decodeErrors @6 :UInt64;        # malformed messages dropped
    gaps @7 :UInt64;                # forward sequence jumps
    replays @8 :UInt64;             # gaps filled by replay
    resyncs @9 :UInt64;             # times the worker's entries were cleared
    lastSeq :union {
      none @10 :Void;               # nothing received yet
      value @11 :UInt64;
    }
    lastError @12 :Text;
  }
}
