"""The Kubernetes API client, one adapter shared by the sensors and the executor.

Raw JSON calls through kubernetes-asyncio's `ApiClient`, so the sensors read and the executor
writes exactly what the API server speaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import structlog

from warroom.kube import retry

log = structlog.get_logger(__name__)


class KubeUnavailable(RuntimeError):
    """The API server could not be reached or configured."""


class KubeCallFailed(Exception):
    """One attempt of a call got no answer (`failure` says how); internal to `request`."""

    def __init__(self, failure: retry.Failure, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}".rstrip(": "))
        self.failure = failure


@dataclass
class KubeResponse:
    status: int
    data: Any  # parsed JSON, or text for logs
    text: str
    attempts: int = 1  # how many times the call was sent (see kube.retry)

    @property
    def ok(self) -> bool:
        """Tell whether the call succeeded (2xx)."""
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        """Return the API's error message (a Status' `message`), or the body."""
        if isinstance(self.data, dict) and self.data.get("message"):
            return str(self.data["message"])
        return self.text.strip()[:500] or f"HTTP {self.status}"


class KubeApi:
    """Raw JSON access to the API server through kubernetes-asyncio's `ApiClient`.

    The configuration is loaded once, on first use, from `kubeconfig` (a path), or in-cluster
    configuration when running in a pod, or `~/.kube/config`. HTTP sessions live only as
    long as a `session()` block (one per sensor run or execution), or one request outside
    any, so nothing is left open between workflow steps.
    """

    def __init__(self, kubeconfig: str = "", *, timeout: float = 10.0, retries: int = 3) -> None:
        self.kubeconfig = kubeconfig
        self.timeout = timeout
        self.retries = retries  # further attempts of a call kube.retry judges safe to resend
        self._configuration: Any = None
        self._client: Any = None
        self._users = 0
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[KubeApi]:
        """Share one HTTP session across the requests of a block (nesting is fine)."""
        async with self._lock:
            if self._users == 0:
                # lazy: cold import cost (python -X importtime): kubernetes_asyncio ~1750 ms; kept
                # off the module's import path
                from kubernetes_asyncio import client

                self._client = client.ApiClient(configuration=await self.configuration())
            self._users += 1
        try:
            yield self
        finally:
            self._users -= 1
            if self._users == 0 and self._client is not None:
                live, self._client = self._client, None
                await live.close()

    async def configuration(self) -> Any:
        """Return the client configuration, loading it on first use."""
        if self._configuration is None:
            # lazy: cold import cost (python -X importtime): kubernetes_asyncio ~1750 ms; kept off
            # the module's import path
            from kubernetes_asyncio import client, config

            configuration = client.Configuration()
            try:
                if self.kubeconfig:
                    await config.load_kube_config(config_file=self.kubeconfig,
                                                  client_configuration=configuration)
                else:
                    try:
                        config.load_incluster_config(client_configuration=configuration)
                    except config.ConfigException:
                        await config.load_kube_config(client_configuration=configuration)
            except (config.ConfigException, OSError, TypeError, ValueError) as exc:
                where = self.kubeconfig or "in-cluster or ~/.kube/config"
                raise KubeUnavailable(f"cannot load Kubernetes config ({where}): {exc}") from exc
            self._configuration = configuration
        return self._configuration

    async def request(self, method: str, path: str, *, body: Any = None,
                      content_type: str = "application/json",
                      query: list[tuple[str, str]] | None = None) -> KubeResponse:
        """Send one call (the path may carry a query string) and return status and JSON.

        A call is sent again (up to `retries` times, with a growing pause) only where
        `kube.retry` judges it safe: reads and dry runs after a 5xx, timeout or dropped
        connection, any call that never reached the server. A write that may have reached
        it raises `KubeUnavailable` saying so, or returns its 5xx answer: never sent twice.
        """
        if self._client is None:
            async with self.session():
                return await self.request(method, path, body=body, content_type=content_type,
                                          query=query)
        parts = urlsplit(path)
        params = parse_qsl(parts.query) + list(query or [])
        dry_run = ("dryRun", "All") in params
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._call(method, parts.path, params, body, content_type)
            except KubeCallFailed as exc:
                verdict = retry.classify_failure(method, exc.failure, dry_run=dry_run)
                if not verdict.retry or attempt > self.retries:
                    tried = f" (after {attempt} attempts)" if attempt > 1 else ""
                    raise KubeUnavailable(f"{method} {path}: {exc}{tried}; "
                                          f"{verdict.reason}") from exc.__cause__
            else:
                verdict = retry.classify_status(method, response.status, dry_run=dry_run)
                if not verdict.retry or attempt > self.retries:
                    response.attempts = attempt
                    return response
            log.info("kubernetes call retried", method=method, path=path, attempt=attempt,
                     reason=verdict.reason)
            await asyncio.sleep(retry.backoff(attempt))

    async def _call(self, method: str, path: str, params: list[tuple[str, str]], body: Any,
                    content_type: str) -> KubeResponse:
        # lazy: cold import cost (python -X importtime): aiohttp ~290 ms; kept off the module's
        # import path
        import aiohttp

        try:
            raw = await self._client.call_api(
                path, method, query_params=params or None,
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                body=body, auth_settings=["BearerToken"], _preload_content=False,
                _request_timeout=self.timeout)
            try:
                text = await raw.text()
                code = raw.status
            finally:
                raw.release()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError,
                ConnectionRefusedError) as exc:
            raise KubeCallFailed("connect", exc) from exc
        except TimeoutError as exc:  # aiohttp's ServerTimeoutError is one too
            raise KubeCallFailed("timeout", exc) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise KubeCallFailed("dropped", exc) from exc
        try:
            data: Any = json.loads(text) if text else None
        except ValueError:
            data = text
        return KubeResponse(status=code, data=data, text=text)

    async def list(self, path: str) -> list[dict[str, Any]]:
        """GET a list and return its items with kind and apiVersion filled in."""
        response = await self.request("GET", path)
        if not response.ok:
            raise KubeUnavailable(f"GET {path}: {response.status} {response.message}")
        kind = str(response.data.get("kind", "")).removesuffix("List")
        version = response.data.get("apiVersion", "v1")
        return [{"apiVersion": version, "kind": kind, **item}
                for item in response.data.get("items", [])]

    async def close(self) -> None:
        """Close an HTTP session left open (none is, outside `session()` blocks)."""
        if self._client is not None:
            await self._client.close()
            self._client = None
            self._users = 0
