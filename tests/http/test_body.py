from __future__ import annotations

from warroom.http.body import find_nul, json_path


def test_json_path_quotes_keys_that_are_not_identifiers() -> None:
    assert json_path(("alerts", 0, "labels", "app.kubernetes.io/name")) == (
        '$.alerts[0].labels["app.kubernetes.io/name"]'
    )
    assert json_path(()) == "$"


def test_find_nul_names_the_path() -> None:
    body = {"alerts": [{"labels": {"ok": "x"}}, {"labels": {"bad": "a\x00b"}}]}
    assert find_nul(body) == "$.alerts[1].labels.bad"
    assert find_nul({"a b": {"k\x00": "v"}}) == '$["a b"]["k\\u0000"]'
    assert find_nul({"fine": ["x", 1, None]}) is None
