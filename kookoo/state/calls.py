"""The per-call object: what kookoo remembers about one phone call between KooKoo's requests.

KooKoo makes one HTTP request per step of a call and sends ``cid`` (the caller) only on the first
one. Under gunicorn those requests land on different worker processes, so everything a handler
needs later lives in a :class:`Call` that a store (:mod:`kookoo.state.stores`) loads and saves by
``sid`` around every request.

Example::

    @app.on_dtmf
    def menu(event: GotDTMF, call: Call) -> Response:
        call.state["choice"] = event.digits   # JSON values only
        ...
"""

from __future__ import annotations

import json
import math
import operator
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from kookoo.core.errors import KooKooError
from kookoo.protocol.phone import PhoneNumber

_orjson: Any
try:  # kookoo[fast]: the same JSON, ~20x faster to write and ~4x faster to read
    import orjson as _orjson
except ImportError:  # pragma: no cover - the tests run both ways through monkeypatch
    _orjson = None

__all__ = ["HISTORY_LIMIT", "Call", "CallStateError", "HistoryEntry"]

HISTORY_LIMIT = 200
"""How many events :attr:`Call.history` keeps; older ones are dropped so a long call stays small."""

# Bumped when the stored JSON layout changes, so an old record is recognised instead of misread.
_FORMAT = 1

_HINTS: dict[str, str] = {
    "set": "store a sorted list instead",
    "frozenset": "store a sorted list instead",
    "bytes": "decode it to str (or base64-encode it) first",
    "bytearray": "decode it to str (or base64-encode it) first",
    "datetime": "store .isoformat() or a unix timestamp instead",
    "date": "store .isoformat() instead",
    "time": "store .isoformat() instead",
    "timedelta": "store .total_seconds() instead",
    "Decimal": "store str(value) instead",
    "UUID": "store str(value) instead",
}


