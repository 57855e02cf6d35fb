"""What Home Assistant serves the satellite, for the tests: WAV tones over real HTTP on loopback."""

from __future__ import annotations

import contextlib
import io
import threading
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


def tone(freq_hz: float = 440.0, seconds: float = 0.3, rate_hz: int = 22050,
         amplitude: int = 8000) -> bytes:
    """A WAV file of a sine (mono, 16-bit)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        t = np.arange(int(seconds * rate_hz)) / rate_hz
        w.writeframes((np.sin(2 * np.pi * freq_hz * t) * amplitude).astype("<i2").tobytes())
    return out.getvalue()


@contextlib.contextmanager
def served(files: dict[str, bytes]) -> Iterator[str]:
    """``files`` (path -> body) over HTTP on loopback; yields the base URL. Any other path: 404."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # (http.server's name)
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "audio/wav")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
