"""A real mosquitto for the tests: generated config, a free loopback port, TLS files by openssl."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
START_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Mosquitto:
    """One broker process; ``config`` is the body of its mosquitto.conf (listeners included)."""

    def __init__(self, workdir: Path, config: str, port: int) -> None:
        self.workdir = workdir
        self.port = port
        self.conf = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        run_as = "user root\n" if os.geteuid() == 0 else ""  # else it drops to 'mosquitto'
        self.conf.write_text(f"persistence false\nlog_dest stderr\n{run_as}{config}")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _port_open(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"mosquitto did not start:\n{self.log.read_text()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the broker vanishes without a goodbye, as when its machine loses power."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait(timeout=10)
            self._proc = None

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._proc = None


def plain_broker(workdir: Path, port: int | None = None) -> Mosquitto:
    port = port or free_port()
    return Mosquitto(workdir, f"listener {port} 127.0.0.1\nallow_anonymous true\n", port)


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing we use


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _new_ca(d: Path, name: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d,
    )


def _signed(d: Path, name: str, ext: str) -> None:
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d,
    )
    (d / f"{name}.ext").write_text(ext)
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext", cwd=d,
    )


def make_pki(d: Path) -> Pki:
    """A self-signed CA, a server certificate for localhost/127.0.0.1 and a client certificate."""
    _new_ca(d, "ca")
    _new_ca(d, "other")
    _signed(d, "server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _signed(d, "client", "extendedKeyUsage=clientAuth\n")
    return Pki(
        ca=d / "ca.crt", server_cert=d / "server.crt", server_key=d / "server.key",
        client_cert=d / "client.crt", client_key=d / "client.key", other_ca=d / "other.crt",
    )


@dataclass
class SecureBroker:
    broker: Mosquitto
    tls_port: int
    pki: Pki
    username: str
    password: str


def secure_broker(workdir: Path) -> SecureBroker:
    """Login required on both listeners; the TLS one also wants a client certificate."""
    pki = make_pki(workdir)
    passwd = workdir / "passwd"
    passwd.write_text("")
    subprocess.run(
        ["mosquitto_passwd", "-b", str(passwd), "speaker", "s3cret pass"],
        check=True, capture_output=True, timeout=30,
    )
    port, tls_port = free_port(), free_port()
    config = (
        "per_listener_settings false\nallow_anonymous false\n"
        f"password_file {passwd}\n"
        f"listener {port} 127.0.0.1\n"
        f"listener {tls_port} 127.0.0.1\n"
        f"cafile {pki.ca}\ncertfile {pki.server_cert}\nkeyfile {pki.server_key}\n"
        "require_certificate true\n"
    )
    broker = Mosquitto(workdir, config, port)
    return SecureBroker(broker, tls_port, pki, "speaker", "s3cret pass")
