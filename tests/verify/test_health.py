from warroom.sensors.models import EvidenceData, Series
from warroom.verify.health import summarize


def _pod_cpu(pod: str, samples: list[tuple[float, str]]) -> Series:
    return Series(
        metric={"__name__": "pod:cpu_usage:ratio", "namespace": "shop", "pod": pod},
        values=samples,
    )


def test_a_deleted_pods_series_does_not_speak_for_the_service_after_it_ended() -> None:
    now = 1_800_000_000.0
    old_pod = _pod_cpu("checkout-7f9dd8b6c4-x7gr9",
                       [(now - 1800 + i * 60, "0.99") for i in range(10)])  # ended 20 min ago
    new_pod = _pod_cpu("checkout-5d6c9b7f4d-k2m8p",
                       [(now - 600 + i * 60, "0.40") for i in range(11)])  # live to now

    health = summarize(EvidenceData(series=[old_pod, new_pod]))["shop/checkout"]

    assert health.cpu == 0.40
    assert health.healthy()


def test_every_live_pod_counts_the_busiest_wins() -> None:
    now = 1_800_000_000.0
    a = _pod_cpu("checkout-7f9dd8b6c4-x7gr9", [(now - 60, "0.95"), (now, "0.97")])
    b = _pod_cpu("checkout-7f9dd8b6c4-q4w8z", [(now - 60, "0.30"), (now, "0.35")])

    health = summarize(EvidenceData(series=[a, b]))["shop/checkout"]

    assert health.cpu == 0.97
    assert not health.healthy()
