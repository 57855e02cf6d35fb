"""The allocator setting the daemon loads its models under: large buffers go back to the system
when freed, instead of staying resident in the heap after the parallel loads; after the loads,
large buffers come from the heap again (a fresh mapping each would double Whisper's time)."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

import pytest

from appliance.models import MMAP_THRESHOLD_BYTES, loading_allocator

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.mallinfo2.restype = _MallInfo2
    return libc


def test_while_loading_a_large_buffer_is_given_back_and_after_it_stays_in_the_heap() -> None:
    libc = _libc()
    with loading_allocator() as held:
        assert held
        # glibc's own behaviour without the setting: freeing this raises the threshold past 1 MiB
        big = libc.malloc(8 * 1024 * 1024)
        assert big
        libc.free(big)
        mapped = libc.mallinfo2().hblks
        buffer = libc.malloc(4 * MMAP_THRESHOLD_BYTES)
        assert buffer
        try:
            # its own mapping (unmapped when freed), not a piece of the heap that stays resident
            assert libc.mallinfo2().hblks == mapped + 1
        finally:
            libc.free(buffer)
        assert libc.mallinfo2().hblks == mapped
    buffer = libc.malloc(8 * MMAP_THRESHOLD_BYTES)
    assert buffer
    try:
        assert libc.mallinfo2().hblks == mapped  # from the heap: no mapping of its own
    finally:
        libc.free(buffer)
