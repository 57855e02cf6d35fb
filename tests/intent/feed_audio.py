"""A microphone for a daemon under test: ``python feed_audio.py [FILE.raw]`` writes the raw
16 kHz 16-bit mono file to stdout in real time, then silence forever (``[audio.input] command``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

CHUNK = 1280 * 2  # 80 ms


def main() -> None:
    data = Path(sys.argv[1]).read_bytes() if len(sys.argv) > 1 else b""
    out = sys.stdout.buffer
    start = time.monotonic()
    sent = 0
    while True:
        chunk = data[sent : sent + CHUNK] or bytes(CHUNK)
        out.write(chunk.ljust(CHUNK, b"\0"))
        out.flush()
        sent += CHUNK
        ahead = start + (sent / CHUNK) * 0.08 - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


if __name__ == "__main__":
    main()
