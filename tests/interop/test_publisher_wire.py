"""What vLLM's ZmqEventPublisher really puts on the wire, read with pyzmq + msgpack.

No kvstash here: these pin down the facts INTEROP.md states (and kvstashd's decoder
relies on) against vLLM's own publisher, BlockPool and hashing, so a vLLM upgrade
that changes them fails here first. The decoding is msgpack's, not vLLM's msgspec.
"""

import msgpack
import pytest
import zmq

import kvstash_side
import vllm_side

BLOCK = 16
TOKENS = [(7919 * i) % 151000 for i in range(4 * BLOCK + 5)]  # 4 full blocks + a tail
SENTINEL = [150000 + i for i in range(BLOCK)]
END_SEQ = (-1).to_bytes(8, "big", signed=True)

# Positional fields of the array form (vLLM <= 0.23), as INTEROP.md lists them.
ARRAY_FIELDS = {
    "BlockStored": [
        "block_hashes", "parent_block_hash", "token_ids", "block_size",
        "lora_id", "medium", "lora_name",
    ],
    "BlockRemoved": ["block_hashes", "medium"],
    "AllBlocksCleared": [],
}  # fmt: skip


def normalize(event):
    """(form, type, fields) of one decoded event in either encoding."""
    if isinstance(event, dict):
        fields = dict(event)
        return "map", fields.pop("type"), fields
    assert isinstance(event, list) and event and isinstance(event[0], str), event
    names = ARRAY_FIELDS[event[0]]
    return "array", event[0], dict(zip(names, event[1 : 1 + len(names)]))


def recv(sock, timeout_s=5.0):
    if not sock.poll(int(timeout_s * 1000)):
        raise AssertionError(f"nothing received in {timeout_s} s")
    return sock.recv_multipart()


@pytest.fixture
def zctx():
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


def warm_up(engine, sub):
    """PUB drops messages until the SUB's subscription arrives: republish a sentinel
    BlockStored until one gets through, then drain."""
    engine.store(SENTINEL)
    events = engine.pool.take_events()
    for _ in range(100):
        engine.publish(events)
        if sub.poll(100):
            break
    else:
        raise AssertionError("the subscriber never received the sentinel batch")
    while sub.poll(300):
        sub.recv_multipart()


def run_scenario(engine):
    """Store TOKENS, evict the last block, clear: three scheduler steps.
    Returns (request, [events of each step])."""
    req, blocks = engine.store(TOKENS)
    stored = engine.step()
    engine.release(blocks)
    engine.allocate(1)  # evicts the least recently used free block: TOKENS' last
    removed = engine.step()
    engine.release_all()  # the sentinel's block
    engine.reset_prefix_cache()
    cleared = engine.step()
    return req, [stored, removed, cleared]


@pytest.mark.parametrize("dp_rank", [0, 1])
def test_live_stream_and_replay(zctx, dp_rank):
    vllm_side.init_none_hash("0")
    pub_port, _ = kvstash_side.free_ports(2, consecutive=True)
    replay_port, _ = kvstash_side.free_ports(2, consecutive=True)
    engine = vllm_side.Engine(
        dp_rank=dp_rank,
        endpoint=f"tcp://*:{pub_port}",
        replay_endpoint=f"tcp://*:{replay_port}",
        topic="kv-events",
        block_size=BLOCK,
        num_gpu_blocks=1 + 1 + 4,  # null block, sentinel, TOKENS: eviction is forced
    )
    try:
        sub = zctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        # vLLM offsets the port by the DP rank.
        sub.connect(f"tcp://127.0.0.1:{pub_port + dp_rank}")
        warm_up(engine, sub)

        req, steps = run_scenario(engine)
        assert [len(s) for s in steps] == [1, 1, 1]
        live = [recv(sub) for _ in steps]
        check_live(live, req, dp_rank)
        check_replay(zctx, replay_port + dp_rank, live)
    finally:
        engine.close()


def check_live(live, req, dp_rank):
    want_hashes = [vllm_side.wire_hash(h) for h in req.block_hashes]
    assert len(want_hashes) == 4
    seqs = []
    decoded = []
    for frames in live:
        assert len(frames) == 3, f"expected (topic, seq, payload), got {len(frames)} frames"
        topic, seq, payload = frames
        assert topic == b"kv-events"
        assert len(seq) == 8
        seqs.append(int.from_bytes(seq, "big"))
        batch = msgpack.unpackb(payload, raw=False, strict_map_key=False)
        assert isinstance(batch, list) and len(batch) == 3, batch
        ts, events, rank = batch
        assert isinstance(ts, float) and isinstance(events, list) and len(events) == 1
        assert rank == dp_rank
        decoded.append(normalize(events[0]))
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"seqs not consecutive: {seqs}"

    forms = {form for form, _, _ in decoded}
    assert forms == {"array" if vllm_side.EVENTS_AS_ARRAYS else "map"}, (
        f"vLLM {vllm_side.VERSION} sent events as {forms}"
    )

    _, kind, stored = decoded[0]
    assert kind == "BlockStored"
    assert stored["block_hashes"] == want_hashes
    assert all(0 <= h < 2**64 for h in stored["block_hashes"])
    assert stored["parent_block_hash"] is None
    assert stored["token_ids"] == TOKENS[: 4 * BLOCK], "token_ids cover the full blocks only"
    assert stored["block_size"] == BLOCK
    assert stored["medium"] == "GPU"
    assert stored["lora_id"] is None and stored["lora_name"] is None
    for h in stored["block_hashes"]:
        if h >= 2**32:
            assert b"\xcf" + h.to_bytes(8, "big") in live[0][2], "hash not sent as msgpack uint64"

    _, kind, removed = decoded[1]
    assert kind == "BlockRemoved"
    assert removed["block_hashes"] == want_hashes[-1:], "vLLM evicts a request's tail first"
    assert removed["medium"] == "GPU"

    _, kind, cleared = decoded[2]
    assert kind == "AllBlocksCleared" and cleared == {}


def check_replay(zctx, port, live):
    """A DEALER asks the replay ROUTER for everything from seq 0 (frames: empty,
    start seq as 8 bytes big-endian) and reads until the end marker (seq -1)."""
    dealer = zctx.socket(zmq.DEALER)
    dealer.connect(f"tcp://127.0.0.1:{port}")
    dealer.send_multipart([b"", (0).to_bytes(8, "big")])
    replayed = {}
    while True:
        frames = recv(dealer)
        assert frames[0] == b"", "a DEALER sees the ROUTER's empty delimiter first"
        if vllm_side.REPLAY_HAS_TOPIC:
            # vLLM >= 0.26: (empty, topic, seq, payload); end: (empty, b"", -1, b"").
            assert len(frames) == 4, f"vLLM {vllm_side.VERSION}: {len(frames)} frames"
            topic, seq, payload = frames[1:]
        else:
            # vLLM <= 0.25: (empty, seq, payload); end: (empty, -1, b"").
            assert len(frames) == 3, f"vLLM {vllm_side.VERSION}: {len(frames)} frames"
            topic, (seq, payload) = None, frames[1:]
        if seq == END_SEQ:
            assert payload == b"" and topic in (None, b"")
            break
        assert topic in (None, b"kv-events")
        replayed[int.from_bytes(seq, "big")] = payload
    dealer.close(linger=0)
    assert sorted(replayed) == list(range(len(replayed))), "replay starts at 0, no holes"
    for _, seq, payload in live:
        assert replayed[int.from_bytes(seq, "big")] == payload, "replay differs from live"
