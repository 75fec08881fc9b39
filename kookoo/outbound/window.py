"""When KooKoo may dial: TRAI's rule, no commercial calls from 9 pm to 9 am India time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from kookoo.protocol.times import IST

__all__ = ["IST", "CallingWindow"]


@dataclass(frozen=True, slots=True)
class CallingWindow:
    """The daily hours in which calls may be placed: from ``start`` (included) to ``end``
    (excluded), in ``tz``. The default is KooKoo's 9 am to 9 pm IST (``protocol.md`` §4.1:
    ``Calls will not be made between 9PM to 9AM.``).

    A narrower window keeps a margin, e.g. ``CallingWindow(end=time(20, 45))`` so that a call
    placed near the end is not cut off by KooKoo's own check.

    >>> window = CallingWindow()
    >>> window.is_open(datetime(2026, 12, 2, 20, 59, tzinfo=IST).timestamp())
    True
    >>> window.is_open(datetime(2026, 12, 2, 21, 0, tzinfo=IST).timestamp())
    False
    """

    start: time = time(9, 0)
    end: time = time(21, 0)
    tz: tzinfo = IST

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"the window must start before it ends, got {self.start}-{self.end}")

    def is_open(self, at: float) -> bool:
        """Whether calls may be placed at unix time ``at``."""
        local = datetime.fromtimestamp(at, self.tz).time()
        return self.start <= local < self.end

    def next_open(self, at: float) -> float:
        """The first unix time at or after ``at`` when the window is open.

        >>> window = CallingWindow()
        >>> late = datetime(2026, 12, 2, 22, 30, tzinfo=IST).timestamp()
        >>> datetime.fromtimestamp(window.next_open(late), IST).isoformat()
        '2026-12-03T09:00:00+05:30'
        """
        if self.is_open(at):
            return at
        local = datetime.fromtimestamp(at, self.tz)
        opening = local.replace(
            hour=self.start.hour,
            minute=self.start.minute,
            second=self.start.second,
            microsecond=self.start.microsecond,
        )
        if opening <= local:
            opening += timedelta(days=1)
        return opening.timestamp()

    def seconds_until_open(self, at: float) -> float:
        """How long from ``at`` until calls may be placed (0 while the window is open)."""
        return max(0.0, self.next_open(at) - at)
