"""BMv2 two-rate three-colour meters against a plain RFC 2698 model in the same units."""

from __future__ import annotations

import random

import pytest

from target.pipeline.meter import MeterArray, rates_from_per_second, rates_to_per_second

GREEN, YELLOW, RED = 0, 1, 2


class Rfc2698:
    """RFC 2698 colour-blind trTCM, written from the RFC.

    Buckets C (CIR, CBS) and P (PIR, PBS) start full. Tokens arrive in BMv2's units: by time t a
    bucket has been credited floor(whole microseconds since the origin * rate) tokens in total,
    and never holds more than its burst size. Both buckets are refilled on every packet, as the
    RFC describes it; then a packet of size B is RED if Tp < B, else YELLOW (Tp -= B) if Tc < B,
    else GREEN (Tp -= B, Tc -= B).
    """

    def __init__(self, cir: float, cbs: int, pir: float, pbs: int, origin_ns: int) -> None:
        self.rate = {"c": cir, "p": pir}
        self.burst = {"c": cbs, "p": pbs}
        self.tokens = {"c": cbs, "p": pbs}
        self.credited = {"c": 0, "p": 0}
        self.origin_ns = origin_ns

    def _refill(self, bucket: str, now_ns: int) -> None:
        micros = max(now_ns - self.origin_ns, 0) // 1000
        credit = int(micros * self.rate[bucket])
        if credit > self.credited[bucket]:
            self.tokens[bucket] = min(self.tokens[bucket] + credit - self.credited[bucket],
                                      self.burst[bucket])
            self.credited[bucket] = credit

    def color(self, now_ns: int, size: int) -> int:
        self._refill("c", now_ns)
        self._refill("p", now_ns)
        if self.tokens["p"] < size:
            return RED
        if self.tokens["c"] < size:
            self.tokens["p"] -= size
            return YELLOW
        self.tokens["p"] -= size
        self.tokens["c"] -= size
        return GREEN


def random_timeline(rng: random.Random, kind: str, meters: int, packets: int, origin: int
                    ) -> list[tuple[int, int, int]]:
    """(meter index, time ns, ingress length) in time order, with bursts and idle gaps."""
    now = origin + rng.randrange(0, 5000)
    events = []
    for _ in range(packets):
        gap = rng.choice([0, rng.randrange(0, 2000), rng.randrange(0, 50_000),
                          rng.randrange(0, 5_000_000)])
        now += gap
        size = rng.randrange(0, 1519) if kind == "bytes" else rng.randrange(1, 1519)
        events.append((rng.randrange(meters), now, size))
    return events


@pytest.mark.parametrize("kind", ["bytes", "packets"])
@pytest.mark.parametrize("seed", range(6))
def test_timeline_matches_rfc2698_model(kind: str, seed: int) -> None:
    rng = random.Random(f"{kind}{seed}")
    origin = rng.randrange(0, 10**12)
    meters = MeterArray(8, kind, origin_ns=origin)
    models = {}
    for index in range(8):
        if kind == "bytes":
            cir = rng.choice([0.0, 0.001, 0.125, rng.uniform(0, 3)])
            pir = cir + rng.choice([0.0, rng.uniform(0, 3)])
            cbs, pbs = rng.randrange(0, 4000), rng.randrange(0, 6000)
        else:
            cir = rng.choice([0.0, 0.0005, rng.uniform(0, 0.05)])
            pir = cir + rng.uniform(0, 0.05)
            cbs, pbs = rng.randrange(0, 6), rng.randrange(0, 10)
        if index == 7:
            continue  # stays unconfigured
        meters.set_rates(index, [(cir, cbs), (pir, pbs)])
        models[index] = Rfc2698(cir, cbs, pir, pbs, origin)
    colours = {GREEN: 0, YELLOW: 0, RED: 0}
    for index, now, size in random_timeline(rng, kind, 8, 3000, origin):
        cost = size if kind == "bytes" else 1
        expected = models[index].color(now, cost) if index in models else GREEN
        assert meters.execute(index, now, size) == expected, (index, now, size)
        colours[expected] += 1
    assert all(colours.values())  # the timeline exercised every colour


def test_burst_exactly_exhausted() -> None:
    meters = MeterArray(1, "bytes", origin_ns=0)
    meters.set_rates(0, [(0.0, 1000), (0.0, 2000)])
    # 1000 bytes fit the committed bucket exactly, the next 1000 only the peak one.
    assert [meters.execute(0, 5, 500) for _ in range(6)] == [GREEN, GREEN, YELLOW, YELLOW,
                                                             RED, RED]
    assert meters.execute(0, 10**12, 0) == GREEN  # a zero-length packet always fits


def test_refill_is_per_whole_microsecond() -> None:
    meters = MeterArray(1, "bytes", origin_ns=1_000_000)
    meters.set_rates(0, [(1.0, 10), (1.0, 10)])  # 1 byte per microsecond
    assert meters.execute(0, 1_000_000, 10) == GREEN  # drains both buckets
    assert meters.execute(0, 1_000_999, 1) == RED  # 999 ns: no whole microsecond yet
    assert meters.execute(0, 1_001_000, 1) == GREEN  # 1 us: one byte
    assert meters.execute(0, 1_001_999, 1) == RED
    assert meters.execute(0, 1_004_500, 3) == GREEN  # 4 us since origin: 4 credited, 1 used
    assert meters.execute(0, 1_004_500, 1) == RED


