"""The first-boot file: ``appliance.toml`` on the SD card's boot partition, read once.

A user writes it on any laptop (the FAT partition); ``appliance firstboot apply`` reads it on the
first boot. This module is the pure part: parse and check the file (every problem named by key,
never with a secret's value) and redact the secrets from its text. Applying it to the system is
:mod:`appliance.system.firstboot_apply`; the HAT at every boot is :mod:`appliance.system.hat`.

A file that is not valid TOML is salvaged for what keeps the device reachable: the user's name and
SSH public keys. A section with a problem is skipped; the other sections still apply.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import ssl
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

FILE_NAME = "appliance.toml"
FALLBACK_USER = "admin"
SECRET_KEYS = ("password_hash", "passphrase", "password")
WAKE_WORDS = ("hey_jarvis", "alexa", "hey_mycroft", "hey_rhasspy", "okay_nabu")
HATS = ("auto", "none", "respeaker-2mic", "voice-bonnet")
KEY_TYPES = (
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
)
RESERVED_USERS = frozenset({
    "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy",
    "www-data", "backup", "list", "irc", "nobody", "sshd", "messagebus", "appliance", "_apt",
})

_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")
_TIMEZONE = re.compile(r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+){0,2}$")
_CRYPT = re.compile(r"^\$(1|5|6|y|gy|7|2[abxy])\$[^\s:]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_KEY_LINE = re.compile(
    r"(?:" + "|".join(re.escape(t) for t in KEY_TYPES) + r") [A-Za-z0-9+/]+={0,3}"
    r"(?: [^\"'\n\r,\]]*)?"
)
_SECTION = re.compile(r"^\s*\[([A-Za-z0-9_.-]+)\]\s*(#.*)?$")
_SECRET_LINE = re.compile(r"^(\s*(?:" + "|".join(SECRET_KEYS) + r")\s*=\s*)(.*)$")


@dataclass(frozen=True)
class UserSpec:
    name: str
    ssh_keys: tuple[str, ...]
    password_hash: str  # "" = no password: SSH key login only


@dataclass(frozen=True)
class WifiSpec:
    country: str
    ssid: str
    passphrase: str  # "" = an open network


@dataclass(frozen=True)
class MqttSpec:
    host: str
    port: int
    username: str
    password: str
    tls: bool = False
    ca_certs: str = ""  # PEM of the CA(s) that signed the broker's certificate; "": the system's


@dataclass(frozen=True)
class FirstBoot:
    """What the file asks for; ``None`` = not given (or skipped because of a problem)."""

    hostname: str | None = None
    timezone: str | None = None
    wake_word: str | None = None
    hat: str | None = None
    wifi_country: str | None = None
    user: UserSpec | None = None
    wifi: WifiSpec | None = None
    mqtt: MqttSpec | None = None
    salvaged: bool = False  # not TOML: only the login was kept


@dataclass(frozen=True)
class Parsed:
    config: FirstBoot
    problems: tuple[str, ...]  # safe to log: key paths and rules, never values

    @property
    def valid(self) -> bool:
        return not self.problems


class _Problems(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# ---------------------------------------------------------------------------------------------
# Field checks: each returns the cleaned value or raises _Problems naming the key.


def _text(data: Mapping[str, Any], key: str, path: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise _Problems([f"{path}{key}: must be a string in quotes"])
    return value.strip()


def check_hostname(value: str, path: str = "hostname") -> str:
    name = value.lower()
    if not _HOSTNAME.match(name):
        raise _Problems([f"{path}: use 1-63 letters, digits and '-' (not first or last)"])
    return name


def check_timezone(value: str) -> str:
    if not _TIMEZONE.match(value) or ".." in value:
        raise _Problems(["timezone: use a name like 'Europe/Berlin' or 'UTC'"])
    return value


def check_choice(value: str, key: str, choices: tuple[str, ...]) -> str:
    if value not in choices and not (key == "wake_word" and value.endswith((".tflite", ".onnx"))):
        raise _Problems([f"{key}: use one of {', '.join(choices)}"])
    return value


def needs_tflite_engine(wake_word: str) -> bool:
    """okay_nabu and .tflite models run on pyopen-wakeword: the default engine reads ONNX."""
    return wake_word == "okay_nabu" or wake_word.endswith(".tflite")


def check_ssh_key(line: str, where: str) -> str:
    """One OpenSSH public key line: a known type, base64 whose blob names the same type."""
    parts = line.strip().split(None, 2)
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise _Problems([f"{where}: not an SSH public key (expected e.g. 'ssh-ed25519 AAAA...')"])
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError) as err:
        raise _Problems([f"{where}: the key's base64 part is damaged"]) from err
    fields = _ssh_strings(blob)
    if not fields or fields[0] != parts[0].encode():
        raise _Problems([f"{where}: the key's type and contents do not match (cut short?)"])
    if parts[0] == "ssh-ed25519" and (len(fields) != 2 or len(fields[1]) != 32):
        raise _Problems([f"{where}: not a whole ed25519 key (cut short?)"])
    return " ".join(parts)


def _ssh_strings(blob: bytes) -> list[bytes] | None:
    """The length-prefixed strings a public key blob is made of; None unless they fill it."""
    fields, pos = [], 0
    while pos < len(blob):
        size = int.from_bytes(blob[pos : pos + 4], "big")
        if pos + 4 + size > len(blob):
            return None
        fields.append(blob[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return fields


def check_user(data: Mapping[str, Any]) -> UserSpec | None:
    name = _text(data, "name", "user.")
    keys_raw = data.get("ssh_keys", [])
    if isinstance(keys_raw, str):
        keys_raw = [keys_raw] if keys_raw.strip() else []
    if not isinstance(keys_raw, list):
        raise _Problems(["user.ssh_keys: must be a list of key strings"])
    keys = tuple(check_ssh_key(str(k), f"user.ssh_keys[{i}]") for i, k in enumerate(keys_raw))
    password_hash = _text(data, "password_hash", "user.")
    if password_hash and not _CRYPT.match(password_hash):
        raise _Problems([
            "user.password_hash: must be a crypt hash such as the output of "
            "`openssl passwd -6`, never the password itself"
        ])
    if not name:
        if keys or password_hash:
            raise _Problems(["user.name: needed when SSH keys or a password are given"])
        return None
    if not _USER.match(name) or name in RESERVED_USERS:
        raise _Problems(["user.name: use lower-case letters, digits, '_' or '-' "
                         "(up to 31, starting with a letter) and not a system account"])
    if not keys and not password_hash:
        return None  # no way to log in: no account is made
    return UserSpec(name, keys, password_hash)


def check_wifi(data: Mapping[str, Any]) -> tuple[str | None, WifiSpec | None]:
    country = _text(data, "country", "wifi.").upper()
    ssid = _text(data, "ssid", "wifi.")
    passphrase = data.get("passphrase", "")
    if not isinstance(passphrase, str):
        raise _Problems(["wifi.passphrase: must be a string in quotes"])
    if country and not _COUNTRY.match(country):
        raise _Problems(["wifi.country: use the two-letter country code, e.g. 'GB' or 'DE'"])
    if not ssid:
        return (country or None), None
    if not country:
        raise _Problems(["wifi.country: needed with an SSID (radio rules differ by country)"])
    if len(ssid.encode()) > 32:
        raise _Problems(["wifi.ssid: at most 32 bytes"])
    is_hex_psk = len(passphrase) == 64 and all(c in "0123456789abcdefABCDEF" for c in passphrase)
    if passphrase and not is_hex_psk and not (
        8 <= len(passphrase) <= 63 and passphrase.isascii() and passphrase.isprintable()
    ):
        raise _Problems(["wifi.passphrase: use 8-63 printable ASCII characters (or empty for an "
                         "open network)"])
    return country, WifiSpec(country, ssid, passphrase)


def check_mqtt(data: Mapping[str, Any]) -> MqttSpec | None:
    host = _text(data, "host", "mqtt.")
    tls = data.get("tls", False)
    if not isinstance(tls, bool):
        raise _Problems(["mqtt.tls: true or false"])
    ca_certs = check_ca_certs(_text(data, "ca_certs", "mqtt."), tls=tls)
    port = data.get("port", 8883 if tls else 1883)  # the usual ports
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise _Problems(["mqtt.port: a whole number from 1 to 65535"])
    username = _text(data, "username", "mqtt.")
    password = data.get("password", "")
    if not isinstance(password, str):
        raise _Problems(["mqtt.password: must be a string in quotes"])
    if not host:
        return None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        check_hostname_or_fqdn(host)
    return MqttSpec(host, port, username, password, tls, ca_certs)


_PEM_CERT = re.compile(
    r"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----"
)


def check_ca_certs(pem: str, *, tls: bool) -> str:
    """The CA certificate(s) pasted into ``[mqtt] ca_certs`` (PEM), as OpenSSL will load them;
    "" = trust the system's CAs. A private key pasted by mistake is refused: this file stays on
    the boot partition, readable on any computer."""
    if not pem:
        return ""
    if not tls:
        raise _Problems(["mqtt.ca_certs: only used with TLS: add tls = true"])
    if "PRIVATE KEY" in pem:
        raise _Problems(["mqtt.ca_certs: holds a private key: paste only the CA's certificate "
                         "(-----BEGIN CERTIFICATE----- ...)"])
    certs = "\n".join(_PEM_CERT.findall(pem))
    if not certs or not _loads_as_ca(certs):
        raise _Problems(["mqtt.ca_certs: not a PEM certificate: paste the CA's certificate, "
                         "-----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----, between "
                         "''' and '''"])
    return certs + "\n"


def _loads_as_ca(pem: str) -> bool:
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=pem)
    except (ssl.SSLError, ValueError):
        return False
    return True


def check_hostname_or_fqdn(host: str) -> None:
    labels = host.lower().rstrip(".").split(".")
    if len(host) > 253 or not all(_HOSTNAME.match(label) for label in labels):
        raise _Problems(["mqtt.host: a host name or IP address, e.g. 'homeassistant.local'"])


# ---------------------------------------------------------------------------------------------
# The whole file

_SECTIONS: dict[str, tuple[str, ...]] = {
    "user": ("name", "ssh_keys", "password_hash"),
    "wifi": ("country", "ssid", "passphrase"),
    "mqtt": ("host", "port", "username", "password", "tls", "ca_certs"),
}
_TOP: dict[str, Callable[[str], str]] = {
    "hostname": check_hostname,
    "timezone": check_timezone,
    "wake_word": lambda v: check_choice(v, "wake_word", WAKE_WORDS),
    "hat": lambda v: check_choice(v, "hat", HATS),
}


def parse_text(text: str) -> Parsed:
    """Check a first-boot file. Never raises: problems are returned, good parts kept."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        # The decoder's message names a line and column, not the text there.
        return Parsed(salvage(text), (f"not valid TOML: {err}",))
    problems: list[str] = []
    for key in data:
        if key not in _TOP and key not in _SECTIONS:
            problems.append(f"{key}: unknown key (known: {', '.join([*_TOP, *_SECTIONS])})")
    values: dict[str, Any] = {}
    for key, check in _TOP.items():
        values[key] = _attempt(problems, partial(_top_value, data, key, check))
    for section, known in _SECTIONS.items():
        table = data.get(section, {})
        if not isinstance(table, dict):
            problems.append(f"{section}: must be a [{section}] table")
            continue
        problems.extend(f"{section}.{k}: unknown key (known: {', '.join(known)})"
                        for k in table if k not in known)
        values[section] = _attempt(problems, partial(_CHECKS[section], table))
    country, wifi = values.get("wifi") or (None, None)
    config = FirstBoot(
        hostname=values["hostname"], timezone=values["timezone"], wake_word=values["wake_word"],
        hat=values["hat"], wifi_country=country, user=values.get("user"), wifi=wifi,
        mqtt=values.get("mqtt"),
    )
    return Parsed(config, tuple(problems))


