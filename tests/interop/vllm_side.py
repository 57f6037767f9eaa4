"""vLLM's own code, driven the way vLLM's scheduler drives it.

Nothing here re-implements vLLM: block hashes come from a real vllm.v1.request.Request
with vLLM's request block hasher, events from a real BlockPool, and the wire from a
real ZmqEventPublisher. What this module adds is the glue a scheduler step would do
(allocate, cache full blocks, free, take events, publish) and the facts the tests
compare against, keyed by vLLM version where vLLM changed.
"""

import contextlib
import itertools
import os
import time

import vllm
from vllm.distributed import kv_events
from vllm.distributed.kv_events import KVEventBatch, ZmqEventPublisher
from vllm.lora.request import LoRARequest
from vllm.sampling_params import SamplingParams
from vllm.utils.hashing import sha256_cbor
from vllm.v1.core import kv_cache_utils
from vllm.v1.core.block_pool import BlockPool
from vllm.v1.request import Request

VERSION = vllm.__version__
VERSION_TUPLE = tuple(int(p) for p in VERSION.split("+")[0].split(".")[:3])

# Facts about vLLM's wire and hashing by version, read from vLLM's sources 0.23 .. 0.33.
# Events are msgspec structs with array_like=True up to 0.23 (arrays), maps from 0.24.
EVENTS_AS_ARRAYS = VERSION_TUPLE < (0, 24, 0)
# Replay replies gained the topic frame in 0.26: (topic, seq, payload), before (seq, payload).
REPLAY_HAS_TOPIC = VERSION_TUPLE >= (0, 26, 0)


def default_none_hash_seed():
    """The NONE_HASH seed vLLM uses when PYTHONHASHSEED is unset, or None when it draws a
    random one per process (vLLM < 0.29)."""
    return getattr(kv_cache_utils, "DEFAULT_NONE_HASH_SEED", None)


def init_none_hash(seed):
    """Runs vLLM's init_none_hash(sha256_cbor) as an engine started with PYTHONHASHSEED=seed
    (None: unset) would, and returns NONE_HASH. vLLM reads the variable when called."""
    old = os.environ.get("PYTHONHASHSEED")
    try:
        if seed is None:
            os.environ.pop("PYTHONHASHSEED", None)
        else:
            os.environ["PYTHONHASHSEED"] = seed
        kv_cache_utils.init_none_hash(sha256_cbor)
    finally:
        if old is None:
            os.environ.pop("PYTHONHASHSEED", None)
        else:
            os.environ["PYTHONHASHSEED"] = old
    return kv_cache_utils.NONE_HASH


_request_ids = itertools.count()


def make_request(tokens, block_size, lora_name=None, cache_salt=None):
    """A vLLM Request whose block_hashes vLLM computes on construction (call
    init_none_hash first)."""
    lora = None
    if lora_name is not None:
        lora = LoRARequest(lora_name=lora_name, lora_int_id=1, lora_path=f"/adapters/{lora_name}")
    return Request(
        request_id=f"interop-{next(_request_ids)}",
        prompt_token_ids=list(tokens),
        sampling_params=SamplingParams(max_tokens=1),
        pooling_params=None,
        lora_request=lora,
        cache_salt=cache_salt,
        block_hasher=kv_cache_utils.get_request_block_hasher(block_size, sha256_cbor),
    )


def block_hashes(tokens, block_size, **kw):
    """vLLM's 32-byte block hashes of the full blocks of `tokens`."""
    return [bytes(h) for h in make_request(tokens, block_size, **kw).block_hashes]


def wire_hash(digest):
    """The form vLLM publishes a block hash in (an int by default)."""
    return kv_cache_utils.maybe_convert_block_hash(kv_cache_utils.BlockHash(digest))


def extra_keys_are_tagged():
    """vLLM >= 0.31 hashes LoRA and cache-salt extra keys as tagged tuples
    (("lora", name, path), ("cache_salt", salt)) rather than bare strings."""
    req = make_request([0], 16, lora_name="probe")  # no full block: no hashing
    return any(isinstance(k, tuple) for k in kv_cache_utils._gen_lora_extra_hash_keys(req))


class Engine:
    """One data-parallel rank of a vLLM engine: a BlockPool (the scheduler's KV cache
    bookkeeping, with events on) and the ZmqEventPublisher the scheduler publishes to.

    endpoint and replay_endpoint are given as for rank 0 (e.g. tcp://*:5557); vLLM
    itself offsets the port by the rank, as `vllm serve --data-parallel-size N` does.
    """

    def __init__(
        self,
        dp_rank,
        endpoint,
        replay_endpoint=None,
        topic="kv-events",
        block_size=16,
        num_gpu_blocks=64,
        hwm=100_000,
    ):
        self.dp_rank = dp_rank
        self.block_size = block_size
        self.pool = BlockPool(
            num_gpu_blocks=num_gpu_blocks,
            enable_caching=True,
            hash_block_size=block_size,
            enable_kv_cache_events=True,
        )
        self.publisher = ZmqEventPublisher(
            data_parallel_rank=dp_rank,
            endpoint=endpoint,
            replay_endpoint=replay_endpoint,
            topic=topic,
            hwm=hwm,
        )

    def store(self, tokens, **request_kw):
        """Prefill `tokens`: allocate blocks and cache the full ones (BlockStored).
        Returns (request, blocks); the blocks stay in use until release()."""
        req = make_request(tokens, self.block_size, **request_kw)
        n = len(req.block_hashes)
        blocks = self.pool.get_new_blocks(n)
        self.pool.cache_full_blocks(req, blocks, 0, n, self.block_size, 0)
        return req, blocks

    def release(self, blocks):
        """The request finished: vLLM frees its blocks tail first, so the last block is
        the first to be evicted."""
        self.pool.free_blocks(list(reversed(blocks)))

    def release_all(self):
        """Every request finished (blocks in use are freed in block-id order)."""
        for b in self.pool.blocks:
            if b.ref_cnt > 0 and not b.is_null:
                self.pool.free_blocks([b])

    def allocate(self, n):
        """Allocate n fresh blocks, evicting cached free blocks LRU-first (BlockRemoved),
        then free them again."""
        self.pool.free_blocks(self.pool.get_new_blocks(n))

    def reset_prefix_cache(self):
        """vLLM's /reset_prefix_cache (AllBlocksCleared); every block must be released."""
        if not self.pool.reset_prefix_cache():
            raise AssertionError("BlockPool.reset_prefix_cache refused: blocks still in use")

    def step(self):
        """The end of a scheduler step: take the pool's events and publish one batch.
        Returns the events."""
        events = self.pool.take_events()
        if events:
            self.publish(events)
        return events

    def publish(self, events):
        self.publisher.publish(KVEventBatch(ts=time.time(), events=list(events)))

    def close(self):
        self.publisher.shutdown()


@contextlib.contextmanager
def engines(*specs):
    """Engine(**spec) for each spec, shut down on exit."""
    made = []
    try:
        for spec in specs:
            made.append(Engine(**spec))
        yield made
    finally:
        for e in made:
            e.close()


MEDIA = {
    name: getattr(kv_events, name)
    for name in ("MEDIUM_GPU", "MEDIUM_CPU", "MEDIUM_STORAGE")
    if hasattr(kv_events, name)
}
