"""The ESPHome API's protobuf messages, as ``aioesphomeapi`` ships them (``api_pb2``).

The generated module has no type stubs, so it is typed ``Any`` here, once; messages are
:class:`google.protobuf.message.Message` everywhere else.
"""

from __future__ import annotations

import importlib
from typing import Any

from google.protobuf.message import Message

pb: Any = importlib.import_module("aioesphomeapi.api_pb2")


def message(value: Any) -> Message:
    """A message made from ``pb`` (typed ``Any``), typed again."""
    assert isinstance(value, Message)
    return value