_CHECKS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "user": check_user, "wifi": check_wifi, "mqtt": check_mqtt,
}


def _top_value(data: Mapping[str, Any], key: str, check: Callable[[str], str]) -> str | None:
    value = _text(data, key, "")
    return check(value) if value else None


def _attempt(problems: list[str], fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except _Problems as err:
        problems.extend(err.problems)
        return None


def salvage(text: str) -> FirstBoot:
    """From a file that is not TOML: the [user] name and every well-formed SSH public key."""
    keys: list[str] = []
    for match in _KEY_LINE.finditer(text):
        try:
            keys.append(check_ssh_key(match.group(0), "salvaged key"))
        except _Problems:
            continue
    if not keys:
        return FirstBoot(salvaged=True)
    name = _salvage_user_name(text)
    return FirstBoot(user=UserSpec(name or FALLBACK_USER, tuple(dict.fromkeys(keys)), ""),
                     salvaged=True)


def _salvage_user_name(text: str) -> str | None:
    section = ""
    for line in text.splitlines():
        header = _SECTION.match(line)
        if header:
            section = header.group(1)
            continue
        if section != "user" or not line.strip().startswith("name"):
            continue
        try:
            value = tomllib.loads(line).get("name")
        except tomllib.TOMLDecodeError:
            continue
        if isinstance(value, str) and _USER.match(value) and value not in RESERVED_USERS:
            return value
    return None


# ---------------------------------------------------------------------------------------------
# After the first boot: the file is kept without its secrets


def redact(text: str) -> str:
    """The file's text with every secret's value removed (comments and other keys kept)."""
    out = []
    for line in text.splitlines(keepends=True):
        match = _SECRET_LINE.match(line)
        if match is None:
            out.append(line)
            continue
        ending = "\n" if line.endswith("\n") else ""
        out.append(f'{match.group(1)}""  # removed after the first boot{ending}')
    return "".join(out)
