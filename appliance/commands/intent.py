"""``appliance intent TEXT [--json]``: which intent a sentence means, with its slots."""

from __future__ import annotations

import argparse
import json
from typing import Any

from appliance.commands.common import settings_from
from appliance.intent.engine import make_engine
from appliance.wake import model_name


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("intent", parents=[common], help="recognise the intent of a sentence")
    p.add_argument("text", help="the sentence, as a transcript would give it")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    wake_words = tuple(model_name(m.model) for m in settings.wake.models)
    result = make_engine(settings, wake_words).recognize(args.text)
    if args.json:
        payload = None if result is None else {
            "intent": result.name, "slots": result.slots, "confidence": result.confidence,
        }
        print(json.dumps(payload, default=str))
    elif result is None:
        print("no intent recognised")
    else:
        slots = " ".join(f"{k}={v!r}" for k, v in result.slots.items())
        print(f"{result.name} {slots} (confidence {result.confidence:.2f})".replace("  ", " "))
    return 0
