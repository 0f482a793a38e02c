"""`warroom sandbox ...`: record scenarios, run a sandbox, inject and list faults."""

from __future__ import annotations

import json
from pathlib import Path

import typer

sandbox_app = typer.Typer(help="The simulated shop cluster: record scenarios, inject faults.",
                          no_args_is_help=True)


def _base_url(url: str | None) -> str:
    from warroom.config import get_settings

    settings = get_settings()
    return (url or settings.sandbox_url or f"http://{settings.host}:{settings.port}").rstrip("/")


@sandbox_app.command("record")
def record_command(
    fault: str = typer.Option(..., "--fault", help="fault class (see SCENARIOS.md)"),
    out: Path = typer.Option(..., "--out", help="the scenario file to write"),  # noqa: B008
    difficulty: int = typer.Option(3, "--difficulty", min=1, max=5,
                                   help="1 obvious .. 5 subtle, with red herrings"),
    seed: int = typer.Option(7, "--seed", help="random seed (same seed, same scenario)"),
    service: str = typer.Option(None, "--service", help="target [default: the fault's own]"),
    namespace: str = typer.Option(None, "--namespace", help="the target's namespace"),
) -> None:
    """Run a fresh sandbox offline with one fault and write the scenario it leaves."""
    from warroom.sandbox.faults import FaultError
    from warroom.sandbox.recording import record

    try:
        scenario = record(fault, difficulty=difficulty, seed=seed, service=service,
                          namespace=namespace)
    except FaultError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(scenario, indent=1) + "\n")
    cause = scenario["expected"]["root_cause"]
    typer.echo(f"wrote {out}: {scenario['id']} ({len(scenario['alerts'])} webhooks; root cause "
               f"{cause['namespace']}/{cause['service']} {cause['fault']})")


@sandbox_app.command("inject")
def inject_command(
    fault: str = typer.Argument(..., help="fault class, e.g. bad_deploy"),
    service: str = typer.Option(None, "--service", help="target [default: the fault's own]"),
    namespace: str = typer.Option(None, "--namespace", help="the target's namespace"),
    severity: float = typer.Option(0.8, "--severity", min=0.01, max=1.0),
    onset: float = typer.Option(0.0, "--onset", min=0.0, help="seconds to full strength"),
    url: str = typer.Option(None, "--url", help="sandbox or warroom URL [default: "
                            "settings.sandbox_url, else http://host:port]"),
) -> None:
    """Inject a fault into a running sandbox and print its target."""
    import httpx

    from warroom.access.client import auth_headers

    base = _base_url(url)
    body = {"fault": fault, "service": service, "namespace": namespace, "severity": severity,
            "onset_seconds": onset}
    try:
        response = httpx.post(f"{base}/api/v1/sandbox/faults", json=body, timeout=10,
                              headers=auth_headers())
    except httpx.HTTPError as exc:
        typer.echo(f"error: no sandbox at {base}: {exc}", err=True)
        raise typer.Exit(1) from exc
    if response.status_code != 201:
        detail = response.json().get("detail") if response.headers.get(
            "content-type", "").startswith("application/json") else response.text
        typer.echo(f"error: {base} refused the fault ({response.status_code}): {detail}",
                   err=True)
        raise typer.Exit(2)
    injected = response.json()
    typer.echo(f"injected {injected['fault']} ({injected['id']}) into {injected['target']}")


@sandbox_app.command("faults")
def faults_command(
    url: str = typer.Option(None, "--url", help="sandbox or warroom URL"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """List the faults injected into a running sandbox."""
    import httpx

    from warroom.access.client import auth_headers

    base = _base_url(url)
    try:
        response = httpx.get(f"{base}/api/v1/sandbox/faults", timeout=10,
                             headers=auth_headers())
        response.raise_for_status()
    except httpx.HTTPError as exc:
        typer.echo(f"error: no sandbox at {base}: {exc}", err=True)
        raise typer.Exit(1) from exc
    faults = response.json()["faults"]
    if as_json:
        typer.echo(json.dumps(faults, indent=1))
        return
    if not faults:
        typer.echo("no faults injected")
    for fault in faults:
        typer.echo(f"{fault['id']:>4}  {fault['fault']:<22} {fault['target']:<40} "
                   f"severity {fault['severity']:.2f}  since {fault['started']}")


@sandbox_app.command("run")
def run_command(
    port: int = typer.Option(None, "--port", help="loopback port [default: "
                             "settings.sandbox_port; 0 picks a free one]"),
    webhook_url: str = typer.Option(None, "--webhook-url", help="where alerts are posted "
                                    "[default: warroom's /api/v1/alerts/alertmanager]"),
) -> None:
    """Serve a sandbox on its own: Kubernetes API, Prometheus API, /metrics, webhooks."""
    import asyncio

    from warroom.config import get_settings
    from warroom.sandbox.runtime import SandboxRuntime

    settings = get_settings()
    if port is not None:
        settings = settings.model_copy(update={"sandbox_port": port})

    async def main() -> None:
        from warroom.access.client import auth_headers

        runtime = SandboxRuntime(settings, webhook_url=webhook_url)
        runtime.webhook_headers = auth_headers(settings)  # WARROOM_TOKEN, for warroom's ingest
        await runtime.start()
        typer.echo(f"sandbox on {runtime.url} (kubeconfig {runtime.kubeconfig_path}; "
                   f"Prometheus {runtime.url}/api/v1/query_range; alerts to "
                   f"{runtime.webhook_url or 'nowhere'})")
        try:
            await asyncio.Event().wait()
        finally:
            await runtime.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


def register(app: typer.Typer) -> None:
    """Add the `sandbox` group and `demo` to the warroom command."""
    app.add_typer(sandbox_app, name="sandbox")
    app.command("demo")(demo_command)


def demo_command(
    headless: bool = typer.Option(False, "--headless", help="no prompts: run and summarise"),
    faults: int = typer.Option(5, "--faults", min=1, help="how many faults to inject"),
    auto_approve: bool = typer.Option(False, "--auto-approve",
                                      help="let the demo policy approve low/medium risk"),
    only: list[str] = typer.Option(None, "--fault", help="only these fault classes"),  # noqa: B008
    speed: float = typer.Option(1.0, "--speed", min=0.1, max=10.0,
                                help="clock speed (1.0: 15 simulated s per 0.5 s)"),
    timeout: float = typer.Option(90.0, "--fault-timeout", help="seconds per fault"),
) -> None:
    """Run the sandbox and warroom together and follow faults from alert to verification."""
    import asyncio
    import logging
    import sys

    from rich.console import Console

    from warroom.config import get_settings
    from warroom.sandbox.demo import run_demo

    console = Console(width=None if sys.stdout.isatty() else 160)  # CI logs: keep rows whole
    settings = get_settings()
    # the demo's account narrates every step: warroom's own info lines would only repeat it
    logging.getLogger("warroom").setLevel(max(logging.WARNING, logging.getLogger().level))
    # the configured home keeps the demo's incidents for `warroom stats` and `warroom serve`
    runs = asyncio.run(run_demo(settings, faults=faults, auto_approve=auto_approve,
                                headless=headless, console=console, speed=speed,
                                fault_timeout=timeout, only=only or None, home=settings.home))
    incomplete = [r.fault for r in runs if not r.complete]
    if incomplete:
        console.print(f"[red]not every step ran for: {', '.join(incomplete)}[/]")
        raise typer.Exit(1)
