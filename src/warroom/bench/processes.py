"""Start and stop the processes a benchmark measures: warroom itself, a real Alertmanager."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


def free_port() -> int:
    """Return a loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Wait until `url` answers 200, failing early if the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before answering")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def peak_rss_bytes(pid: int) -> int:
    """Return the peak resident set size of a running process (Linux VmHWM), 0 if unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a process we started, and kill it if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_warroom(
    port: int, env: Mapping[str, str], log: Path, args: tuple[str, ...] = ()
) -> subprocess.Popen[bytes]:
    """Start `warroom serve` in its own process on 127.0.0.1:`port` and wait for /healthz."""
    command = [sys.executable, "-c", "from warroom.cli import app; app()", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), *args]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
    except RuntimeError as exc:
        stop(proc)
        raise RuntimeError(f"warroom did not start:\n{log.read_text()[-2000:]}") from exc
    return proc


def ensure_alertmanager() -> str | None:
    """Return why Alertmanager cannot run here, installing the Debian package if need be."""
    if Path(ALERTMANAGER).exists():
        return None
    if shutil.which("apt-get") is None:
        return "apt-get is not available to install prometheus-alertmanager"
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    result = subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-q", "prometheus-alertmanager"],
        capture_output=True,
        text=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    if result.returncode != 0 or not Path(ALERTMANAGER).exists():
        return f"installing prometheus-alertmanager failed: {result.stderr.strip()[-300:]}"
    return None


def start_alertmanager(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    """Start a throw-away Alertmanager on 127.0.0.1 (no cluster port) with a null receiver."""
    config = workdir / "alertmanager.yml"
    config.write_text(
        "route:\n  receiver: blackhole\n  group_wait: 1m\nreceivers:\n  - name: blackhole\n"
    )
    (workdir / "data").mkdir(exist_ok=True)
    command = [
        ALERTMANAGER,
        f"--config.file={config}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        f"--web.external-url=http://127.0.0.1:{port}",
    ]
    log = workdir / "alertmanager.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", proc)
    except RuntimeError as exc:
        stop(proc)
        raise RuntimeError(f"Alertmanager did not start:\n{log.read_text()[-2000:]}") from exc
    return proc
