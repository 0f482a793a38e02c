"""Whatever a client sends, the webhook endpoints answer 2xx or 4xx, never 500."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from typing import Any

import httpx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

ENDPOINTS = ("/api/v1/alerts/alertmanager", "/api/v1/alerts")
# every character, lone surrogates included (they survive json.dumps as \\udXXX escapes)
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=20,
)
offsets = st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23))
timestamps = st.one_of(
    st.datetimes(timezones=st.builds(timezone, offsets)).map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2026-11-22T04:48:31.063Z",
            "yesterday",
        ]
    ),
    json_values,
)
alerts = st.fixed_dictionaries(
    {"status": st.sampled_from(["firing", "resolved"])},
    optional={
        "labels": st.dictionaries(any_text, any_text, max_size=6) | json_values,
        "annotations": st.dictionaries(any_text, any_text, max_size=3) | json_values,
        "startsAt": timestamps,
        "endsAt": timestamps,
        "fingerprint": any_text | st.text(min_size=120, max_size=200),
        "generatorURL": any_text,
        "name": any_text | json_values,
        "severity": any_text,
        "priority": st.sampled_from(["P0", "P3", "P9"]) | json_values,
    },
)
webhooks = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["firing", "resolved"]) | json_values,
        "version": st.just("4") | json_values,
        "alerts": st.lists(alerts, max_size=5) | json_values,
        "truncatedAlerts": st.integers() | json_values,
        "groupLabels": json_values,
        "source": any_text,
    },
)
# well-formed bodies with hostile content: they reach the database on SQLite and PostgreSQL
clean_chars = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
clean_text = st.text(clean_chars, max_size=300)
minute_offsets = st.integers(-23 * 60, 23 * 60).map(lambda m: timedelta(minutes=m))
instants = st.datetimes(timezones=st.builds(timezone, minute_offsets)).map(lambda d: d.isoformat())
valid_webhooks = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved"]),
        "alerts": st.lists(
            st.fixed_dictionaries(
                {
                    "status": st.sampled_from(["firing", "resolved"]),
                    "labels": st.dictionaries(clean_text, clean_text, max_size=6),
                    "startsAt": instants,
                },
                optional={
                    "annotations": st.dictionaries(clean_text, clean_text, max_size=3),
                    "endsAt": instants,
                    "fingerprint": st.text(clean_chars, max_size=128),
                    "generatorURL": clean_text,
                },
            ),
            min_size=1,
            max_size=5,
        ),
    }
)
valid_generic = st.fixed_dictionaries(
    {
        "alerts": st.lists(
            st.fixed_dictionaries(
                {"name": st.text(clean_chars, min_size=1, max_size=253)},
                optional={
                    "severity": st.text(clean_chars, max_size=32),
                    "service": clean_text,
                    "namespace": clean_text,
                    "labels": st.dictionaries(clean_text, clean_text, max_size=4),
                    "starts_at": instants,
                },
            ),
            min_size=1,
            max_size=5,
        )
    }
)
bodies = st.one_of(
    valid_webhooks.map(lambda b: json.dumps(b).encode()),
    valid_generic.map(lambda b: json.dumps(b).encode()),
    webhooks.map(lambda b: json.dumps(b).encode()),
    json_values.map(lambda b: json.dumps(b).encode()),
    st.binary(max_size=200),
    # up to 6 MB: over the default 5 MiB limit from n = 6
    st.integers(0, 6).map(
        lambda n: b'{"alerts": [' + b'{"status": "firing"},' * 50_000 * n + b"{}]}"
    ),
)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies, endpoint=st.sampled_from(ENDPOINTS))
async def test_random_bodies_never_get_a_server_error(
    client: httpx.AsyncClient, body: bytes, endpoint: str
) -> None:
    response = await client.post(endpoint, content=body)
    event(f"HTTP {response.status_code}")
    assert response.status_code in (202, 400, 413, 422), (response.status_code, response.text)
    answer: dict[str, Any] = response.json()
    if response.status_code != 202:
        assert answer["detail"]
    else:
        assert answer["accepted"] >= 1


async def test_stored_timestamps_are_utc(client: httpx.AsyncClient) -> None:
    alert = {
        "status": "firing",
        "labels": {"alertname": "Edge"},
        "startsAt": "0001-01-01T00:00:00+01:00",
    }
    response = await client.post(ENDPOINTS[0], json={"status": "firing", "alerts": [alert]})
    assert response.status_code == 202
    detail = await client.get(f"/api/v1/incidents/{response.json()['incidents'][0]['id']}")
    assert detail.json()["signals"][0]["starts_at"].startswith("0001-01-01T00:00:00")
