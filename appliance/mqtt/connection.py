"""The broker connection: client factory, reconnect loop with capped backoff, and a doctor check.

:func:`connection_loop` reconnects forever; a broker that is absent, restarting or refusing us is
logged (a warning on the first failure of an outage, debug on the retries) and retried after a
capped exponential delay with jitter (:class:`appliance.backoff.Backoff`, as the microphone is).
The speaker works locally the whole time.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable

import aiomqtt

from appliance.backoff import Backoff
from appliance.errors import ApplianceError
from appliance.mqtt.settings import MqttSettings, resolve_client_id, resolve_site_id
from appliance.mqtt.tasks import TopicQueues
from appliance.mqtt.topics import Topics

_LOGGER = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 10.0
MAX_QUEUED_INCOMING = 256  # in all; each topic has a smaller bound (fair_queue)

Serve = Callable[[aiomqtt.Client], Awaitable[None]]
QueueType = type[asyncio.Queue[aiomqtt.Message]]


class BrokerError(ApplianceError):
    code = "mqtt_unavailable"


def tls_context(settings: MqttSettings) -> ssl.SSLContext | None:
    if not settings.tls:
        return None
    try:
        context = ssl.create_default_context(cafile=settings.tls_ca_file or None)
        if settings.tls_certfile:
            context.load_cert_chain(settings.tls_certfile, settings.tls_keyfile or None)
    except (OSError, ssl.SSLError) as err:
        raise BrokerError(
            f"cannot load the MQTT TLS files: {err}",
            fix="check [mqtt] tls_ca_file, tls_certfile and tls_keyfile (PEM files, readable)",
        ) from err
    if settings.tls_insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def fair_queue(per_topic: int, on_drop: Callable[[str], None]) -> QueueType:
    """An incoming queue for aiomqtt (its ``queue_type``) that serves the topics in turn, at
    most ``per_topic`` messages each (:class:`TopicQueues`): a flood on one topic delays a
    command on another by one message at most. ``on_drop(topic)``: the oldest message of
    ``topic`` made room for a new one."""

    class FairQueue(asyncio.Queue[aiomqtt.Message]):
        _queue: TopicQueues[aiomqtt.Message]

        def _init(self, maxsize: int) -> None:
            self._queue = TopicQueues(per_topic)

        def _put(self, item: aiomqtt.Message) -> None:
            topic = str(item.topic)
            if not self._queue.put(topic, item):
                on_drop(topic)

        def _get(self) -> aiomqtt.Message:
            return self._queue.pop()

    return FairQueue


def make_client(
    settings: MqttSettings, *, client_id: str, will_topic: str | None,
    queue_type: QueueType | None = None,
) -> aiomqtt.Client:
    """A new client (one per attempt); with ``will_topic`` the broker says ``offline`` for us.
    ``queue_type``: how incoming messages wait (default: one FIFO queue)."""
    will = aiomqtt.Will(will_topic, "offline", qos=1, retain=True) if will_topic else None
    return aiomqtt.Client(
        settings.host, settings.port,
        username=settings.username or None, password=settings.password or None,
        identifier=client_id, will=will, keepalive=settings.keepalive_s,
        tls_context=tls_context(settings), timeout=CONNECT_TIMEOUT_S,
        queue_type=queue_type, max_queued_incoming_messages=MAX_QUEUED_INCOMING,
    )


def describe_failure(err: Exception, settings: MqttSettings) -> BrokerError:
    """What went wrong, in words a user can act on."""
    if isinstance(err, BrokerError):
        return err
    where = f"{settings.host}:{settings.port}"
    text = str(err)
    lowered = text.lower()
    for needles, message, fix in _FAILURES:
        if any(n in lowered for n in needles):
            return BrokerError(f"MQTT broker {where}: {message} ({text})", fix=fix)
    if settings.tls and "connection reset" in lowered:  # a plain port hangs up on a TLS hello
        return BrokerError(f"MQTT broker {where}: the TLS handshake failed ({text})", fix=_TLS_FIX)
    if isinstance(err, aiomqtt.MqttCodeError) and _rc(err) in (4, 5, 134, 135):
        return BrokerError(f"MQTT broker {where} refused the login ({text})", fix=_LOGIN_FIX)
    return BrokerError(
        f"MQTT broker {where}: {text or type(err).__name__}",
        fix="check the [mqtt] settings and the broker's log",
    )


_TLS_FIX = "use the broker's TLS port (often 8883) with tls = true, or tls = false on a plain port"
_LOGIN_FIX = "check [mqtt] username and password (and the broker's password file and ACL)"
_FAILURES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("bad user name", "not authori", "bad username"), "refused the login", _LOGIN_FIX),
    (("connection refused",), "nothing is listening there",
     "start the broker (systemctl start mosquitto) or correct [mqtt] host and port"),
    (("name or service not known", "nodename nor servname", "temporary failure in name"),
     "the host name does not resolve", "correct [mqtt] host"),
    (("certificate verify failed",), "its TLS certificate is not trusted",
     "set [mqtt] tls_ca_file to the CA that signed the broker's certificate"),
    (("wrong version number", "unexpected eof", "eof occurred", "record layer failure"),
     "the TLS handshake failed", _TLS_FIX),
    (("timed out", "no route to host", "network is unreachable"), "no answer",
     "check [mqtt] host and port, and that the network and firewall let MQTT through"),
)


def _rc(err: aiomqtt.MqttCodeError) -> int:
    value = getattr(err.rc, "value", err.rc)
    return value if isinstance(value, int) else -1


class _Outage:
    """The wait before each retry (``backoff``), a warning on the first failure of an outage and
    debug lines on the retries."""

    def __init__(self, where: str, backoff: Backoff) -> None:
        self._where = where
        self._backoff = backoff
        self._was_connected = False

    def connected(self) -> None:
        if self._backoff.failures:
            _LOGGER.info("connected to MQTT broker %s after %d retries",
                         self._where, self._backoff.failures)
        else:
            _LOGGER.info("connected to MQTT broker %s", self._where)
        self._backoff.reset()
        self._was_connected = True

    def failed(self, error: BrokerError) -> float:
        """Log ``error``; returns how long to wait before the next attempt."""
        first = self._backoff.first_failure
        delay_s = self._backoff.next_delay()
        if first:
            what = "lost the connection to" if self._was_connected else "cannot connect to"
            _LOGGER.warning(
                "%s MQTT broker: %s (fix: %s); retrying in %.1f s, the speaker keeps working",
                what, error.message, error.fix, delay_s,
            )
        else:
            _LOGGER.debug("MQTT retry %d failed: %s", self._backoff.failures - 1, error.message)
        self._was_connected = False
        return delay_s


async def connection_loop(
    settings: MqttSettings, will_topic: str, serve: Serve, backoff: Backoff | None = None,
    queue_type: QueueType | None = None,
) -> None:
    """Connect, ``serve`` the connection until it drops, wait, repeat; until cancelled.

    ``backoff`` (default: from ``reconnect_initial_s`` to ``reconnect_max_s``) is reset by each
    successful connection; ``queue_type`` is :func:`make_client`'s."""
    client_id = resolve_client_id(settings, resolve_site_id(settings))
    if backoff is None:
        backoff = Backoff(settings.reconnect_initial_s, settings.reconnect_max_s)
    outage = _Outage(f"{settings.host}:{settings.port}", backoff)
    while True:
        try:
            client = make_client(
                settings, client_id=client_id, will_topic=will_topic, queue_type=queue_type
            )
            async with client:
                outage.connected()
                await serve(client)
            error = BrokerError("the broker closed the connection", fix="see the broker's log")
        except (aiomqtt.MqttError, BrokerError) as err:
            _reraise_if_cancelling(err)
            error = describe_failure(err, settings)
        except Exception as err:
            _reraise_if_cancelling(err)
            _LOGGER.exception("MQTT connection failed unexpectedly")
            error = describe_failure(err, settings)
        await asyncio.sleep(outage.failed(error))


