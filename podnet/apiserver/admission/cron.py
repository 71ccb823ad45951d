"""Cron schedules as CronJobs read them: ``github.com/robfig/cron/v3`` ``ParseStandard``
(five fields, month and weekday names, ``?``, the ``@hourly``... descriptors and
``@every <duration>``) and ``SpecSchedule.Next``. Error texts are robfig's, since
kube-apiserver puts them in the 422 cause (pkg/apis/batch/validation validateScheduleFormat).

Pure functions over epoch seconds and an IANA zone; no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES)}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (min, max, names) per field: minute, hour, day of month, month, day of week
_BOUNDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (1, 12, _MONTHS),
    (0, 6, _DAYS),
)
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class CronError(ValueError):
    """An unparseable schedule; the text is robfig/cron's."""


@dataclass(frozen=True)
class Schedule:
    """One parsed schedule: the allowed values of each field, or a fixed period."""

    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    dom: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    dow: frozenset[int] = frozenset()
    dom_star: bool = False
    dow_star: bool = False
    every: int = 0  # @every: seconds (ConstantDelaySchedule)

    def next(self, after: float, zone: tzinfo = UTC) -> float:
        """The first activation strictly after ``after`` (SpecSchedule.Next, whole
        minutes; ConstantDelaySchedule.Next for ``@every``)."""
        if self.every:
            return float(int(after) + self.every)
        t = datetime.fromtimestamp(int(after) // 60 * 60 + 60, zone)
        limit = t.year + 5  # robfig gives up after five years (zero time)
        while t.year <= limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(t):
                t = (t + timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if t.hour not in self.hours:
                t = (t + timedelta(hours=1)).replace(minute=0)
                continue
            if t.minute not in self.minutes:
                t = t + timedelta(minutes=1)
                continue
            return t.timestamp()
        return float("inf")

    def _day_matches(self, t: datetime) -> bool:
        """dayMatches: both restricted is OR, either a star is AND."""
        dom = t.day in self.dom
        dow = (t.isoweekday() % 7) in self.dow
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow


def _duration(text: str) -> int:
    """time.ParseDuration, for @every: ``1h30m``, ``90s``..."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise CronError(f'failed to parse duration @every {text}: time: invalid duration "{text}"')
    seconds = sum(float(n) * units[u] for n, u in parts)
    return max(1, int(seconds))  # ConstantDelaySchedule rounds to at least one second


def _value(text: str, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise CronError(
            f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax'
        )
    return int(text)


def _field(text: str, lo: int, hi: int, names: dict[str, int]) -> tuple[frozenset[int], bool]:
    """getField: comma-separated ranges ``a``, ``a-b``, ``*``, ``?``, each with ``/step``."""
    out: set[int] = set()
    star = False
    for expr in text.split(","):
        rng, _, step_text = expr.partition("/")
        if rng in ("*", "?"):
            start, end = lo, hi
            star = star or step_text in ("", "1")  # getRange: a step over 1 clears starBit
        else:
            a, dash, b = rng.partition("-")
            start = _value(a, names)
            end = _value(b, names) if dash else (hi if step_text else start)
        step = 1
        if step_text:
            step = _value(step_text, {})
            if step == 0:
                raise CronError(f"step of range should be a positive number: {expr}")
        if start < lo:
            raise CronError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
        if end > hi:
            raise CronError(f"end of range ({end}) above maximum ({hi}): {expr}")
        if start > end:
            raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
        out.update(range(start, end + 1, step))
    return frozenset(out), star


def parse(spec: str) -> Schedule:
    """cron.ParseStandard."""
    text = spec.strip()
    if not text:
        raise CronError("empty spec string")
    if text.startswith("TZ=") or text.startswith("CRON_TZ="):
        text = text.split(None, 1)[1] if " " in text else ""
    if text.startswith("@"):
        if text.startswith("@every "):
            return Schedule(every=_duration(text[len("@every ") :].strip()))
        if text not in _DESCRIPTORS:
            raise CronError(f"unrecognized descriptor: {text}")
        text = _DESCRIPTORS[text]
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    parsed = [_field(f, lo, hi, names) for f, (lo, hi, names) in zip(fields, _BOUNDS, strict=True)]
    return Schedule(
        minutes=parsed[0][0],
        hours=parsed[1][0],
        dom=parsed[2][0],
        months=parsed[3][0],
        dow=parsed[4][0],
        dom_star=parsed[2][1],
        dow_star=parsed[4][1],
    )


def zone(name: str | None) -> tzinfo:
    """time.LoadLocation of a CronJob's timeZone (None: the controller's zone, UTC here)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(f"unknown time zone {name}") from None
