"""kvstashd follows vLLM engines' KV events and answers placement from them.

Each engine rank is vLLM's own BlockPool + ZmqEventPublisher (vllm_side.Engine),
driven as vLLM's scheduler drives them; kvstashd subscribes with
--engine-events WORKER=ENDPOINT and is asked POST /v1/placement and GET /v1/workers.
"""

import json
import threading
import time

import pytest

import kvstash_side
import vllm_side
from kvstash_side import overlap, wait_for, worker_entry

BLOCK = 16
TOKENS = [(104729 * i + 17) % 151000 for i in range(4 * BLOCK + 3)]  # 4 full blocks
# vLLM >= 0.29 has a fixed NONE_HASH seed when PYTHONHASHSEED is unset: run the engines
# the way they are usually run. Older vLLM needs PYTHONHASHSEED for stable hashes.
SEED = None if vllm_side.default_none_hash_seed() is not None else "0"


def wire_hashes(tokens, block_size=BLOCK):
    return [vllm_side.wire_hash(h) for h in vllm_side.block_hashes(tokens, block_size)]


def sentinel_tokens(k, block_size=BLOCK):
    return [140000 + 1000 * k + i for i in range(block_size)]


def wait_subscribed(daemon, engine, worker, sentinel):
    """PUB drops messages until kvstashd's subscription reaches it (ZMQ's slow joiner):
    republish one BlockStored of `sentinel` until kvstashd has it, so later events are
    not lost. Leaves the sentinel block cached on the engine."""
    engine.store(sentinel)
    events = engine.pool.take_events()
    hashes = wire_hashes(sentinel, engine.block_size)

    def fetch():
        engine.publish(events)
        return daemon.placement({"block_hashes": hashes})

    wait_for(
        fetch,
        lambda a: overlap(a, worker, engine.dp_rank) >= 1,
        f"kvstashd to receive {worker} dp_rank {engine.dp_rank}'s first batch "
        "(is it subscribed to the right endpoint?)",
        interval_s=0.2,
    )


def engine_stats(daemon):
    try:
        return json.dumps(daemon.workers().get("engines"), indent=1)
    except AssertionError as e:
        return str(e)


def ours(answer):
    """Our engines' (worker, dp_rank) -> device overlap, in the answer's order; ranks
    with no overlap may be listed or not."""
    return {
        (c["worker"], c["dp_rank"]): c["overlap"]["device"]
        for c in answer["candidates"]
        if c["worker"].startswith("engine-") and c["overlap"]["device"] > 0
    }


def test_placement_follows_stored_removed_cleared(daemon_factory):
    """engine-a publishes as DP rank 0, engine-b as DP rank 1 (vLLM binds rank r at the
    configured port + r); kvstashd takes each batch's data_parallel_rank."""
    vllm_side.init_none_hash(SEED)
    (a_port,) = kvstash_side.free_ports(1)
    b_base, b_port = kvstash_side.free_ports(2, consecutive=True)
    specs = [
        {"dp_rank": 0, "endpoint": f"tcp://*:{a_port}", "num_gpu_blocks": 1 + 1 + 4},
        {"dp_rank": 1, "endpoint": f"tcp://*:{b_base}"},
    ]
    with vllm_side.engines(*specs) as (a0, b1):
        daemon = daemon_factory(
            engine_events=[
                f"engine-a=tcp://127.0.0.1:{a_port}",
                f"engine-b=tcp://127.0.0.1:{b_port}",
            ]
        )
        wait_subscribed(daemon, a0, "engine-a", sentinel_tokens(0))
        wait_subscribed(daemon, b1, "engine-b", sentinel_tokens(1))
        run_store_remove_clear(daemon, a0, ("engine-a", 0), b1, ("engine-b", 1))


def test_data_parallel_ranks_of_one_engine(daemon_factory):
    """One vLLM engine with --data-parallel-size 2 publishes rank r on the configured
    port + r, so kvstashd needs the same worker on two endpoints; each rank is its own
    placement candidate and AllBlocksCleared from rank 0 leaves rank 1 alone."""
    vllm_side.init_none_hash(SEED)
    base, _ = kvstash_side.free_ports(2, consecutive=True)
    specs = [
        {"dp_rank": 0, "endpoint": f"tcp://*:{base}", "num_gpu_blocks": 1 + 1 + 4},
        {"dp_rank": 1, "endpoint": f"tcp://*:{base}"},
    ]
    with vllm_side.engines(*specs) as (a0, a1):
        daemon = daemon_factory(
            engine_events=[
                f"engine-a=tcp://127.0.0.1:{base}",
                f"engine-a=tcp://127.0.0.1:{base + 1}",
            ]
        )
        wait_subscribed(daemon, a0, "engine-a", sentinel_tokens(0))
        wait_subscribed(daemon, a1, "engine-a", sentinel_tokens(1))
        run_store_remove_clear(daemon, a0, ("engine-a", 0), a1, ("engine-a", 1))


