"""Real Alertmanager and Prometheus for the integration tests, installed and started on demand.

The Debian packages are installed when their binaries are missing (`apt-get update` once, then
`apt-get install`). Under CI=true a failure to install or start a service fails the test;
elsewhere the test is skipped with the reason. Each instance binds 127.0.0.1 on a free port
with a temporary config and data directory, and is stopped (its process group killed) at exit.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

from ci_env import IN_CI
from warroom.bench import processes


def unavailable(message: str) -> NoReturn:
    """Skip on a laptop; fail under CI, where the integration suite must run."""
    if IN_CI:
        pytest.fail(f"{message}: CI must run the integration suite", pytrace=False)
    pytest.skip(message)


def _binary(binary: str, what: str) -> str:
    problem = processes.ensure_binary(binary)
    if problem:
        unavailable(f"{what} is not available: {problem}")
    return binary


@pytest.fixture(scope="session")
def alertmanager_binary() -> str:
    """The Alertmanager binary, installed from Debian's prometheus-alertmanager if missing."""
    return _binary(processes.ALERTMANAGER, "Alertmanager")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    """The Prometheus binary, installed from Debian's prometheus package if missing."""
    return _binary(processes.PROMETHEUS, "Prometheus")


@pytest.fixture(scope="session")
def chromium_binary() -> str:
    """Debian's Chromium, installed if missing, for the dashboard's headless browser tests."""
    return _binary(processes.CHROMIUM, "Chromium")


@contextmanager
def running(
    what: str, start: Callable[[], subprocess.Popen[bytes]]
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a process with `start` and stop it at exit; a failed start skips or fails."""
    try:
        proc = start()
    except RuntimeError as exc:
        unavailable(f"{what} did not start: {exc}")
    try:
        yield proc
    finally:
        processes.stop(proc)


@contextmanager
def alertmanager(binary: str, workdir: Path, config: str) -> Iterator[str]:
    """Run Alertmanager with `config` on a free loopback port; yield its base URL."""
    assert binary == processes.ALERTMANAGER
    port = processes.free_port()
    with running("Alertmanager", lambda: processes.start_alertmanager(port, workdir, config)):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def prometheus(binary: str, workdir: Path, config: str) -> Iterator[str]:
    """Run Prometheus with `config` on a free loopback port; yield its base URL."""
    assert binary == processes.PROMETHEUS
    port = processes.free_port()
    with running("Prometheus", lambda: processes.start_prometheus(port, workdir, config)):
        yield f"http://127.0.0.1:{port}"


def log_tail(path: Path, chars: int = 3000) -> str:
    """Return the end of a service's log, for a failure message."""
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError as exc:
        return f"(no log at {path}: {exc})"
