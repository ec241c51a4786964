"""Fill the snapshot heap's free 32-byte blocks, so that sandboxes allocate on fresh pages.

Importing the stdlib and running the warm-up (warmup.py) frees many small objects, and the
allocator keeps their blocks for reuse (wasi-libc's malloc, dlmalloc: this CPython build has no
pymalloc, and the mimalloc compiled into it is the default only for free-threaded builds).
Every sandbox starts from that snapshot, so its first small objects (ints, small tuples, bound
methods, cells: the 17-32-byte size class on wasm32) land in those holes, scattered over pages
that otherwise hold only shared data, and each such write copies a whole page into the sandbox.
Filling the holes once, here, with objects that stay alive makes every sandbox allocate on
contiguous pages instead.

How many: the probe (crates/codegym-core/examples/probe.rs, LIS env, snapshot objects already
immortal) counts page faults per sandbox for instantiate + load as the number of pinned blocks
grows: 0 -> 398, 500 -> 424, 2,000 -> 306, 6,000 -> 232, 20,000 -> 227, 121,000 -> 199.
Filling other size classes as well (2,000 blocks each from 48 to 512 bytes) grew the image by
37 MB and did not help further.
"""

# 20,000 blocks of 32 bytes: 640 KB of the shared image, none of it in any sandbox's memory.
BLOCKS = 20_000

_pinned: list[int] = []


def fill(blocks: int = BLOCKS) -> None:
    """Allocate `blocks` ints (one 32-byte block each) and keep them for ever."""
    # int.from_bytes builds a new int object each call (no small-int cache, no constant folding).
    _pinned.extend(int.from_bytes(b"\x01\x00\x01", "little") for _ in range(blocks))
