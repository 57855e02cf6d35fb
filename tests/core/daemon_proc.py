"""Run the real ``appliance run`` entry point as a child process and read its log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


class DaemonProcess:
    """``env`` (None: this process's) always gets ``TZ=UTC``: the daemon's local time never
    depends on the machine running the tests."""

    def __init__(self, config: Path, env: dict[str, str] | None, *extra: str) -> None:
        env = {**(os.environ if env is None else env), "TZ": "UTC"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "appliance", "run", "--config", str(config), *extra],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def mark(self) -> int:
        with self._cond:
            return len(self.lines)

    def since(self, mark: int) -> list[str]:
        with self._cond:
            return self.lines[mark:]

    def wait_for(self, text: str, mark: int = 0, timeout_s: float = 60) -> str:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for line in self.lines[mark:]:
                    if text in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    log = "\n".join(self.lines[-40:])
                    raise AssertionError(f"no log line with {text!r} within {timeout_s}s:\n{log}")
                self._cond.wait(min(left, 0.5))

    def stop(self, timeout_s: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._reader.join(5)
