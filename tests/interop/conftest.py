"""pytest setup for the interop suite (see run.sh)."""

import pytest

import kvstash_side
import vllm_side


def pytest_report_header(config):
    return [
        f"vllm {vllm_side.VERSION} "
        f"(events as {'arrays' if vllm_side.EVENTS_AS_ARRAYS else 'maps'})",
        f"kvstash build dir: {kvstash_side.build_dir()}",
    ]


@pytest.fixture
def daemon_factory(tmp_path):
    """daemon_factory(engine_events=[...]) starts a kvstashd; all are stopped at teardown."""
    started = []

    def start(engine_events=(), extra_args=()):
        d = tmp_path / f"kvstashd-{len(started)}"
        d.mkdir()
        daemon = kvstash_side.Daemon(d, engine_events, extra_args)
        started.append(daemon)
        return daemon.start()

    yield start
    for d in started:
        d.stop()
