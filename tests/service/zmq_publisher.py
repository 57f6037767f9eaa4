#!/usr/bin/python3
"""A stand-in engine for the router's KV-event ingest tests.

Publishes vLLM-shaped KV-event batches from Python with pyzmq + msgpack, as
vLLM's ZmqEventPublisher does (3 frames: topic, seq as 8 bytes big-endian,
msgpack batch), so service/router/zmq_subscriber_test.cc can show that a
non-C++ publisher interoperates.

  zmq_publisher.py --connect tcp://127.0.0.1:PORT [--fixtures DIR] [--first-seq N]

Connects an XPUB socket to the subscriber (which binds), waits for its
subscription (the handshake that avoids ZMQ's slow-joiner loss), publishes,
and exits 0; exit 2 when no subscription arrives in time.

Batches, with consecutive seqs from --first-seq:
  - the three captured fixtures from DIR, verbatim, when --fixtures is given;
  - a map-form BlockStored (dp_rank 3, medium "CPU") whose hashes are a 32-byte
    digest bytes(range(32)) (wire u64 0x18191a1b1c1d1e1f), -1 and 2**64 - 1;
  - an array-form batch [BlockRemoved [5, 6] "DISK", AllBlocksCleared] with a
    nil dp_rank.
Not a pytest module (no test_ prefix); run it with /usr/bin/python3.
"""
import argparse
import os
import sys

import msgpack
import zmq

FIXTURES = (
    "vllm-0.28.0_seq223_removed.msgpack",
    "vllm-0.28.0_seq234_removed_stored.msgpack",
    "vllm-array-form_stored.msgpack",
)


def payloads(fixture_dir):
    out = []
    if fixture_dir:
        for name in FIXTURES:
            with open(os.path.join(fixture_dir, name), "rb") as f:
                out.append(f.read())
    stored = {
        "type": "BlockStored",
        "block_hashes": [bytes(range(32)), -1, 2**64 - 1],
        "parent_block_hash": None,
        "token_ids": list(range(16)),
        "block_size": 16,
        "lora_id": None,
        "medium": "CPU",
        "lora_name": None,
    }
    out.append(msgpack.packb([1.25, [stored], 3], use_bin_type=True))
    out.append(msgpack.packb([2.5, [["BlockRemoved", [5, 6], "DISK"], ["AllBlocksCleared"]], None],
                             use_bin_type=True))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connect", required=True)
    ap.add_argument("--fixtures")
    ap.add_argument("--first-seq", type=int, default=100)
    ap.add_argument("--topic", default="kv-events")
    ap.add_argument("--timeout-ms", type=int, default=30000)
    args = ap.parse_args()

    ctx = zmq.Context()
    pub = ctx.socket(zmq.XPUB)
    pub.connect(args.connect)
    if not pub.poll(args.timeout_ms):
        print("no subscription from", args.connect, file=sys.stderr)
        return 2
    pub.recv()  # b"\x01" + the subscribed prefix
    for i, payload in enumerate(payloads(args.fixtures)):
        seq = (args.first_seq + i).to_bytes(8, "big")
        pub.send_multipart((args.topic.encode(), seq, payload))
    pub.close(linger=args.timeout_ms)  # flush before exiting
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
