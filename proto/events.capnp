# KV events a kvstashd publishes about its own tiers (issue 4), which routers
# ingest (issue 5). Prose description: proto/README.md.
@0xa07dbddb1ff334b8;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("kvstash::proto");

using Node = import "common.capnp";

struct KvEvent {
  union {
    stored @0 :BlocksStored;
    removed @1 :BlocksRemoved;
    cleared @2 :Void;             # every block of this node's tier is gone
  }
  tier @3 :Node.Tier;
}

struct BlocksStored {
  keys @0 :List(Node.BlockKey);   # in prefix order
  parent @1 :Node.BlockKey;       # parent of keys[0]; unset for a first block
  blockTokens @2 :UInt32;
}

struct BlocksRemoved {
  keys @0 :List(Node.BlockKey);
}

struct EventBatch {
  # One batch per publish; `seq` increases by one per batch per node so that
  # subscribers detect gaps and resync. A batch with no events is a heartbeat.
  node @0 :Text;
  seq @1 :UInt64;
  timestampNanos @2 :UInt64;
  events @3 :List(KvEvent);
  snapshot @4 :Bool;
  # Part of a snapshot: the first snapshot batch starts with a `cleared`
  # event (tier none: forget everything of this node), the rest list every
  # block the node holds. All snapshot batches carry the seq the live stream
  # continues after.
}

interface EventSink {
  # A subscriber (router) implements this; the node pushes batches in order.
  push @0 (batch :EventBatch) -> ();
}

interface EventSource {
  subscribe @0 (sink :EventSink, fromSeq :UInt64) -> (handle :Subscription);
  # fromSeq: the first seq wanted. 0, or one the node no longer keeps (or
  # never had: it restarted), gets a snapshot first. Pushes stop when the
  # subscriber drops `handle` or the connection.
}

interface Subscription {}
