"""The version board: which version of a call was saved last, in memory every process of
one machine shares, so a process can tell without a database query that the call it kept
from its own last save is still the stored one.

:class:`~kookoo.state.stores.SQLiteStore` keeps the call a process saved last (the recent-calls
cache of :class:`~kookoo.state.stores.CallStore`) and, before handing it to the call's next
request, used to ask the database whether another worker had saved the call since (one
indexed query, a sixth of a warm request's cost). Now every successful save also posts
``(sid, version)`` on this board, a small file beside the database mapped into every
process (``mmap``, shared); the question becomes a 16-byte read.

The board is advice, never the truth: the compare-and-set of the save still decides. A
board that is wrong (a process killed between its commit and its post, two sids sharing a
slot, a read that raced a write) can only make the cached call look current when it is not;
the save then raises :class:`~kookoo.state.stores.ConflictError` and the request runs again on
the stored call, as after any lost race. Because KooKoo sends a call's next request only
after the reply to the last one, and a save posts before its reply goes out, a correct
board is the normal case.
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
import zlib

__all__ = ["VersionBoard", "open_board"]

logger = logging.getLogger("kookoo")

_SLOT = struct.Struct("<IIQ")  # tag of the sid, unused, version
_SLOTS = 1 << 16  # 65,536 slots of 16 bytes: a 1 MiB file
_SIZE = _SLOTS * _SLOT.size
_MASK = _SLOTS - 1
# The tag is a second CRC of the sid, seeded differently from the one that picks the slot,
# so two sids in one slot are told apart (unless both CRCs collide).
_TAG_SEED = 0x6B6F6F6B


class VersionBoard:
    """The last saved version of each call, shared by the processes using one database.

    Args:
        path: the board's file (created if missing, 1 MiB).

    Raises:
        OSError: the file cannot be created, sized or mapped (the store then asks the
            database instead).
    """

    __slots__ = ("_map", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            if os.fstat(fd).st_size < _SIZE:
                # Blocks on disk, not a sparse file: writing a page of a sparse mapping
                # when the disk is full kills the process (SIGBUS). Growing is safe to race:
                # every process asks for the same size, and nobody ever shrinks the file.
                if hasattr(os, "posix_fallocate"):
                    os.posix_fallocate(fd, 0, _SIZE)
                else:  # pragma: no cover - macOS and the like
                    os.ftruncate(fd, _SIZE)
            self._map = mmap.mmap(fd, _SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)  # the mapping stays; no SQLite lock lives on this file

    def __repr__(self) -> str:
        return f"VersionBoard({self.path!r})"

    def post(self, sid: str, version: int) -> None:
        """Record that ``version`` of call ``sid`` is now the stored one (``0``: the call
        was deleted)."""
        data = sid.encode("utf-8", "surrogatepass")
        _SLOT.pack_into(
            self._map,
            (zlib.crc32(data) & _MASK) * _SLOT.size,
            zlib.crc32(data, _TAG_SEED),
            0,
            version & 0xFFFFFFFFFFFFFFFF,
        )

    def version(self, sid: str) -> int | None:
        """The version last posted for ``sid``, or ``None`` when the slot holds another
        sid's post (or none): then only the database can tell."""
        data = sid.encode("utf-8", "surrogatepass")
        tag, _, posted = _SLOT.unpack_from(self._map, (zlib.crc32(data) & _MASK) * _SLOT.size)
        return int(posted) if tag == zlib.crc32(data, _TAG_SEED) and posted else None

    def close(self) -> None:
        """Unmap the board (this process only; the file stays for the others)."""
        self._map.close()


def open_board(database: str) -> VersionBoard | None:
    """The board beside ``database`` (``<database>-kookoo-versions``), or ``None`` with a
    DEBUG line when it cannot be had (a read-only directory, say): the store then asks the
    database, as it did before the board."""
    try:
        return VersionBoard(f"{database}-kookoo-versions")
    except (OSError, ValueError) as exc:
        logger.debug("no version board for %s (asking the database instead): %s", database, exc)
        return None
