"""Schedules: when each instance pulls, pushes and fetches, as cron fields.

MISP 2.5.1 runs sync and feed jobs only when something starts them: its documentation expects
cron to call the console (`cake Server pull|push|fetchFeed|cacheFeed`, ServerShell; MISP book,
"Sharing" chapter). The generator turns each `every` and `fetch_every` of the topology into one
line of a cron file per instance (the `schedules` role writes it, with the server and feed ids the
API phases found). Cron expresses only periods that divide an hour or a day, or a whole day or
week: another period runs at the nearest shorter one (never less often than asked), and the line
says so. Start minutes are spread by a hash of the job's name, so that an estate's jobs do not all
start at the same minute; the same job always gets the same minute.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from planner.units import format_seconds

MINUTE, HOUR, DAY, WEEK = 60, 3600, 86400, 7 * 86400
# The periods cron repeats exactly, shortest first.
PERIODS = (*(m * MINUTE for m in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)),
           *(h * HOUR for h in (1, 2, 3, 4, 6, 8, 12)), DAY, WEEK)


@dataclass(frozen=True)
class Cron:
    fields: str  # minute hour day-of-month month day-of-week
    period: int  # seconds between two runs
    asked: int  # the topology's interval

    @property
    def note(self) -> str:
        """What a reader of the cron file must know when cron cannot run at the interval asked."""
        if self.period == self.asked:
            return ""
        return f"every {format_seconds(self.asked)} asked; cron runs it every {format_seconds(self.period)}"


def cron(seconds: int, job: str) -> Cron:
    """The cron fields running ``job`` every ``seconds`` (or the nearest shorter period cron repeats)."""
    period = max((p for p in PERIODS if p <= seconds), default=PERIODS[0])
    spread = zlib.crc32(job.encode("utf-8"))
    minute, hour, weekday = spread % 60, (spread // 60) % 24, (spread // 1440) % 7
    if period < HOUR:
        step = period // MINUTE
        fields = "* * * * *" if step == 1 else f"{minute % step}-59/{step} * * * *"
    elif period < DAY:
        step = period // HOUR
        fields = f"{minute} * * * *" if step == 1 else f"{minute} {hour % step}-23/{step} * * *"
    elif period == DAY:
        fields = f"{minute} {hour} * * *"
    else:
        fields = f"{minute} {hour} * * {weekday}"
    return Cron(fields, period, seconds)


__all__ = ["PERIODS", "Cron", "cron"]