def _reraise_if_cancelling(err: Exception) -> None:
    # A failed clean disconnect during cancellation must not swallow the cancellation.
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from err


async def check_broker(settings: MqttSettings, timeout_s: float) -> tuple[bool, str]:
    """Connect and log in once (for ``appliance doctor``): (ok, what happened or what to fix)."""
    if not settings.enabled:
        return True, "MQTT is off ([mqtt] host is empty)"
    site_id = resolve_site_id(settings)
    Topics.for_site(settings, site_id)  # a bad prefix is a ConfigError, raised to the caller
    # A client id of its own: reusing the daemon's would disconnect the running speaker.
    client_id = f"{resolve_client_id(settings, site_id)}-check"
    where = f"{settings.host}:{settings.port}"
    try:
        async with asyncio.timeout(timeout_s):
            async with make_client(settings, client_id=client_id, will_topic=None):
                pass
    except TimeoutError:
        return False, (
            f"MQTT broker {where}: no answer within {timeout_s:g} s; fix: check [mqtt] host and "
            "port, and that the network and firewall let MQTT through"
        )
    except (aiomqtt.MqttError, BrokerError) as err:
        failure = describe_failure(err, settings)
        return False, f"{failure.message}; fix: {failure.fix}"
    tls = " with TLS" if settings.tls else ""
    login = f" as {settings.username}" if settings.username else ""
    return True, f"connected to MQTT broker {where}{tls}{login}"
