"""Case ids already seen in a file, and the line each was first seen on, in little memory.

A file that names a case twice is a mistake the lender wants to hear about:
the first row is imported, each later one refused with the line of the first.
A million ids cost about 25 MB here (an 8-byte hash and a 4-byte line number
in an open-addressing table), not the hundreds a ``dict`` of strings would.
Two different ids share a hash once in about 10^19 pairs; the later of such a
pair would be refused as a duplicate of the earlier.
"""

from __future__ import annotations

from array import array

__all__ = ["FirstLines"]

#: Slots the table starts with (a power of two); it doubles when two thirds are taken.
START = 1024
#: A hash is kept to 64 bits, the width of a slot.
_BITS = 2**64 - 1


class FirstLines:
    """Remember the first line of each id; tell a repeated id which line it repeats."""

    def __init__(self) -> None:
        self._keys = array("Q", bytes(8 * START))
        self._lines = array("I", bytes(4 * START))
        self._used = 0

    def __len__(self) -> int:
        return self._used

    def first(self, case_id: str, line: int) -> int | None:
        """The line ``case_id`` was first seen on, or None (and ``line`` is remembered as its first)."""
        key = _hash(case_id)
        slot = self._slot(key)
        if self._keys[slot] == key:
            return int(self._lines[slot])
        self._keys[slot] = key
        self._lines[slot] = line
        self._used += 1
        if self._used * 3 > len(self._keys) * 2:
            self._grow()
        return None

    def _slot(self, key: int) -> int:
        """Where ``key`` is, or the empty slot where it would go (linear probing)."""
        mask = len(self._keys) - 1
        slot = key & mask
        keys = self._keys
        while keys[slot] not in (0, key):
            slot = (slot + 1) & mask
        return slot

    def _grow(self) -> None:
        keys, lines = self._keys, self._lines
        self._keys = array("Q", bytes(16 * len(keys)))
        self._lines = array("I", bytes(8 * len(lines)))
        for key, line in zip(keys, lines, strict=True):
            if key:
                slot = self._slot(key)
                self._keys[slot] = key
                self._lines[slot] = line


def _hash(case_id: str) -> int:
    """A 64-bit hash of the id, never 0 (0 marks an empty slot); one file is read by one process."""
    return (hash(case_id) & _BITS) or 1
