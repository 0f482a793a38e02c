"""Approval policy: what may run without a human, and how many humans the rest needs."""

from __future__ import annotations

from warroom.config import Settings
from warroom.domain.models import DecisionPackage, PolicyVerdict

# actions that change nothing in the cluster: approving them only closes the decision
NON_EXECUTABLE = frozenset({"escalate", "no_action"})


def playbook_key(fault: str | None, action_type: str | None) -> str:
    """Return the playbook key `fault/action_type` used by trust lookups."""
    return f"{fault or 'unknown'}/{action_type or 'none'}"


def evaluate(
    package: DecisionPackage, *, settings: Settings, trust: dict[str, float]
) -> PolicyVerdict:
    """Apply the approval policy: auto-execute only when every gate agrees."""
    action = package.action
    executable = (
        package.status == "ready" and action is not None and action.type not in NON_EXECUTABLE
    )
    approvals = 2 if package.risk == "critical" else 1
    reasons: list[str] = []
    key = playbook_key(package.fault, action.type if action else None)
    playbook_trust = trust.get(key)
    if not executable:
        reasons.append("nothing executable: the package hands the incident to a human")
    if package.requires_human_approval:
        reasons.append("the package requires a human")
    if package.risk != "low":
        reasons.append(f"risk is {package.risk}, only low risk auto-executes")
    if playbook_trust is None or playbook_trust <= settings.trust_threshold:
        shown = "unknown" if playbook_trust is None else f"{playbook_trust:.2f}"
        reasons.append(
            f"playbook {key} trust {shown} is not above {settings.trust_threshold:.2f}"
        )
    namespace = _namespace(action.target if action else None)
    if namespace not in settings.auto_execute_namespaces:
        reasons.append(f"namespace {namespace or '(none)'!r} is not in auto_execute_namespaces")
    return PolicyVerdict(
        auto_execute=executable and not reasons,
        requires_approvals=approvals,
        executable=executable,
        reasons=reasons,
        trust=playbook_trust,
    )


def _namespace(target: str | None) -> str:
    if not target:
        return ""
    return target.split("/", 1)[0]
