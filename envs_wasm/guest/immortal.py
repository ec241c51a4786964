"""Record every object alive at snapshot time, so that the build can make them immortal.

Each sandbox maps the pre-initialised interpreter copy-on-write, so a page stays shared only
while the sandbox never writes to it. CPython writes to an object whenever it takes or drops a
reference to it: looking up a module function, a method, a type or an interned name changes its
reference count, so the first use of any snapshot object copies its page into the sandbox's
private memory, and every later step touches that private copy (one sandbox's cache footprint).
Immortal objects (PEP 683) are exempt: `Py_INCREF`/`Py_DECREF` leave their count alone.

CPython has no Python-level way to make an object immortal, so `record()` only lists the
addresses (`id()`) of everything reachable and keeps each of those objects alive; the build
script (`crates/codegym-core/build.rs`) finds the list in the snapshot's memory image and writes
the immortal reference count into each object's header there. Pinned objects are never freed:
a snapshot object that an env drops is not reclaimed, which costs nothing in a sandbox that
lives for one env.
"""

import array
import gc
import struct

# 32 bytes that appear nowhere else in the image: computed, so no constant holds them.
MARKER = bytes((i * 73 + 41) % 251 + 1 for i in range(32))

_kept: list = []
_addresses = array.array("I")
_record = b""


def record() -> int:
    """List and pin every object reachable from the collector's roots; returns the count.

    Whatever this allocates and frees stays in the snapshot as garbage (and in every sandbox's
    initial memory size), so the walk keeps its temporaries small: a visited bitmap (objects
    are at least 8 bytes apart) instead of a set of ids, and a stack of unvisited objects only.
    """
    global _record
    seen = bytearray()
    stack = []

    def visit(obj) -> None:
        address = id(obj)
        slot, bit = address >> 6, 1 << ((address >> 3) & 7)
        if slot >= len(seen):
            seen.extend(bytes(slot - len(seen) + (1 << 16)))
        if not seen[slot] & bit:
            seen[slot] |= bit
            stack.append(obj)

    for obj in gc.get_objects():
        visit(obj)
    while stack:
        obj = stack.pop()
        # Kept alive until the snapshot (and so for ever): the build must never write into
        # memory that has been freed and reused since it was listed.
        _kept.append(obj)
        _addresses.append(id(obj))
        for referent in gc.get_referents(obj):
            visit(referent)
    address, count = _addresses.buffer_info()
    _record = MARKER + struct.pack("<II", count, address) + MARKER
    return count
