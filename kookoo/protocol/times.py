"""India time, as KooKoo writes it: :data:`IST` and the reader and writer of KooKoo's times.

KooKoo sends local Indian wall-clock times without an offset (``request_time=2026-02-03
14:05:09``); the outbound API's 9 am-9 pm window is Indian time too.  Both the event parser and
:mod:`kookoo.outbound` use the one constant here.

>>> parse_time("2026-02-03 14:05:09").isoformat()
'2026-02-03T14:05:09+05:30'
>>> format_time(parse_time("2026-02-03 14:05:09"))
'2026-02-03 14:05:09'
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

__all__ = ["IST", "KOOKOO_TIME_FORMAT", "format_time", "parse_time"]

IST = timezone(timedelta(hours=5, minutes=30), "IST")
"""India Standard Time (UTC+05:30); a fixed offset is exact (India has no daylight saving), no
tzdata needed."""

KOOKOO_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
"""How KooKoo writes a time (``request_time``; the fake outbound endpoint's ``start_time``)."""


def parse_time(value: str) -> datetime | None:
    """``value`` as an aware datetime: KooKoo's ``YYYY-MM-DD HH:MM:SS`` or any ISO 8601 form,
    in :data:`IST` unless it carries an offset; ``None`` for anything else (never raises).

    >>> parse_time("2026-02-03 08:35:09+00:00").astimezone(IST).hour
    14
    >>> parse_time("yesterday") is None
    True
    """
    try:
        parsed = datetime.strptime(value, KOOKOO_TIME_FORMAT)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            # Informational only; an unexpected format must not fail the call.
            return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=IST)


def format_time(value: datetime) -> str:
    """``value`` as KooKoo writes a time: Indian wall-clock time, ``YYYY-MM-DD HH:MM:SS``
    (with the microseconds after a ``.`` when there are any, so that :func:`parse_time` gives
    the same instant back).  A naive ``value`` is taken as IST.

    >>> from datetime import timezone
    >>> format_time(datetime(2026, 2, 3, 8, 35, 9, tzinfo=timezone.utc))
    '2026-02-03 14:05:09'
    """
    local = value if value.tzinfo is None else value.astimezone(IST)
    return local.replace(tzinfo=None).isoformat(sep=" ")
