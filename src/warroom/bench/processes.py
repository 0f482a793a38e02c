"""Start and stop real processes: warroom itself, Alertmanager and Prometheus.

The benchmarks and the integration tests (tests/integration) share these helpers. Alertmanager
and Prometheus come from the Debian packages, installed on demand; each instance binds
127.0.0.1 only and runs in its own process group with a throw-away config and data directory.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
PROMETHEUS = "/usr/bin/prometheus"
CHROMIUM = "/usr/bin/chromium"  # the dashboard's browser tests
PACKAGES = {ALERTMANAGER: "prometheus-alertmanager", PROMETHEUS: "prometheus",
            CHROMIUM: "chromium"}
NULL_ROUTE = "route:\n  receiver: blackhole\n  group_wait: 1m\nreceivers:\n  - name: blackhole\n"
_apt_updated = False


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


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) a running process used so far (Linux), 0 if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "; utime and stime next
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a process we started (its whole group when it leads one); kill it if it lingers."""
    if proc.poll() is not None:
        return
    group = _own_group(proc)
    _signal(proc, group, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        _signal(proc, group, signal.SIGKILL)
        proc.wait()


def _own_group(proc: subprocess.Popen[bytes]) -> bool:
    try:
        return os.getpgid(proc.pid) == proc.pid
    except ProcessLookupError:
        return False


def _signal(proc: subprocess.Popen[bytes], group: bool, sig: signal.Signals) -> None:
    try:
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    except ProcessLookupError:
        pass


def start_warroom(
    port: int, env: Mapping[str, str], log: Path, args: tuple[str, ...] = ()
) -> subprocess.Popen[bytes]:
    """Start `warroom serve` in its own process on 127.0.0.1:`port` and wait for /healthz."""
    command = [sys.executable, "-c", "from warroom.cli import app; app()", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), *args]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
    except RuntimeError as exc:
        stop(proc)
        raise RuntimeError(f"warroom did not start:\n{log.read_text()[-2000:]}") from exc
    return proc


def mint_token(database_url: str, name: str = "bench", role: str = "admin") -> str:
    """Create an API token in the database a `warroom serve` will use (migrating it first)."""
    # lazy: cold import cost (python -X importtime): warroom.access.service ~1193 ms (pulls rich,
    # sqlalchemy), warroom.access.models ~256 ms, warroom.store.db ~1022 ms (pulls rich,
    # sqlalchemy), warroom.store.migrate ~1149 ms (pulls alembic, sqlalchemy); kept off the module's
    # import path
    from warroom.access import service
    from warroom.access.models import Role
    from warroom.store.db import make_engine, make_sessionmaker, transaction
    from warroom.store.migrate import upgrade

    async def run() -> str:
        engine = make_engine(database_url)
        try:
            await upgrade(engine)
            async with transaction(make_sessionmaker(engine)) as session:
                new = await service.create_token(session, name=name, role=Role(role), days=1,
                                                 actor="bench")
            return new.token
        finally:
            await engine.dispose()

    return asyncio.run(run())


def ensure_alertmanager() -> str | None:
    """Return why Alertmanager cannot run here, installing the Debian package if need be."""
    return ensure_binary(ALERTMANAGER)


def ensure_prometheus() -> str | None:
    """Return why Prometheus cannot run here, installing the Debian package if need be."""
    return ensure_binary(PROMETHEUS)


def ensure_binary(binary: str) -> str | None:
    """Return why `binary` cannot run here, installing its Debian package if need be.

    The package lists are refreshed once per process (`apt-get update`), before the first
    install; apt waits up to two minutes for a dpkg lock another installer holds.
    """
    global _apt_updated
    if Path(binary).exists():
        return None
    package = PACKAGES.get(binary)
    if package is None:
        return f"{binary} is missing and no Debian package is known to provide it"
    if shutil.which("apt-get") is None:
        return f"apt-get is not available to install {package} ({binary} is missing)"
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    apt = [*sudo, "apt-get", "-q", "-o", "DPkg::Lock::Timeout=120"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        update = subprocess.run([*apt, "update"], capture_output=True, text=True, env=env)
        if update.returncode != 0:
            return f"apt-get update failed: {update.stderr.strip()[-300:]}"
        _apt_updated = True
    result = subprocess.run(
        [*apt, "install", "-y", "--no-install-recommends", package],
        capture_output=True,
        text=True,
        env=env,
    )
    if result.returncode != 0 or not Path(binary).exists():
        return f"installing {package} failed: {result.stderr.strip()[-300:]}"
    return None


def start_alertmanager(
    port: int, workdir: Path, config: str = NULL_ROUTE
) -> subprocess.Popen[bytes]:
    """Start a throw-away Alertmanager on 127.0.0.1 (no cluster port); default: a null receiver."""
    config_file = workdir / "alertmanager.yml"
    config_file.write_text(config)
    (workdir / "alertmanager-data").mkdir(exist_ok=True)
    command = [
        ALERTMANAGER,
        f"--config.file={config_file}",
        f"--storage.path={workdir / 'alertmanager-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        f"--web.external-url=http://127.0.0.1:{port}",
    ]
    return _start_service("Alertmanager", command, port, workdir / "alertmanager.log")


def start_prometheus(port: int, workdir: Path, config: str) -> subprocess.Popen[bytes]:
    """Start a throw-away Prometheus on 127.0.0.1 with `config` (YAML) and a fresh TSDB."""
    config_file = workdir / "prometheus.yml"
    config_file.write_text(config)
    (workdir / "prometheus-data").mkdir(exist_ok=True)
    command = [
        PROMETHEUS,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={workdir / 'prometheus-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url=http://127.0.0.1:{port}",
    ]
    return _start_service("Prometheus", command, port, workdir / "prometheus.log")


def _start_service(
    name: str, command: list[str], port: int, log: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", proc)
    except RuntimeError as exc:
        stop(proc)
        raise RuntimeError(f"{name} did not start ({exc}):\n{log.read_text()[-2000:]}") from exc
    return proc
