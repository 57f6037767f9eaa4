# The node API of kvstashd (issue 4): what engines (through libkvstash) and
# tools call, over a Unix socket (local engines) or TCP (peers, tools).
# Prose description: proto/README.md.
@0xd6ac28421ff782a4;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("kvstash::proto");

using Common = import "common.capnp";
using BlockKey = Common.BlockKey;
using Tier = Common.Tier;
using Events = import "events.capnp";
using RouterApi = import "router.capnp";

enum Format {
  bf16 @0;
  fp16 @1;
  fp8E4m3 @2;
  nvfp4 @3;
  mxfp4 @4;
}

struct Geometry {
  layers @0 :UInt32;
  kvHeads @1 :UInt32;
  headDim @2 :UInt32;
  blockTokens @3 :UInt32;
  planes @4 :UInt32 = 2;  # 2: K and V; 1: MLA latent
}

struct SlotRef {
  # A block's serialised bytes (header + payload, tiers/BLOCK_FORMAT.md) in
  # the host arena that Node.arena() shares: map the arena's fd and read
  # [offset, offset + length).
  offset @0 :UInt64;
  length @1 :UInt64;
}

struct DeviceRef {
  # A block in the node's device tier, for an engine process on the same GPU:
  # open `ipcHandle` (a cudaIpcMemHandle_t, 64 bytes; one per node arena, so
  # open it once and cache the mapping) with cudaIpcOpenMemHandle on device
  # `device`, and read [offset, offset + length): the stored serialised block,
  # whose header (tiers/BLOCK_FORMAT.md) is also sent here as `header`.
  ipcHandle @0 :Data;
  device @1 :Int32;
  offset @2 :UInt64;
  length @3 :UInt64;
  header @4 :Data;
}

struct BlockResult {
  key @0 :BlockKey;
  union {
    missing @1 :Void;       # not held, or failed verification (counted)
    inline @2 :Data;        # serialised block, in the requested format
    slot @3 :SlotRef;       # zero-copy: stored bytes in the shared arena
    device @5 :DeviceRef;   # zero-copy: stored bytes in the device tier (CUDA IPC)
  }
  tier @4 :Tier;            # where it was found
}

struct PutBlock {
  key @0 :BlockKey;
  parent @1 :BlockKey;      # previous block of the prefix chain (optional)
  format @2 :Format;        # format of `payload`
  geometry @3 :Geometry;
  scales @4 :List(Float32); # nvfp4 g_dec / fp8 s per (layer, plane); empty = dynamic
  payload @5 :Data;
  priority @6 :UInt8;
  windowOffset @7 :UInt64;  # PutWindow.commit only: where the payload starts in the window
  nodeLocal @8 :Bool;       # in a cluster: keep it on this node (not pushed to its owners)
}

struct Counter {
  name @0 :Text;    # snake_case, e.g. "ucx_pulls"
  value @1 :UInt64;
}

struct TierStats {
  name @0 :Text;
  capacityBytes @1 :UInt64;
  usedBytes @2 :UInt64;
  blocks @3 :UInt64;
  hits @4 :UInt64;
  misses @5 :UInt64;
  bytesIn @6 :UInt64;
  bytesOut @7 :UInt64;
  evictions @8 :UInt64;
  spills @9 :UInt64;
  promotions @10 :UInt64;
  checksumFailures @11 :UInt64;
  readOnly @12 :Bool;
  error @13 :Text;
  counters @14 :List(Counter);
  # Further counters of this entry, by name. The "remote" entry of a cluster
  # node: ucx_pulls, ucx_bytes (blocks and bytes pulled by UCX RMA),
  # ucx_fallbacks (owner answers taken inline instead), ucx_errors (RMA gets
  # that failed or did not verify), peer_errors.
}

interface Lease {
  # Keeps the slots of a get() pinned until released or dropped.
  release @0 ();
}

interface Arena {
  # The host tier's shared memory. The capability carries the memfd (over a
  # Unix socket, Cap'n Proto passes it with SCM_RIGHTS; Capability::getFd()):
  # map it read-only, MAP_SHARED, `bytes` long.
  size @0 () -> (bytes :UInt64);
}

interface PutWindow {
  # Zero-copy puts: shared memory private to one client. The capability
  # carries a memfd (like Arena) that the client maps read-write, MAP_SHARED,
  # `bytes` long. The client writes each block's payload into the window, then
  # commit() names the blocks by offset; the node reads (and converts) them
  # from there into its tiers, so the payload never crosses the socket.
  # The window is freed when the capability is dropped.
  size @0 () -> (bytes :UInt64);
  commit @1 (blocks :List(PutBlock)) -> (stored :UInt32);
  # Like Node.put, except that each block's payload is the window's bytes
  # [windowOffset, windowOffset + payload size of its format and geometry);
  # `payload` must be empty. Do not write a range while its commit runs.
}

interface Node {
  lookup @0 (keys :List(BlockKey)) -> (matched :UInt32, tiers :List(Tier));
  # Longest prefix of `keys` held in any tier, and the tier of each of those.

  get @1 (keys :List(BlockKey), format :Format, zeroCopy :Bool, deviceIpc :Bool,
          localOnly :Bool) -> (blocks :List(BlockResult), lease :Lease);
  # Blocks in `format` (converted when stored otherwise). With zeroCopy and a
  # stored block already in `format` in the host tier, a SlotRef instead of
  # inline bytes; the slots stay valid until `lease` is released or dropped.
  # With deviceIpc, a stored block already in `format` in the device tier
  # comes back as a DeviceRef, pinned by the same lease. In a cluster, a
  # block missing here is pulled from its owners (tier remote) unless
  # localOnly (what nodes set when they ask each other). A peer that reads
  # this node's arena by UCX RMA (the ucx_rkey and ucx_base of its member
  # record) sets localOnly and zeroCopy over TCP: a SlotRef's offset is then
  # relative to ucx_base, and the lease pins the slot until the read is over.

  put @2 (blocks :List(PutBlock)) -> (stored :UInt32);
  # Validates the whole batch first (nothing is stored if any block is
  # malformed), then stores each block in the namespace's storage format.
  # Keys already held are only touched.
  pin @3 (keys :List(BlockKey)) -> (pinned :UInt32);
  unpin @4 (keys :List(BlockKey)) -> (unpinned :UInt32);
  erase @5 (keys :List(BlockKey)) -> (erased :UInt32);
  stats @6 () -> (tiers :List(TierStats));
  arena @7 () -> (arena :Arena);
  putWindow @8 (bytes :UInt64) -> (window :PutWindow);
  events @9 () -> (source :Events.EventSource);
  # This node's KV events (blocks stored in / removed from each tier), for
  # routers (events.capnp).
  router @10 () -> (router :RouterApi.Router);
  # The node's router: placement hints and workers (router.capnp).
  holds @11 (keys :List(BlockKey)) -> (tiers :List(Tier));
  # Where this node holds each key (none when not here): what a cluster
  # member asks an owner for the keys past its own prefix. Never asks others.
  # A new put window of `bytes` (Unix socket only: the fd must travel).
  # Bounded per window and in total across clients (the error names the limit).
}