def run_store_remove_clear(daemon, a0, a_key, b1, b_key):
    """a0 stores 4 blocks and b1 2 of the same prefix; a0 evicts one, then clears."""
    hashes = wire_hashes(TOKENS)
    assert len(hashes) == 4

    a0_req, a0_blocks = a0.store(TOKENS)  # 4 blocks
    b1.store(TOKENS[: 2 * BLOCK + 8])  # 2 full blocks
    for e in (a0, b1):
        assert e.step(), "vLLM's BlockPool produced no events"
    assert [vllm_side.wire_hash(h) for h in a0_req.block_hashes] == hashes

    want = {a_key: 4, b_key: 2}
    query = {"block_hashes": hashes}
    answer = wait_for(
        lambda: daemon.placement(query), lambda a: ours(a) == want, f"device overlaps {want}"
    )
    check_answer_shape(answer)
    assert list(ours(answer)) == list(want), "candidates are not best first"
    first = answer["candidates"][0]
    assert (first["worker"], first["dp_rank"]) == a_key, answer
    costs = [c["cost"] for c in answer["candidates"]]
    assert costs == sorted(costs), f"candidates not in cost order: {costs}"

    by_tokens = {"token_ids": TOKENS, "block_size": BLOCK, "hash_scheme": "sha256_cbor"}
    if SEED is not None:
        by_tokens["hash_seed"] = SEED
    answer = daemon.placement(by_tokens)
    assert ours(answer) == want, (
        f"asking by token ids (kvstashd hashing them, seed {SEED or 'default'}) differs "
        f"from asking by vLLM's hashes:\n{json.dumps(answer, indent=1)}"
    )

    # The request ends; a new one needs a block: vLLM evicts the tail block first.
    a0.release(a0_blocks)
    a0.allocate(1)
    assert [type(e).__name__ for e in a0.step()] == ["BlockRemoved"]
    want[a_key] = 3
    wait_for(lambda: daemon.placement(query), lambda a: ours(a) == want, f"overlaps {want}")

    # /reset_prefix_cache on a0 only: b1 keeps its blocks.
    a0.release_all()
    a0.reset_prefix_cache()
    assert [type(e).__name__ for e in a0.step()] == ["AllBlocksCleared"]
    del want[a_key]
    wait_for(
        lambda: daemon.placement(query),
        lambda a: ours(a) == want,
        f"{a_key} cleared, {b_key} still {want[b_key]}",
    )

    workers = daemon.workers()
    blocks = {}
    for key in (a_key, b_key):
        entry = worker_entry(workers, *key)
        if key == a_key and entry is None:
            blocks[key] = 0  # a cleared rank may be dropped from the list
            continue
        assert entry is not None, f"/v1/workers lacks {key}:\n{json.dumps(workers)}"
        assert isinstance(entry["last_seen_s"], (int, float)) and 0 <= entry["last_seen_s"] < 60
        blocks[key] = entry["blocks"]
    # b1 also holds the sentinel block from wait_subscribed; a0 was cleared.
    assert blocks == {a_key: 0, b_key: 3}, json.dumps(workers, indent=1)


def check_answer_shape(answer):
    assert isinstance(answer.get("fetch_hints"), list), answer
    for c in answer["candidates"]:
        for key in ("worker", "dp_rank", "overlap", "prefill_blocks", "load", "cost"):
            assert key in c, f"candidate lacks {key!r}: {c}"
        for medium in ("device", "host", "disk", "remote"):
            assert isinstance(c["overlap"].get(medium), int), f"overlap lacks {medium}: {c}"


TIER_OF_MEDIUM = {"MEDIUM_GPU": "device", "MEDIUM_CPU": "host", "MEDIUM_STORAGE": "disk"}


