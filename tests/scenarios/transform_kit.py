"""What the tests of the transforms that recount a scenario's series share: two regression
scenarios with errors that start mid-window, latency quantiles, pods' shares of their limits
and a call graph, and the samples of one metric by labels."""

from __future__ import annotations

from pathlib import Path

from warroom.agents.diagnostician.index import finite_samples
from warroom.scenarios.models import Scenario
from warroom.scenarios.replay import load_scenario
from warroom.sensors.models import Series

REGRESSION = Path(__file__).parents[2] / "scenarios" / "regression"
SAMPLE = ["gen-bad-deploy-easy-058", "gen-cpu-saturation-easy-002"]

Labels = tuple[tuple[str, str], ...]


def sample(name: str) -> Scenario:
    return load_scenario(REGRESSION / f"{name}.json", with_expected=True)


def by_labels(series: list[Series], name: str) -> dict[Labels, dict[float, float]]:
    """Return the samples of every series called `name`, by its other labels."""
    return {tuple(sorted((k, v) for k, v in s.metric.items() if k != "__name__")):
            dict(finite_samples(s)) for s in series if s.name == name}
