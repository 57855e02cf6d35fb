"""The allocator setting the daemon loads its models under: large buffers go back to the system
when freed, instead of staying resident in the heap after the parallel loads; after the loads,
large buffers come from the heap again (a fresh mapping each would double Whisper's time).

Checked in a fresh interpreter, as the daemon starts: glibc serves a request of any size from
free heap space first, so in a process that has already freed much (this test run) what is
mapped depends on what ran before."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")

_CHECK = """
import ctypes, ctypes.util, json
from appliance.models import MMAP_THRESHOLD_BYTES, loading_allocator

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2

def mapped_for(size):
    before = libc.mallinfo2().hblks
    buffer = libc.malloc(size)
    assert buffer
    mapped = libc.mallinfo2().hblks - before
    libc.free(buffer)
    return mapped

with loading_allocator() as held:
    # glibc's own behaviour without the setting: freeing this raises the threshold past 1 MiB
    big = libc.malloc(8 * 1024 * 1024)
    libc.free(big)
    while_loading = mapped_for(4 * MMAP_THRESHOLD_BYTES)
after = mapped_for(8 * MMAP_THRESHOLD_BYTES)
print(json.dumps({"held": held, "while_loading": while_loading, "after": after}))
"""


def test_while_loading_a_large_buffer_is_given_back_and_after_it_stays_in_the_heap() -> None:
    out = subprocess.run([sys.executable, "-c", _CHECK], capture_output=True, text=True,
                         timeout=60, check=True)
    seen = json.loads(out.stdout.splitlines()[-1])
    # while loading: its own mapping (unmapped when freed), not heap that stays resident;
    # after: from the heap, no mapping of its own
    assert seen == {"held": True, "while_loading": 1, "after": 0}