@pytest.mark.parametrize("name", sorted(vllm_side.MEDIA))
def test_medium_maps_to_overlap_tier(daemon_factory, name):
    """BlockStored with each medium this vLLM defines: GPU from the scheduler's pool,
    CPU and STORAGE (vLLM >= 0.27) from its KV offloading (CPU memory, disk)."""
    from vllm.distributed.kv_events import BlockStored

    vllm_side.init_none_hash(SEED)
    (port,) = kvstash_side.free_ports(1)
    with vllm_side.engines({"dp_rank": 0, "endpoint": f"tcp://*:{port}"}) as (engine,):
        daemon = daemon_factory(engine_events=[f"engine-m=tcp://127.0.0.1:{port}"])
        wait_subscribed(daemon, engine, "engine-m", sentinel_tokens(9))
        tokens = TOKENS[: 2 * BLOCK]
        digests = vllm_side.block_hashes(tokens, BLOCK)
        hashes = [vllm_side.wire_hash(d) for d in digests]
        engine.publish(
            [
                BlockStored(
                    block_hashes=hashes,
                    parent_block_hash=None,
                    token_ids=tokens,
                    block_size=BLOCK,
                    lora_id=None,
                    medium=vllm_side.MEDIA[name],
                    lora_name=None,
                )
            ]
        )
        tier = TIER_OF_MEDIUM[name]
        try:
            wait_for(
                lambda: daemon.placement({"block_hashes": hashes}),
                lambda a: overlap(a, "engine-m", 0, tier) == 2,
                f'2 blocks of medium "{vllm_side.MEDIA[name]}" counted as overlap.{tier}',
                timeout_s=5,
            )
        except AssertionError as e:
            raise AssertionError(f"{e}\nsubscriber stats: {engine_stats(daemon)}") from None


def subscriber_stats(daemon, worker):
    for s in daemon.workers().get("engines", []):
        if s.get("worker") == worker:
            return s
    return {}


def wait_drained(daemon, worker, quiet_s=0.5, timeout_s=30):
    """Waits until kvstashd has received no message from `worker` for quiet_s."""
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        messages = subscriber_stats(daemon, worker).get("messages")
        if messages != last:
            last, since = messages, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.05)
    raise AssertionError(f"kvstashd kept receiving from {worker} for {timeout_s} s")


def test_gap_is_filled_from_replay(daemon_factory):
    """Stop kvstashd (SIGSTOP) while an engine publishes more than the socket buffers
    and vLLM's PUB high-water mark hold: ZMQ drops the overflow, kvstashd sees a seq
    gap when it resumes and must fetch the missing batches from vLLM's replay socket."""
    big_block = 256
    steps, blocks_per_step = 300, 64
    vllm_side.init_none_hash(SEED)
    (pub_port, replay_port) = kvstash_side.free_ports(2)
    spec = {
        "dp_rank": 0,
        "endpoint": f"tcp://*:{pub_port}",
        "replay_endpoint": f"tcp://*:{replay_port}",
        "block_size": big_block,
        "num_gpu_blocks": 3 + steps * blocks_per_step,
        "hwm": 8,
    }
    with vllm_side.engines(spec) as (engine,):
        daemon = daemon_factory(
            engine_events=[
                f"engine-r=tcp://127.0.0.1:{pub_port};replay=tcp://127.0.0.1:{replay_port}"
            ]
        )
        wait_subscribed(daemon, engine, "engine-r", sentinel_tokens(7, big_block))
        # Token ids >= 65536 take 5 bytes each: ~80 KB per batch, ~25 MB in all.
        step_tokens = [
            [100000 + (s * 7919 + i) % 50000 for i in range(blocks_per_step * big_block)]
            for s in range(steps)
        ]
        daemon.pause()
        try:
            for tokens in step_tokens:
                engine.store(tokens)
                engine.step()
            drained = threading.Thread(target=engine.publisher._event_queue.join, daemon=True)
            drained.start()
            drained.join(60)  # vLLM's publisher thread has sent (or dropped) every batch
        finally:
            daemon.resume()
        # A gap shows only when a later batch arrives: the next scheduler step, sent
        # once kvstashd has drained its socket (sent earlier, ZMQ would drop it too).
        wait_drained(daemon, "engine-r")
        engine.store(sentinel_tokens(8, big_block))
        engine.step()
        first = wire_hashes(step_tokens[0], big_block)
        last = wire_hashes(step_tokens[-1], big_block)
        total = 2 + steps * blocks_per_step

        def done(workers):
            entry = worker_entry(workers, "engine-r", 0)
            return entry is not None and entry["blocks"] == total

        try:
            wait_for(daemon.workers, done, f"engine-r to hold {total} blocks", timeout_s=30)
        except AssertionError as e:
            frames = "(empty, topic, seq, payload)" if vllm_side.REPLAY_HAS_TOPIC else (
                "(empty, seq, payload)"
            )
            raise AssertionError(
                f"{e}\n(vLLM {vllm_side.VERSION}'s replay replies are {frames}, "
                "its end marker likewise with seq -1)"
            ) from None
        stats = subscriber_stats(daemon, "engine-r")
        if stats.get("gaps", 1) == 0:
            pytest.skip("no batch was dropped, so no gap to fill; raise steps")
        assert stats.get("replays", 0) >= 1 and stats.get("resyncs", 0) == 0, stats
        for hashes in (first, last):
            answer = daemon.placement({"block_hashes": hashes})
            assert overlap(answer, "engine-r", 0) == blocks_per_step, answer
