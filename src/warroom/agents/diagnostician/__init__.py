"""The Diagnostician: ranked root-cause hypotheses from an evidence snapshot."""

from warroom.agents.diagnostician.rules import RuleDiagnostician, diagnose_snapshot

__all__ = ["RuleDiagnostician", "diagnose_snapshot"]
