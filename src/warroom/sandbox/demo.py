"""`warroom demo`: the whole product on a laptop, against the sandbox, narrated in the terminal.

One process runs the sandbox and warroom (API, workflow worker). Faults are injected through
warroom's own `/api/v1/sandbox/faults`; the sandbox fires alerts to warroom's Alertmanager
endpoint; the demo follows each new decision through the public API — hypotheses, action,
approval (the terminal asks, or `--auto-approve` lets the demo policy approve low- and
medium-risk actions), execution through the Kubernetes adapter, and the verifier's verdict.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.access import service as access
from warroom.access.models import Role
from warroom.config import Settings
from warroom.domain.models import Hypothesis, ReadyPackage
from warroom.i18n.service import _, activate, local_time, utc_offset
from warroom.sandbox.runtime import SandboxRuntime
from warroom.store.db import transaction

# faults with a fix the sandbox can carry out, each on its own service so incidents stay apart
ROTATION: tuple[tuple[str, str], ...] = (
    ("bad_deploy", "checkout"), ("memory_limit_too_low", "cart"),
    ("image_pull_error", "orders"), ("traffic_surge", "catalog"), ("cpu_saturation", "search"),
    ("config_error", "payments"), ("memory_leak", "payments"), ("node_failure", "worker-3"),
)
FINAL = frozenset({"completed", "failed", "rejected", "expired"})
DEMO_RISKS = frozenset({"low", "medium"})


def _package(view: dict[str, Any]) -> ReadyPackage:
    """Read the package of a decision the API showed (past analyzing, it always has one)."""
    return ReadyPackage.model_validate(view["package"])


def _diagnosis(top: Hypothesis) -> str:
    return f"{top.service} {top.fault} {top.confidence:.2f}"


@dataclass
class FaultRun:
    """What happened to one injected fault, for the summary table."""

    fault: str
    target: str = ""
    diagnosis: str = "-"
    action: str = "-"
    approval: str = "-"
    execution: str = "-"
    verification: str = "-"
    seconds: float = 0.0
    complete: bool = False  # every step ran: diagnosis, approval, execution, verification


@dataclass
class DemoAccess:
    """The demo's own credentials: an admin token, and a token per approver it plays."""

    sessions: async_sessionmaker[AsyncSession]
    admin_token: str = ""
    _minted: dict[str, str] = field(default_factory=dict)

    async def mint(self, name: str, role: Role) -> str:
        """Create a one-day token for user `name` with `role` and return it."""
        async with transaction(self.sessions) as session:
            new = await access.create_token(session, name=name, role=role, days=1,
                                            actor="warroom-demo", description="warroom demo")
        return new.token

    @property
    def admin_headers(self) -> dict[str, str]:
        """Return the headers that sign a request in as the demo's admin."""
        return {"Authorization": f"Bearer {self.admin_token}"}

    async def headers(self, approver: str) -> dict[str, str]:
        """Return the headers that make a request as the approver `approver`."""
        if approver not in self._minted:
            self._minted[approver] = await self.mint(approver, Role.approver)
        return {"Authorization": f"Bearer {self._minted[approver]}"}


def demo_settings(base: Settings, home: Path, port: int, speed: float) -> Settings:
    """Return settings for an embedded, accelerated run under `home`."""
    return base.model_copy(update={
        "home": home, "database_url": "", "dbos_database_url": "", "host": "127.0.0.1",
        "port": port, "embedded_worker": True, "redis_url": "",
        "sandbox_tick_interval_seconds": 0.5 / speed, "verify_warmup_seconds": 4.0 / speed,
        "verify_timeout_seconds": 60.0, "approval_timeout_seconds": 600.0,
    })


