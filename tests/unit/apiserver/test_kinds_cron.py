"""Cron schedules as robfig/cron ParseStandard reads them (CronJob spec.schedule)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from podnet.apiserver.admission import cron


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize(
    ("spec", "after", "want"),
    [
        ("*/1 * * * *", "2026-01-01T10:00:30", "2026-01-01T10:01"),
        ("*/5 * * * *", "2026-01-01T10:01:00", "2026-01-01T10:05"),
        ("@hourly", "2026-01-01T10:01:00", "2026-01-01T11:00"),
        ("@daily", "2026-01-01T10:01:00", "2026-01-02T00:00"),
        ("@weekly", "2026-01-01T10:01:00", "2026-01-04T00:00"),  # a Thursday: next Sunday
        ("@monthly", "2026-01-31T10:00:00", "2026-02-01T00:00"),
        ("@yearly", "2026-03-01T00:00:00", "2027-01-01T00:00"),
        ("30 2 * * mon-fri", "2026-01-02T03:00:00", "2026-01-05T02:30"),  # Fri -> Mon
        ("0 0 29 feb *", "2026-01-01T00:00:00", "2028-02-29T00:00"),
        ("0 12 1 * 1", "2026-01-01T13:00:00", "2026-01-05T12:00"),  # dom OR dow
        ("15,45 9-10 * jan,FEB *", "2026-01-01T10:50:00", "2026-01-02T09:15"),
    ],
)
def test_next(spec: str, after: str, want: str) -> None:
    assert iso(cron.parse(spec).next(ts(after))) == want


def test_every_is_a_constant_delay() -> None:
    assert cron.parse("@every 1h30m").next(1000.0) == 1000.0 + 5400


def test_time_zone_moves_the_wall_clock() -> None:
    berlin = cron.zone("Europe/Berlin")
    # 09:00 in Berlin in winter is 08:00 UTC
    assert (
        iso(cron.parse("0 9 * * *").next(ts("2026-01-01T00:00:00"), berlin)) == "2026-01-01T08:00"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("bad", "expected exactly 5 fields, found 1: [bad]"),
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        ("", "empty spec string"),
    ],
)
def test_errors_as_robfig(spec: str, message: str) -> None:
    with pytest.raises(cron.CronError) as e:
        cron.parse(spec)
    assert str(e.value) == message


def test_unknown_zone() -> None:
    with pytest.raises(cron.CronError, match="unknown time zone Mars/Olympus"):
        cron.zone("Mars/Olympus")
