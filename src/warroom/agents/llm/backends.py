"""Choose each agent's backend from the settings."""

from __future__ import annotations

from warroom.agents.orchestrator import Backends, rule_backends
from warroom.config import Settings

from .diagnostician import ModelDiagnostician
from .judges import ModelCritic, ModelReviewer
from .ports import ModelRuntime
from .solver import ModelSolver


def backends_for(settings: Settings, runtime: ModelRuntime) -> Backends:
    """Return the backends the settings choose: rules, or a model backend around each rule.

    `runtime` asks the models (`warroom.llm.service.ModelRuntime`, built by the caller).
    """
    rules = rule_backends()
    modes = {role: settings.backend_for(role)
             for role in ("diagnostician", "solver", "reviewer", "critic")}
    if all(mode == "rules" for mode in modes.values()):
        return rules
    out = Backends(diagnostician=rules.diagnostician, solver=rules.solver,
                   reviewer=rules.reviewer, critic=rules.critic)
    if modes["diagnostician"] != "rules":
        out.diagnostician = ModelDiagnostician(rules.diagnostician, runtime,
                                               modes["diagnostician"])
    if modes["solver"] != "rules":
        out.solver = ModelSolver(rules.solver, runtime, modes["solver"])
    if modes["reviewer"] != "rules":
        out.reviewer = ModelReviewer(rules.reviewer, runtime, modes["reviewer"])
    if modes["critic"] != "rules":
        out.critic = ModelCritic(rules.critic, runtime, modes["critic"])
    return out