@asynccontextmanager
async def embedded(
    settings: Settings,
) -> AsyncIterator[tuple[str, SandboxRuntime, DemoAccess]]:
    """Run the sandbox and warroom (API and worker) in this process; yield warroom's URL.

    Also yields the demo's credentials: an admin token created for user `demo` (the demo needs
    no setup: authentication stays on, and the token is printed for the dashboard).
    """
    # lazy: cold import cost (python -X importtime): uvicorn ~140 ms, warroom.api.app ~1032 ms
    # (pulls alembic, fastapi, opentelemetry, prometheus_client, sqlalchemy, starlette),
    # warroom.sandbox.embed ~1138 ms (pulls alembic, fastapi, opentelemetry, prometheus_client,
    # sqlalchemy, starlette); kept off the module's import path
    import uvicorn

    from warroom.api.app import container_of, create_app
    from warroom.sandbox.embed import install, prepare

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", settings.port))
    settings = settings.model_copy(update={"port": sock.getsockname()[1]})
    settings, runtime = prepare(settings)
    app = create_app(settings)
    install(app, runtime)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("warroom stopped while starting")
            await asyncio.sleep(0.05)
        credentials = DemoAccess(container_of(app).sessions)
        credentials.admin_token = await credentials.mint("demo", Role.admin)
        yield f"http://127.0.0.1:{settings.port}", runtime, credentials
    finally:
        server.should_exit = True
        await task


