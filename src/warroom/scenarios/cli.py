"""`warroom replay`, `warroom eval` and `warroom scenarios generate`."""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from warroom.agents.llm.ports import LanguageModels

# -> the language models the replayed debates open (`warroom.llm.debate.LanguageModels`), built
# only when a replay runs
ModelsFactory = Callable[[], "LanguageModels"]

scenarios_app = typer.Typer(help="Scenario sets for replay and evaluation.",
                            no_args_is_help=True)


def _load(paths: list[Path], *, with_expected: bool) -> tuple[list[Any], list[str]]:
    from warroom.scenarios.replay import ScenarioError, load_scenario, scenario_paths

    loaded, errors = [], []
    try:
        files = scenario_paths(paths)
    except ScenarioError as exc:
        return [], [str(exc)]
    for path in files:
        try:
            loaded.append(load_scenario(path, with_expected=with_expected))
        except ScenarioError as exc:
            errors.append(str(exc))
    return loaded, errors


async def _replay_all(scenarios: list[Any], on_line: Any = None, backend: str | None = None,
                      model: str | None = None, *,
                      models: ModelsFactory | None) -> list[dict[str, Any]]:
    from warroom.config import Settings, get_settings
    from warroom.scenarios.replay import Replayer

    settings = get_settings()
    if backend or model:  # the command line wins over WARROOM_AGENT_BACKEND / WARROOM_LLM_MODEL
        data = settings.model_dump()
        data.update({k: v for k, v in (("agent_backend", backend), ("llm_model", model)) if v})
        if model:
            data["llm_base_url"] = settings.llm_base_url if not model.startswith("test:") else ""
        settings = Settings.model_validate(data)
    if models is None:
        typer.echo("error: this command line has no language models to hand the debate", err=True)
        raise typer.Exit(2)
    outputs = []
    async with Replayer(settings, models=models()) as replayer:
        # what is alive now (the loaded scenarios, the pipeline's modules) lives for the whole
        # command: freeze it, so that a full collection during a replay does not walk it all
        # again and bill that replay for the command's own data
        gc.collect()
        gc.freeze()
        for scenario in scenarios:
            line = await replayer.replay(scenario)
            outputs.append(line)
            if on_line is not None:
                on_line(line)
    return outputs


def _human(line: dict[str, Any]) -> str:
    hyps = line["hypotheses"]
    top = hyps[0] if hyps else None
    cause = (f"{top['fault']} on {(top['namespace'] + '/') if top['namespace'] else ''}"
             f"{top['service']} ({top['confidence']:.2f})") if top else "abstained"
    d = line["decision"]
    action = d["action"] or {}
    what = f"{action.get('type', '-')} {action.get('target') or ''}".strip()
    human = "human approval" if d["requires_human_approval"] else "auto-eligible"
    return (f"{line['scenario']}: {cause} -> {d['status']} {what} [{human}, risk {d['risk']}, "
            f"blast {d['blast_radius']}] {line['latency_ms']:.0f} ms")


BackendOption = Annotated[str | None, typer.Option(
    "--backend", help="rules, llm or hybrid for every agent (default: WARROOM_AGENT_BACKEND)")]
ModelOption = Annotated[str | None, typer.Option(
    "--model", help="the model of the one-provider shorthand (default: WARROOM_LLM_MODEL); "
    "test:agree, test:bogus, test:hang, test:error, test:garbage, test:hostile or "
    "test:misdirect run a scripted model")]


def _check_backend(backend: str | None) -> None:
    if backend is not None and backend not in ("rules", "llm", "hybrid"):
        typer.echo(f"error: --backend must be rules, llm or hybrid, got {backend!r}", err=True)
        raise typer.Exit(2)


