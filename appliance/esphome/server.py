"""The ESPHome native API server: a TCP listener (announced over zeroconf), one
:class:`~appliance.esphome.connection.Connection` per client, at most ``max_connections``."""

from __future__ import annotations

import asyncio
import errno
import logging

from appliance.errors import ApplianceError
from appliance.esphome.announce import Announcement, announce, compact_mac, host_addresses
from appliance.esphome.connection import (
    Connection,
    ConnectionContext,
    Limits,
    SessionFactory,
    peer_of,
)
from appliance.esphome.frames import Codec, NoiseCodec, PlaintextCodec
from appliance.esphome.settings import EsphomeSettings, resolve_name

_LOGGER = logging.getLogger(__name__)


class EsphomeServerError(ApplianceError):
    code = "esphome_server_failed"


class ApiServer:
    def __init__(self, settings: EsphomeSettings, make_session: SessionFactory, *,
                 server_info: str, mac: str, max_connections: int = 4,
                 friendly_name: str = "", limits: Limits | None = None) -> None:
        self._settings = settings
        self._mac = compact_mac(mac)
        self._friendly_name = friendly_name or settings.friendly_name
        self._max = max_connections
        self._ctx = ConnectionContext(resolve_name(settings), server_info, self._make_codec,
                             make_session, limits or Limits())
        self._connections: set[Connection] = set()
        self._tasks: asyncio.TaskGroup | None = None
        self._bound = asyncio.Event()
        self._bind_error: ApplianceError | None = None
        self._port = 0
        self._refusing = False

    @property
    def port(self) -> int:
        """The bound port (``settings.port`` may be 0: any free port)."""
        return self._port

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    async def started(self) -> None:
        """Returns once bound; raises what ``run`` raised if it could not bind."""
        await self._bound.wait()
        if self._bind_error is not None:
            raise self._bind_error

    async def run(self) -> None:
        """Bind, announce (``settings.zeroconf``), serve until cancelled; then close every
        connection. A port in use is an EsphomeServerError (code esphome_port_in_use)."""
        server = await self._bind()
        try:
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                if self._settings.zeroconf:
                    tasks.create_task(announce(self._announcement(), self._settings.address),
                                      name="esphome zeroconf")
                self._bound.set()
                try:
                    await asyncio.Event().wait()
                finally:
                    server.close()  # no new client while the connections close
        finally:
            self._tasks = None
            server.close()
            await server.wait_closed()

    async def _bind(self) -> asyncio.Server:
        address, port = self._settings.address, self._settings.port
        try:
            server = await asyncio.start_server(self._accept, address or None, port)
        except OSError as err:
            self._bind_error = _bind_error(err, address, port)
            self._bound.set()
            raise self._bind_error from err
        self._port = int(server.sockets[0].getsockname()[1])
        _LOGGER.info("esphome: API server on %s:%d (%s)", address or "*", self._port,
                 "encrypted" if self._settings.key else "plaintext")
        return server

    def _make_codec(self) -> Codec:
        key = self._settings.key
        if key is None:
            return PlaintextCodec()
        return NoiseCodec(key, name=self._ctx.name, mac=self._mac)

    def _announcement(self) -> Announcement:
        return Announcement(self._ctx.name, self._port, self._mac,
                            host_addresses(self._settings.address),
                            friendly_name=self._friendly_name,
                            encrypted=self._settings.key is not None)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._tasks is None:
            writer.transport.abort()
            return
        if len(self._connections) >= self._max:
            self._refuse(writer)
            return
        self._refusing = False
        connection = Connection(reader, writer, self._ctx, asyncio.get_running_loop().time())
        self._connections.add(connection)
        self._tasks.create_task(self._serve(connection), name=f"esphome {connection.peer}")

    def _refuse(self, writer: asyncio.StreamWriter) -> None:
        level = logging.DEBUG if self._refusing else logging.WARNING
        self._refusing = True
        _LOGGER.log(level, "esphome: %s refused: %d clients are connected, the most allowed",
                peer_of(writer), self._max)
        writer.close()

    async def _serve(self, connection: Connection) -> None:
        try:
            await connection.run()
        finally:
            self._connections.discard(connection)


def _bind_error(err: OSError, address: str, port: int) -> EsphomeServerError:
    where = f"{address or '*'}:{port}"
    if err.errno == errno.EADDRINUSE:
        return EsphomeServerError(
            f"esphome: port {port} is in use ({where}): another program listens there",
            fix="set another `[esphome] port`, or stop the other program",
            code="esphome_port_in_use")
    return EsphomeServerError(f"esphome: cannot listen on {where}: {err.strerror or err}",
                              fix="check `[esphome] address` and `[esphome] port`")