class Demo:
    """Injects faults one after another and follows each through warroom's public API."""

    def __init__(self, http: httpx.AsyncClient, runtime: SandboxRuntime, console: Console, *,
                 auto_approve: bool, interactive: bool, fault_timeout: float,
                 credentials: DemoAccess, timezone: str = "UTC") -> None:
        self.http = http
        self.credentials = credentials
        self.timezone = timezone
        self.runtime = runtime
        self.console = console
        self.auto_approve = auto_approve
        self.interactive = interactive
        self.fault_timeout = fault_timeout
        self.seen: set[str] = set()

    def say(self, stage: str, text: str) -> None:
        """Print one line of the account: the people's local time, the stage, what happened."""
        clock = local_time(datetime.now(UTC), self.timezone, "%H:%M:%S")
        pad = " " * max(0, 10 - cell_len(stage))  # CJK characters take two cells
        self.console.print(f"[dim]{clock}[/] [bold]{pad}{stage}[/] {text}", highlight=False)

    async def decisions(self) -> list[dict[str, Any]]:
        """Return every decision of every incident (newest incidents first)."""
        page = (await self.http.get("/api/v1/incidents", params={"limit": 100})).json()
        found = []
        for incident in page["items"]:
            detail = (await self.http.get(f"/api/v1/incidents/{incident['id']}")).json()
            latest = detail.get("decision") or {}
            for ref in latest.get("decisions", []):
                found.append({**ref, "incident": incident})
        return found

    async def decision(self, token: str) -> dict[str, Any]:
        """Return the full decision view."""
        response = await self.http.get(f"/api/v1/decisions/{token}")
        response.raise_for_status()
        return dict(response.json())

    async def run_fault(self, fault: str, service: str) -> FaultRun:
        """Inject one fault and follow it to a verification result (or a timeout)."""
        run = FaultRun(fault=fault)
        self.seen |= {d["token"] for d in await self.decisions()}
        started = time.monotonic()
        response = await self.http.post("/api/v1/sandbox/faults",
                                        json={"fault": fault, "service": service})
        response.raise_for_status()
        injected = response.json()
        run.target = injected["target"]
        self.say(_("fault"), _("[red]{fault}[/] injected into {target}").format(
            fault=fault, target=run.target))
        try:
            await asyncio.wait_for(self._follow(run), timeout=self.fault_timeout)
        except TimeoutError:
            self.say(_("timeout"), _("no verified outcome within {seconds:.0f} s").format(
                seconds=self.fault_timeout))
        run.seconds = time.monotonic() - started
        self.runtime.sandbox.clear(injected["id"])
        await self._settle()
        return run

    async def _follow(self, run: FaultRun) -> None:
        chosen = await self._pick(run)
        token = chosen["token"]
        view = await self.decision(token)
        package = _package(view)
        action = package.action
        run.action = f"{action.type} {action.target or ''}".strip() if action else "None"
        self.say(_("decision"), _(
            "{action} (risk {risk}, blast radius {blast}, confidence {confidence:.2f})").format(
            action=run.action, risk=package.risk, blast=package.blast_radius,
            confidence=package.confidence))
        if package.summary:
            self.say(_("debate"), package.summary[:300])
        if not await self._approve(view, package, run):
            return
        while view["status"] not in FINAL:
            await asyncio.sleep(0.25)
            previous = view["status"]
            view = await self.decision(token)
            if view["status"] != previous:
                self._narrate(view, run)
        run.complete = bool(view["status"] == "completed" and view.get("executions")
                            and view.get("verifications"))

    async def _pick(self, run: FaultRun) -> dict[str, Any]:
        """Wait for the new decisions; return the earliest raised with an executable action.

        One fix at a time: a cascade raises decisions on callers too, and the first raised is
        the one closest to the cause.
        """
        announced: set[str] = set()
        while True:
            await asyncio.sleep(0.25)
            candidates: list[tuple[str, dict[str, Any], list[Hypothesis]]] = []
            for ref in await self.decisions():
                token = ref["token"]
                if token in self.seen or ref["status"] == "analyzing":
                    continue
                incident = ref["incident"]
                if incident["id"] not in announced:
                    announced.add(incident["id"])
                    self.say(_("incident"), f"{incident['priority']} {incident['namespace']}/"
                             f"{incident['service']}: {incident.get('title', '')}")
                view = await self.decision(token)
                self.seen.add(token)
                package = _package(view)
                hypotheses = package.hypotheses
                if hypotheses and run.diagnosis == "-":
                    run.diagnosis = _diagnosis(hypotheses[0])
                for h in hypotheses[:3]:
                    self.say(_("hypothesis"), f"{h.namespace}/{h.service} {h.fault} "
                             f"({h.confidence:.2f})")
                action_type = package.action.type if package.action else None
                if view["status"] == "ready" and action_type not in (
                        None, "escalate", "no_action"):
                    candidates.append((str(view["created_at"]), dict(ref), hypotheses))
                    continue
                self.say(_("decided"), _("{action} for {service} ({status})").format(
                    action=action_type, service=incident["service"],
                    status=view["status"]))
            if candidates:
                _created, chosen, hypotheses = min(candidates, key=lambda c: c[0])
                run.diagnosis = _diagnosis(hypotheses[0]) if hypotheses else "None None 0.00"
                await self._reject_duplicates(chosen["token"])
                return chosen

    async def _reject_duplicates(self, keep: str) -> None:
        """Reject other ready decisions raised by the same fault: one fix at a time."""
        for ref in await self.decisions():
            if ref["token"] != keep and ref["status"] == "ready" and ref["token"] in self.seen:
                view = await self.decision(ref["token"])
                action = _package(view).action
                if action is None or action.type in ("escalate", "no_action"):
                    continue
                await self.http.post(f"/api/v1/decisions/{ref['token']}/reject", json={
                    "via": "policy", "comment": f"duplicate: decision {keep} handles this fault"},
                    headers=await self.credentials.headers("warroom-demo"))

    async def _approve(self, view: dict[str, Any], package: ReadyPackage,
                       run: FaultRun) -> bool:
        token = view["token"]
        risk = package.risk
        if view["status"] != "ready":
            run.approval = view["status"]  # the policy auto-executed it
            return True
        if self.auto_approve and risk in DEMO_RISKS:
            approver, comment = "demo-policy", f"demo policy: {risk} risk"
        elif self.interactive:
            answer = await asyncio.to_thread(
                self.console.input, _("approve {action}? \\[y/N] ").format(action=run.action))
            if answer.strip().lower() not in ("y", "yes"):
                await self.http.post(f"/api/v1/decisions/{token}/reject", json={
                    "via": "cli", "comment": "rejected in the demo"},
                    headers=await self.credentials.headers("terminal"))
                run.approval = "rejected"
                self.say(_("approval"), _("rejected in the terminal"))
                return False
            approver, comment = "terminal", "approved in the demo terminal"
        else:
            self.say(_("approval"), _(
                "waiting for a human ({risk} risk): POST /api/v1/decisions/{token}/approve"
            ).format(risk=risk, token=token))
            while (view := await self.decision(token))["status"] == "ready":
                await asyncio.sleep(0.5)
            run.approval = "by " + ", ".join(a["approver"] for a in view.get("approvals", []))
            return view["status"] != "rejected"
        for n in range(view.get("requires_approvals", 1)):
            # a critical action needs two distinct identities: the demo plays both
            who = f"{approver}-{n + 1}" if n else approver
            await self.http.post(f"/api/v1/decisions/{token}/approve", json={
                "via": "policy" if approver == "demo-policy" else "cli", "comment": comment},
                headers=await self.credentials.headers(who))
        run.approval = approver
        self.say(_("approval"), _("approved by {approver}").format(approver=approver))
        return True

    def _narrate(self, view: dict[str, Any], run: FaultRun) -> None:
        status = view["status"]
        executions = view.get("executions") or []
        if status in ("executing", "verifying", "completed", "failed") and executions:
            last = executions[-1]
            run.execution = f"{last['status']} ({last['executor']})"
            self.say(_("execution"), f"{last.get('kubectl') or run.action}: {last['status']}"
                     + (f" - {last['error']}" if last.get("error") else ""))
        verifications = view.get("verifications") or []
        if verifications:
            verdict = verifications[-1]
            run.verification = f"{verdict['verdict']} ({verdict['score']:.2f})"
            details = verdict.get("details") or {}
            colour = "green" if verdict["verdict"] == "success" else "yellow"
            self.say(_("verify"), _(
                "[{colour}]{verdict}[/] score {score:.2f}: root cause cleared {cleared}, "
                "alerts resolved {resolved}, regressions {regressions}").format(
                colour=colour, verdict=verdict["verdict"], score=verdict["score"],
                cleared=details.get("root_cause_cleared"),
                resolved=details.get("alerts_resolved"),
                regressions=details.get("regressions") or _("none")))
        if status in FINAL:
            self.say(_("closed"), _("decision {token} {status}").format(
                token=view["token"], status=status))

    async def _settle(self, limit: float = 20.0) -> None:
        """Wait until the sandbox's alerts have resolved before the next fault."""
        deadline = time.monotonic() + limit
        while self.runtime.sandbox.firing() and time.monotonic() < deadline:
            await asyncio.sleep(0.25)