class CallStateError(KooKooError, TypeError):
    """A value in a call's data cannot be stored as JSON.

    Raised when a call is serialised (by :meth:`Call.to_json`, so by every store's ``save``), never
    silently dropped or converted. The message names where the value is and what it is, e.g.
    ``state['basket'][2] is a set, which call state cannot hold as JSON; store a sorted list
    instead``.

    Attributes:
        path: where the value is, e.g. ``"state['basket'][2]"`` or ``"journal[0]"``.
        type_name: the offending value's type name, e.g. ``"set"``.
    """

    def __init__(self, path: str, type_name: str, reason: str) -> None:
        self.path = path
        self.type_name = type_name
        super().__init__(f"{path} {reason}")


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One event of a call: its KooKoo event name (``"NewCall"``, ``"GotDTMF"``, ...) and when
    it arrived (unix time, seconds)."""

    event: str
    at: float


# Loading a record builds one HistoryEntry per stored event, and the dataclass __init__ of
# a frozen class (a Python frame and object.__setattr__ per field) was 46 % of from_json
# (measured with callgrind: 4.6 k instructions an entry, 55.8 k of 108 k for 12 events).
# The same objects, with their fields set through the slots' descriptors: 38 k for 12.
_new_object = object.__new__
_set_event = HistoryEntry.__dict__["event"].__set__
_set_at = HistoryEntry.__dict__["at"].__set__
_set_raw = PhoneNumber.__dict__["raw"].__set__
_set_national = PhoneNumber.__dict__["national"].__set__


def _entry_from_row(row: Any) -> HistoryEntry:
    """The :class:`HistoryEntry` of a stored ``[event, at]`` row."""
    event, at = row
    entry: HistoryEntry = _new_object(HistoryEntry)
    _set_event(entry, event)
    _set_at(entry, at)
    return entry


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _encode(payload: dict[str, Any]) -> str:
    """Compact JSON of a checked payload: orjson when installed, else the standard library.

    Both write the same values (orjson may spell a float differently, e.g. ``1e16`` for
    ``1e+16``; it reads back equal). orjson refuses integers beyond 64 bits: those go to
    the standard library.
    """
    if _orjson is not None:
        try:
            return str(_orjson.dumps(payload), "utf-8")
        except TypeError:  # orjson.JSONEncodeError: an int beyond 64 bits
            pass
    return _ENCODE(payload)


def _decode(data: str | bytes) -> Any:
    """Parse a stored record: orjson when installed (falling back to the standard library
    for what orjson refuses, such as integers beyond 64 bits), else the standard library."""
    if _orjson is not None:
        try:
            return _orjson.loads(data)
        except ValueError:
            pass
    return json.loads(data)


_MAX_FAST_DEPTH = 32
_SCALARS = (str, int, bool, type(None))


def _is_plain_json(value: Any, depth: int) -> bool:
    """True when ``value`` is certainly JSON that round-trips; cheap, builds no path strings.

    ``False`` only means "look closer": :func:`_check_json` then decides and explains.
    """
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is float:
        return math.isfinite(value)
    if depth > _MAX_FAST_DEPTH:  # cycles and very deep data go to the careful walk
        return False
    # Loops rather than all() over generators: most state is a dict of a few scalars, and
    # this runs on every save.
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            if type(item) not in _SCALARS and not _is_plain_json(item, depth + 1):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:
            if type(item) not in _SCALARS and not _is_plain_json(item, depth + 1):
                return False
        return True
    return False


def _check_json(value: Any, path: str, seen: set[int]) -> None:
    """Raise :class:`CallStateError` unless ``value`` survives a JSON round trip unchanged in
    kind (tuples become lists, which is the one conversion allowed)."""
    # bool is an int subclass and str/int/None need no further look; test them first because
    # they are the overwhelming majority of values.
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CallStateError(
                path,
                "float",
                f"is the float {value!r}, which is not valid JSON; store None or a string",
            )
        return
    if isinstance(value, dict | list | tuple):
        if id(value) in seen:
            raise CallStateError(
                path, type(value).__name__, "refers back to itself; JSON cannot hold a cycle"
            )
        seen.add(id(value))
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    # json.dumps would turn 1 into "1" and True into "true": the handler would
                    # read back a different key, so refuse instead of converting quietly.
                    raise CallStateError(
                        f"{path}[{key!r}]",
                        type(key).__name__,
                        f"has a {type(key).__name__} key; JSON object keys must be str",
                    )
                _check_json(item, f"{path}[{key!r}]", seen)
        else:
            for index, item in enumerate(value):
                _check_json(item, f"{path}[{index}]", seen)
        seen.discard(id(value))
        return
    type_name = type(value).__name__
    hint = _HINTS.get(type_name, "convert it to str, int, float, bool, None, list or dict")
    raise CallStateError(
        path, type_name, f"is a {type_name}, which call state cannot hold as JSON; {hint}"
    )


@dataclass
class Call:
    """Everything kookoo keeps about one phone call, identified by KooKoo's ``sid``.

    A handler asks for it by naming a parameter ``call``. Stores load it before the handler runs
    and save it afterwards; :attr:`version` lets the store refuse a save that would overwrite a
    concurrent request's changes (:class:`kookoo.state.stores.ConflictError`).

    Attributes:
        sid: KooKoo's call id.
        caller: the caller's number, the same :class:`~kookoo.protocol.phone.PhoneNumber` as
            :attr:`NewCall.caller <kookoo.protocol.events.NewCall.caller>`
            (``str(call.caller)`` is its E.164 form); KooKoo does not repeat ``cid`` on every
            later event, so read it from
            here. A ``str`` given to the constructor is parsed with
            :meth:`PhoneNumber.parse <kookoo.protocol.phone.PhoneNumber.parse>`.
        called_number: the number that was dialled (``called_number``), a
            :class:`~kookoo.protocol.phone.PhoneNumber` as well.
        state: the app's own data. Values must be JSON: ``None``, ``bool``, ``int``, finite
            ``float``, ``str``, ``list`` (tuples come back as lists) and ``dict`` with ``str``
            keys, nested freely. Anything else raises :class:`CallStateError` when the call is
            saved.
        step: the name of the step that handles the call's next event, or ``None``.
        history: the call's events, oldest first, as :class:`HistoryEntry`. Only the last
            :data:`HISTORY_LIMIT` (200) are kept so a long call cannot grow without bound.
        journal: reserved for linear call flows (:mod:`kookoo.flow`); JSON values.
        created_at: when the call object was created (unix time).
        updated_at: when an event was last recorded (unix time); defaults to ``created_at``.
        ended_at: when the call ended (Hangup/Disconnect), or ``None`` while it is live.
        version: managed by the store: 0 means never saved; each successful save adds one.
        last_reply: the XML of the last reply sent while the call had a step (see
            :meth:`kookoo.Response.next_step`), said again when the call's next event is
            one the step has no handler for (a retried or unexpected request); ``None``
            while the call has no step.
        outcome: how an outbound call ended, from KooKoo's completion callback
            (:class:`~kookoo.protocol.events.CallStatus`): ``{"status": "answered",
            "status_details": ..., "duration_seconds": ..., "ringing_seconds": ...,
            "start_time": ISO text}``;
            ``None`` until it arrives.

    Example::

        call = Call("3341", caller="09876543210")
        call.record_event("NewCall")
        call.state["lang"] = "hi"
        payload = call.to_json()
        same = Call.from_json(payload, version=1)
    """

    sid: str
    caller: PhoneNumber | None = None
    called_number: PhoneNumber | None = None
    state: dict[str, Any] = field(default_factory=dict)
    step: str | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    journal: list[Any] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    updated_at: float = 0.0
    ended_at: float | None = None
    version: int = 0
    last_reply: str | None = None
    outcome: dict[str, Any] | None = None

    history_limit: ClassVar[int] = HISTORY_LIMIT
    """How many history entries are kept (class-wide; override on a subclass if needed)."""

    def __post_init__(self) -> None:
        # Older code (and the docs of 0.1) passed numbers as text: keep accepting it.
        if isinstance(self.caller, str):
            self.caller = PhoneNumber.parse(self.caller)
        if isinstance(self.called_number, str):
            self.called_number = PhoneNumber.parse(self.called_number)
        if not self.updated_at:
            self.updated_at = self.created_at
        self._trim_history()
        # What to_json saw last time, so it only looks at what was added since (a long
        # call or flow otherwise re-checks and re-converts hundreds of unchanged entries).
        self._seen_history: tuple[HistoryEntry, ...] = ()
        self._history_rows: list[tuple[str, float]] = []
        self._seen_steps: tuple[Any, ...] = ()

    @property
    def ended(self) -> bool:
        """Whether the call has ended (KooKoo sent Hangup or Disconnect)."""
        return self.ended_at is not None

    def record_event(self, event: str, at: float | None = None) -> None:
        """Append ``event`` (a KooKoo event name) to :attr:`history` and set :attr:`updated_at`.

        Args:
            event: the event name, e.g. ``"GotDTMF"``.
            at: when it happened (unix time); now if omitted.
        """
        when = time.time() if at is None else at
        history = self.history
        history.append(HistoryEntry(event, when))
        if len(history) > self.history_limit:
            self._trim_history()
        self.updated_at = when

    def mark_ended(self, at: float | None = None) -> None:
        """Mark the call as ended (at ``at``, or now). The first end time wins: a Disconnect
        after a Hangup does not move it. Stores keep an ended call for their grace period so
        late events still find it, then let it expire."""
        when = time.time() if at is None else at
        if self.ended_at is None:
            self.ended_at = when
        self.updated_at = max(self.updated_at, when)

    def _trim_history(self) -> None:
        excess = len(self.history) - self.history_limit
        if excess > 0:
            del self.history[:excess]

    def to_json(self) -> str:
        """Serialise the call (everything except :attr:`version`, which the store keeps).

        Raises:
            CallStateError: a value in :attr:`state` or :attr:`journal` is not JSON; the
                message names its path (e.g. ``state['basket'][2]``) and its type.
        """
        state = self.state
        journal = self.journal
        if not isinstance(state, dict):
            raise CallStateError("state", type(state).__name__, "must be a dict")
        if not isinstance(journal, list):
            raise CallStateError("journal", type(journal).__name__, "must be a list")
        if not (_is_plain_json(state, 0) and (not journal or self._journal_is_plain_json())):
            # The slow walk names the offending path; it raises unless the value only looked
            # unusual to the fast check (a str subclass, deep nesting) and is fine after all.
            seen: set[int] = set()
            _check_json(self.state, "state", seen)
            _check_json(self.journal, "journal", seen)
        caller = self.caller
        called = self.called_number
        payload = {
            "format": _FORMAT,
            "sid": self.sid,
            "caller": None if caller is None else caller.raw,
            "caller_national": None if caller is None else caller.national,
            "called_number": None if called is None else called.raw,
            "called_national": None if called is None else called.national,
            "state": state,
            "step": self.step,
            "history": self._rows_of_history(),
            "journal": journal,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "ended_at": self.ended_at,
        }
        if self.last_reply is not None:
            payload["last_reply"] = self.last_reply
        if self.outcome is not None:
            payload["outcome"] = self.outcome
        return _encode(payload)

    def _journal_is_plain_json(self) -> bool:
        """:func:`_is_plain_json` for the journal; a flow's ``steps`` entries that the last
        call checked (the very same objects, in order) are not walked again: only
        :mod:`kookoo.flow` writes them, appending a new entry per answered step and never
        changing one in place."""
        journal = self.journal
        if len(journal) != 1 or type(journal[0]) is not dict:
            return _is_plain_json(journal, 0)
        entry = journal[0]
        steps = entry.get("steps")
        if type(steps) is not list:
            return _is_plain_json(journal, 0)
        current = tuple(steps)
        seen = self._seen_steps
        count = len(seen)
        if count and count <= len(current) and all(map(operator.is_, current, seen)):
            new = current[count:]
        else:
            new = current
        if not (
            all(type(k) is str for k in entry)
            and all(_is_plain_json(v, 1) for k, v in entry.items() if k != "steps")
            and all(_is_plain_json(step, 2) for step in new)
        ):
            return False
        self._seen_steps = current
        return True

    def _rows_of_history(self) -> list[tuple[str, float]]:
        """``history`` as ``(event, at)`` pairs; entries converted last time are reused
        (entries are immutable; the same objects, in order, give the same rows)."""
        current = tuple(self.history)
        seen = self._seen_history
        rows = self._history_rows
        reused = None
        count = len(seen)
        if count and len(current) == count + 1 and all(map(operator.is_, current, seen)):
            # The usual case, one event recorded since the last save, without the loop's
            # generator (measured: 4.5 k instructions of a 300 k request).
            entry = current[-1]
            rows.append((entry.event, entry.at))
            self._seen_history = current
            return rows
        # Otherwise one or two may have been dropped at HISTORY_LIMIT too.
        for dropped in (0, 1, 2):
            kept = len(seen) - dropped
            if 0 < kept <= len(current) and all(map(operator.is_, current, seen[dropped:])):
                reused = rows[dropped:]
                reused.extend((entry.event, entry.at) for entry in current[kept:])
                break
        if reused is None:
            reused = [(entry.event, entry.at) for entry in current]
        self._seen_history = current
        self._history_rows = reused
        return reused

    @classmethod
    def from_json(cls, data: str | bytes, *, version: int) -> Call:
        """Rebuild a call from :meth:`to_json` output; ``version`` is the store's version of it.

        Raises:
            ValueError: ``data`` is not a call record this version of kookoo can read.
        """
        try:
            raw = _decode(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"stored call record is not JSON: {exc}") from exc
        if not isinstance(raw, Mapping) or raw.get("format") != _FORMAT:
            fmt = raw.get("format") if isinstance(raw, Mapping) else None
            raise ValueError(f"stored call record has unknown format {fmt!r} (expected {_FORMAT})")
        if not isinstance(raw.get("state"), dict) or not isinstance(raw.get("journal"), list):
            raise ValueError("stored call record is malformed: state or journal has a wrong type")
        try:
            rows = raw["history"]
            call = cls(
                sid=raw["sid"],
                caller=_number(raw["caller"], raw.get("caller_national")),
                called_number=_number(raw["called_number"], raw.get("called_national")),
                state=raw["state"],
                step=raw["step"],
                history=list(map(_entry_from_row, rows)),
                journal=raw["journal"],
                created_at=raw["created_at"],
                updated_at=raw["updated_at"],
                ended_at=raw["ended_at"],
                version=version,
                last_reply=raw.get("last_reply"),
                outcome=raw.get("outcome"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"stored call record is incomplete or malformed: {exc!r}") from exc
        history = call.history
        if type(rows) is list and len(rows) == len(history):
            # The stored rows are what to_json would convert these very entries to: the
            # next save reuses them and converts only the events recorded since.
            call._seen_history = tuple(history)
            call._history_rows = rows
        return call


def _number(raw: object, national: object) -> PhoneNumber | None:
    """A stored number: its raw text and, when stored (records since 0.2), its national form."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise TypeError(f"stored number {raw!r} is not text")
    if isinstance(national, str):
        number: PhoneNumber = _new_object(PhoneNumber)  # as for history entries, above
        _set_raw(number, raw)
        _set_national(number, national)
        return number
    return PhoneNumber.parse(raw)
