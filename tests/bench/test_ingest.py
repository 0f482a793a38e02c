from __future__ import annotations

import os

import orjson

from warroom.bench import processes
from warroom.bench.ingest import Storm, _cpu_line, alertmanager_body, warroom_body
from warroom.ingest.models import AlertmanagerWebhook


def test_storm_mixes_resends_new_alerts_and_resolutions() -> None:
    storm = Storm(seed=1)
    statuses: list[str] = []
    fresh = 0
    for _ in range(50):
        batch = storm.batch(100)
        for status, alert in batch:
            statuses.append(status)
            fresh += alert.fingerprint not in storm.acked
        storm.settle(batch, ok=True)
    assert statuses.count("resolved") > 100
    assert 300 < fresh < 1500  # mostly re-sends
    assert sum(storm.acked.values()) == 5000


def test_storm_never_resolves_an_alert_still_in_flight() -> None:
    storm = Storm(seed=2, resolve_share=0.5)
    first = storm.batch(100)
    storm.settle(first, ok=True)
    in_flight = storm.batch(100)  # not settled: its alerts are still being sent
    pending = {a.fingerprint for _, a in in_flight}
    for status, alert in storm.batch(100):
        if status == "resolved":
            assert alert.fingerprint not in pending
    # a failed batch is not counted as acknowledged
    before = sum(storm.acked.values())
    storm.settle(in_flight, ok=False)
    assert sum(storm.acked.values()) == before


def test_bodies_are_what_alertmanager_and_prometheus_send() -> None:
    storm = Storm(seed=3)
    batch = storm.batch(10)
    webhook = AlertmanagerWebhook.model_validate_json(warroom_body(batch))
    assert [a.fingerprint for a in webhook.alerts] == [a.fingerprint for _, a in batch]
    posted = orjson.loads(alertmanager_body(batch))
    assert [p["labels"] for p in posted] == [a.labels for _, a in batch]


def test_server_cpu_is_read_from_proc_and_reported_per_thousand_alerts() -> None:
    sum(i * i for i in range(200_000))  # some CPU of this process's own
    times = os.times()
    measured = processes.cpu_seconds(os.getpid())
    # the same clock ticks as the kernel's own accounting, read a moment apart
    assert abs(measured - (times.user + times.system)) < 0.1
    assert measured > 0
    assert processes.cpu_seconds(2**22 + 12345) == 0.0  # no such process (above pid_max)
    line = _cpu_line(1.5, 3000)
    assert line.startswith("server CPU:  1.5 s = 500 ms per 1,000 acknowledged alerts")
    assert "load average" in line