def banner(url: str, sandbox: str, where: Path, timezone: str) -> str:
    """Say where everything runs and in which time zone the account's clock reads."""
    return _(
        "warroom on [bold]{url}[/] (dashboard and API), sandbox cluster on {sandbox}; "
        "data in {where}; times in {zone} ({offset})").format(
        url=url, sandbox=sandbox, where=where, zone=timezone, offset=utc_offset(timezone))


def summary(runs: list[FaultRun]) -> Table:
    """Return the summary table: fault, diagnosis, action, verification, time to resolve."""
    table = Table(title=_("warroom demo"))
    for column in (_("fault"), _("target"), _("diagnosis"), _("action"), _("approval"),
                   _("execution"), _("verification"), _("seconds")):
        table.add_column(column)
    for run in runs:
        table.add_row(run.fault, run.target, run.diagnosis, run.action, run.approval,
                      run.execution, run.verification, f"{run.seconds:.1f}",
                      style=None if run.complete else "red")
    return table


async def run_demo(base: Settings, *, faults: int, auto_approve: bool, headless: bool,
                   console: Console, speed: float = 1.0, fault_timeout: float = 90.0,
                   home: Path | None = None, only: list[str] | None = None) -> list[FaultRun]:
    """Run the demo end to end and return what happened to each fault."""
    for noisy in ("dbos", "uvicorn.error", "warroom.sandbox.runtime"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    activate(base.language)
    where = home or Path(tempfile.mkdtemp(prefix="warroom-demo-"))
    settings = demo_settings(base, where, 0, speed)
    rotation = [(f, s) for f, s in ROTATION if not only or f in only] or list(ROTATION)
    runs: list[FaultRun] = []
    async with embedded(settings) as (url, runtime, credentials):
        logging.getLogger("dbos").setLevel(logging.ERROR)  # DBOS resets it when it launches
        console.print(banner(url, runtime.url, where, settings.timezone))
        console.print(_("sign in to the dashboard at {url}/login, or use the API, with this "
                        "admin token (user [bold]demo[/]; for the CLI: export "
                        "WARROOM_TOKEN=...):").format(url=url), highlight=False)
        console.print(credentials.admin_token, highlight=False, soft_wrap=True)
        async with httpx.AsyncClient(base_url=url, timeout=15.0,
                                     headers=credentials.admin_headers) as http:
            demo = Demo(http, runtime, console, auto_approve=auto_approve,
                        interactive=not headless, fault_timeout=fault_timeout,
                        credentials=credentials, timezone=settings.timezone)
            for index in range(faults):
                fault, service = rotation[index % len(rotation)]
                runs.append(await demo.run_fault(fault, service))
    console.print(summary(runs))
    return runs