def test_fractional_rates_truncate_from_the_origin() -> None:
    # 0.3 bytes/us: credit(us) = floor(0.3 * us), never a sum of per-packet roundings.
    meters = MeterArray(1, "bytes", origin_ns=0)
    meters.set_rates(0, [(0.3, 1), (0.3, 1)])
    assert meters.execute(0, 0, 1) == GREEN
    got = [meters.execute(0, us * 1000, 1) for us in range(1, 21)]
    # credits at us = 1..20 are floor(0.3 us): a token arrives at us 4, 7, 10, 14, 17, 20
    token_times = [us for us, colour in zip(range(1, 21), got, strict=True) if colour == GREEN]
    assert token_times == [4, 7, 10, 14, 17, 20]


def test_long_idle_refills_only_to_the_burst() -> None:
    meters = MeterArray(2, "bytes", origin_ns=0)
    meters.set_rates(1, [(1000.0, 1500), (2000.0, 3000)])
    for _ in range(10):
        meters.execute(1, 0, 1500)
    later = 3600 * 10**9  # an hour of credit, far beyond both bursts
    assert [meters.execute(1, later, 1500) for _ in range(3)] == [GREEN, YELLOW, RED]


def test_red_packet_charges_no_bucket() -> None:
    meters = MeterArray(1, "bytes", origin_ns=0)
    meters.set_rates(0, [(0.0, 100), (0.0, 300)])
    assert meters.execute(0, 0, 400) == RED
    assert meters.execute(0, 0, 100) == GREEN  # both buckets were untouched by the red one
    assert meters.execute(0, 0, 200) == YELLOW
    assert meters.execute(0, 0, 1) == RED


def test_packet_meters_count_one_per_packet() -> None:
    meters = MeterArray(1, "packets", origin_ns=0)
    meters.set_rates(0, [(0.0, 2), (0.0, 3)])
    assert [meters.execute(0, 0, 9000) for _ in range(4)] == [GREEN, GREEN, YELLOW, RED]
    assert meters.kind == "packets"


def test_unconfigured_and_reset_meters_are_green() -> None:
    meters = MeterArray(3, "bytes")
    assert meters.get_rates(2) == []
    assert all(meters.execute(2, t, 10**6) == GREEN for t in range(0, 10**6, 10**5))
    meters.set_rates(2, [(0.0, 0), (0.0, 0)])
    assert meters.execute(2, 0, 1) == RED
    meters.reset(2)
    assert meters.get_rates(2) == []
    assert meters.execute(2, 0, 1) == GREEN


def test_reconfiguring_refills_the_buckets() -> None:
    meters = MeterArray(1, "bytes", origin_ns=0)
    meters.set_rates(0, [(0.0, 100), (0.0, 100)])
    assert meters.execute(0, 0, 100) == GREEN
    assert meters.execute(0, 0, 100) == RED
    meters.set_rates(0, [(0.0, 100), (0.0, 100)])
    assert meters.execute(0, 0, 100) == GREEN


def test_time_going_backwards_adds_no_tokens() -> None:
    meters = MeterArray(1, "bytes", origin_ns=0)
    meters.set_rates(0, [(1.0, 50), (1.0, 50)])
    assert meters.execute(0, 100_000, 50) == GREEN
    assert meters.execute(0, 50_000, 1) == RED
    assert meters.execute(0, 100_000, 1) == RED
    assert meters.execute(0, 101_000, 1) == GREEN


def test_bad_rates_are_refused_and_change_nothing() -> None:
    meters = MeterArray(2, "bytes", origin_ns=0)
    meters.set_rates(0, [(1.0, 10), (2.0, 20)])
    for bad in ([(2.0, 10), (1.0, 20)], [(1.0, 10)], [(1.0, 1), (2.0, 2), (3.0, 3)],
                [(-1.0, 10), (1.0, 10)], [(float("nan"), 1), (1.0, 1)], [(1.0, -5), (2.0, 1)]):
        with pytest.raises(ValueError):
            meters.set_rates(0, bad)
        assert meters.get_rates(0) == [(1.0, 10), (2.0, 20)]
    meters.set_rates(1, [(1.5, 10), (1.5, 10)])  # equal rates are allowed
    with pytest.raises(IndexError):
        meters.set_rates(2, [(1.0, 1), (1.0, 1)])
    with pytest.raises(IndexError):
        meters.execute(-1, 0, 1)
    with pytest.raises(ValueError):
        MeterArray(1, "bits")
    with pytest.raises(ValueError):
        MeterArray(1, "bytes", rate_count=3)


def test_single_rate_meter() -> None:
    meters = MeterArray(1, "bytes", rate_count=1, origin_ns=0)
    meters.set_rates(0, [(0.0, 100)])
    assert [meters.execute(0, 0, 60) for _ in range(2)] == [GREEN, YELLOW]
    assert meters.get_rates(0) == [(0.0, 100)]


def test_per_second_conversion_matches_bmv2_pi() -> None:
    assert rates_from_per_second([(1_000_000, 1500), (2_500_000, 3000)]) == [(1.0, 1500),
                                                                             (2.5, 3000)]
    # BMv2 reads a rate back as the truncated product, so 249/s comes back as 248/s.
    assert rates_to_per_second(rates_from_per_second([(249, 1), (1000, 2)])) == [(248, 1),
                                                                                (1000, 2)]
