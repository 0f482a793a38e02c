"""`warroom stats` refuses a bad range before reading anything, naming the option."""

from __future__ import annotations

from typer.testing import CliRunner

from warroom.cli import app


def test_a_time_that_is_not_iso_8601_names_the_option() -> None:
    result = CliRunner().invoke(app, ["stats", "--since", "yesterday"])
    assert result.exit_code == 2
    assert "--since" in result.output and "not an ISO 8601 time" in result.output


def test_a_range_ending_before_it_starts_is_refused() -> None:
    result = CliRunner().invoke(app, ["stats", "--since", "2026-12-02T00:00:00Z",
                                      "--until", "2026-12-01T00:00:00Z"])
    assert result.exit_code == 2
    assert "must be before until" in result.output