def replay(
    paths: Annotated[list[Path], typer.Argument(help="scenario files or folders")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document per line")] = False,
    backend: BackendOption = None,
    model: ModelOption = None,
    models: ModelsFactory | None = None,
) -> None:
    """Replay scenarios through ingest, sensing and the debate; execute nothing."""
    _check_backend(backend)
    scenarios, errors = _load(paths, with_expected=False)
    for error in errors:
        typer.echo(f"error: {error}", err=True)

    def emit(line: dict[str, Any]) -> None:
        typer.echo(json.dumps(line, separators=(",", ":")) if as_json else _human(line))
        sys.stdout.flush()

    crashed = []
    if scenarios:
        lines = asyncio.run(_replay_all(scenarios, emit, backend, model, models=models))
        crashed = [line for line in lines if line.get("error")]
    for line in crashed:
        typer.echo(f"error: {line['scenario']}: {line['error']}", err=True)
    raise typer.Exit(2 if errors else 1 if crashed else 0)


def _transformed(scenarios: list[Any], names: list[str], seed: int
                 ) -> list[tuple[str, list[Any]]]:
    """Return the scenario set under each transform, then under all of them (`combined`)."""
    from warroom.scenarios.transforms import apply

    runs = [(name, [apply(s, [name], seed) for s in scenarios]) for name in names]
    if len(names) > 1:
        runs.append(("combined", [apply(s, names, seed) for s in scenarios]))
    return runs


def eval_(
    paths: Annotated[list[Path], typer.Argument(help="scenario files or folders")],
    as_json: Annotated[bool, typer.Option("--json", help="the report as JSON")] = False,
    gate: Annotated[bool, typer.Option("--gate", help="exit 1 when below the thresholds")]
    = False,
    min_rca1: Annotated[float, typer.Option("--min-rca1", help="lowest RCA@1 that passes")]
    = 0.8,
    min_fix: Annotated[float, typer.Option("--min-fix", help="lowest fix rate that passes")]
    = 0.8,
    max_unsafe: Annotated[int, typer.Option("--max-unsafe",
                                            help="most unsafe decisions that pass")] = 0,
    transform: Annotated[list[str] | None, typer.Option(
        "--transform", help="also replay the set degraded by this transform (repeatable; "
        "`all` for every one) and print a table by transform")] = None,
    transform_seed: Annotated[int, typer.Option(
        "--transform-seed", help="seed of the transforms' random choices")] = 2026,
    backend: BackendOption = None,
    model: ModelOption = None,
    models: ModelsFactory | None = None,
) -> None:
    """Replay scenarios with ground truth and print RCA, fix, safety and latency figures.

    With --transform, the table has one row per transform plus `combined`; --gate still
    judges the untransformed run.
    """
    from warroom.scenarios.score import render_table, render_transform_table, score

    _check_backend(backend)
    names: list[str] = []
    if transform:
        from warroom.scenarios.transforms import resolve

        try:
            names = resolve(transform)
        except ValueError as exc:
            typer.echo(f"error: --transform: {exc}", err=True)
            raise typer.Exit(2) from exc
    scenarios, errors = _load(paths, with_expected=True)
    for error in errors:
        typer.echo(f"error: {error}", err=True)
    if errors or not scenarios:
        raise typer.Exit(2)
    runs = [("untransformed", scenarios), *_transformed(scenarios, names, transform_seed)]
    reports = []
    for label, group in runs:
        outputs = asyncio.run(_replay_all(group, backend=backend, model=model, models=models))
        reports.append((label, score(list(zip(group, outputs, strict=True)))))
    report = reports[0][1]
    if as_json:
        typer.echo(report.to_json() if not names else json.dumps(
            {label: r.to_dict() for label, r in reports}, indent=2))
    else:
        from rich.console import Console

        # a pipe or a log file gets the whole table rather than 80 truncated columns
        Console(width=None if sys.stdout.isatty() else 140).print(
            render_transform_table(reports) if names else render_table(report))
    if gate:
        overall = report.overall
        failures = []
        if overall.rca_at_1 < min_rca1:
            failures.append(f"RCA@1 {overall.rca_at_1:.2f} < {min_rca1}")
        if overall.fix_rate is not None and overall.fix_rate < min_fix:
            failures.append(f"fix rate {overall.fix_rate:.2f} < {min_fix}")
        if overall.unsafe > max_unsafe:
            failures.append(f"unsafe decisions {overall.unsafe} > {max_unsafe}")
        if failures:
            typer.echo("gate failed: " + "; ".join(failures), err=True)
            raise typer.Exit(1)


@scenarios_app.command("generate")
def generate(
    out: Annotated[Path, typer.Option("--out", help="output folder")] = Path(
        "scenarios/regression"),
    count: Annotated[int, typer.Option("--count", min=1)] = 90,
    seed: Annotated[int, typer.Option("--seed")] = 2026,
) -> None:
    """Write a generated scenario set (every fault class, several difficulties)."""
    from warroom.scenarios.generator import generate as run

    paths = run(out, count=count, seed=seed)
    typer.echo(f"wrote {len(paths)} scenarios to {out}")


def _with_models(command: Callable[..., None],
                 models: ModelsFactory | None) -> Callable[..., None]:
    """Return `command` with `models` bound, its arguments, options and help as written."""

    @functools.wraps(command)
    def bound(**options: Any) -> None:
        command(**options, models=models)

    signature = inspect.signature(command, eval_str=True)
    bound.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for p in signature.parameters.values() if p.name != "models"])
    bound.__annotations__ = {k: v for k, v in command.__annotations__.items() if k != "models"}
    return bound


def register(app: typer.Typer, *, models: ModelsFactory | None = None) -> None:
    """Add replay, eval and scenarios to the warroom command.

    `models`: the language models the replayed debates open (`warroom.llm.debate`), handed in
    by `warroom.cli`; the scenarios never import the stages above the debate.
    """
    app.command("replay")(_with_models(replay, models))
    app.command("eval")(_with_models(eval_, models))
    app.add_typer(scenarios_app, name="scenarios")
