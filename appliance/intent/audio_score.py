"""Scores of ``appliance bench audio``: one :class:`Outcome` per clip, summed up per voice and
per condition, and the text tables.

A clip's command is *understood* when the wake word started a turn and that turn recognised the
right intent with exactly the right slots (:class:`~appliance.intent.bench.Case`); for an
out-of-domain command (``intent: null``) the right answer is no intent, and an intent found there
is a *false action* (the speaker would have done something nobody asked for). A missed wake word
is a command not understood, out of domain or not. The latencies are the pipeline's own
(:class:`~appliance.turn.Timing`): end of speech -> transcript (the last speech frame the VAD
heard to the transcript, including the full-window retry), and the recognition step (the intent
engine on that transcript).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from appliance.intent.bench import Case

NO_WAKE = "(no wake word)"


@dataclass(frozen=True)
class Outcome:
    voice: str
    room: str  # "dry" | "room"
    pause: str  # "none" | "pause"
    case: Case
    woke: bool
    transcript: str | None = None
    intent: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    ended: str | None = None  # the turn's SessionEnded reason
    transcript_s: float | None = None
    recognize_s: float | None = None
    chime_s: float | None = None  # where the chime came back, after the command's start
    wake_s: float | None = None  # when the turn started, after the end of the wake word
    wakes: int = 0  # wake words detected during the clip
    stuck: bool = False  # the turn was still busy MAX_TAIL_S after the clip
    closed_s: float | None = None  # the closed-vocabulary step's own time (when it ran)

    @property
    def condition(self) -> str:
        return f"{self.room}/{self.pause}"

    @property
    def understood(self) -> bool:
        if not self.woke or self.intent != self.case.intent:
            return False
        return self.intent is None or self.slots == self.case.slots

    @property
    def false_action(self) -> bool:
        return self.case.intent is None and self.intent is not None

    def miss(self) -> str:
        """``voice/condition: said -> transcript -> intent``."""
        heard = repr(self.transcript) if self.woke else NO_WAKE
        got = f"{self.intent} {self.slots}" if self.slots else str(self.intent)
        return f"{self.voice}/{self.condition}: {self.case.text!r} -> {heard} -> {got}"

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["case"] = asdict(self.case)
        out["understood"] = self.understood
        return out


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _stats(values: list[float], unit: float, digits: int) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return (round(float(np.median(values)) * unit, digits),
            round(float(np.percentile(values, 90)) * unit, digits))


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    woke = [o for o in outcomes if o.woke]
    ood = [o for o in outcomes if o.case.intent is None]
    understood = sum(o.understood for o in outcomes)
    transcript = _stats([o.transcript_s for o in outcomes if o.transcript_s is not None], 1, 3)
    recognize = _stats([o.recognize_s for o in outcomes if o.recognize_s is not None], 1000, 2)
    closed = [o.closed_s for o in outcomes if o.closed_s is not None]
    closed_ms = _stats(closed, 1000, 1)
    chimes = [o.chime_s for o in outcomes if o.chime_s is not None]
    wake_delay = _stats([o.wake_s for o in outcomes if o.wake_s is not None], 1, 2)
    return {
        "clips": len(outcomes),
        "wake_percent": _pct(len(woke), len(outcomes)),
        "understood_percent": _pct(understood, len(outcomes)),
        "understood_when_woken_percent": _pct(understood, len(woke)),
        "out_of_domain": len(ood),
        "false_actions": sum(o.false_action for o in ood),
        "transcript_s_median": transcript[0], "transcript_s_p90": transcript[1],
        "recognize_ms_median": recognize[0], "recognize_ms_p90": recognize[1],
        "closed_ran_percent": _pct(len(closed), len(woke)),
        "closed_ms_median": closed_ms[0], "closed_ms_p90": closed_ms[1],
        "chime_in_command_percent": _pct(sum(at >= 0 for at in chimes), len(chimes)),
        "wake_delay_s_median": wake_delay[0], "wake_delay_s_p90": wake_delay[1],
        "stuck": sum(o.stuck for o in outcomes),
    }


def grouped(outcomes: Iterable[Outcome], key: Callable[[Outcome], str]) -> dict[str, Any]:
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(key(o), []).append(o)
    return {name: summary(group) for name, group in groups.items()}


def scores(outcomes: list[Outcome]) -> dict[str, Any]:
    """Per voice, per condition, overall, the misses (not understood, or a false action)."""
    return {
        "per_voice": grouped(outcomes, lambda o: o.voice),
        "per_condition": grouped(outcomes, lambda o: o.condition),
        "overall": summary(outcomes),
        "misses": [o.miss() for o in outcomes if not o.understood or o.false_action],
    }


# -- text -------------------------------------------------------------------------------------

_COLUMNS = (
    ("clips", "clips", "{}"),
    ("wake %", "wake_percent", "{:.1f}"),
    ("understood %", "understood_percent", "{:.1f}"),
    ("when woken %", "understood_when_woken_percent", "{:.1f}"),
    ("false act.", "false_actions", "{}"),
    ("eos->text s med/p90", ("transcript_s_median", "transcript_s_p90"), "{:.3f}"),
    ("recog. ms med/p90", ("recognize_ms_median", "recognize_ms_p90"), "{:.2f}"),
    ("closed ms med/p90", ("closed_ms_median", "closed_ms_p90"), "{:.1f}"),
    ("chime in cmd %", "chime_in_command_percent", "{:.0f}"),
)


def _cell(row: dict[str, Any], key: str | tuple[str, str], fmt: str) -> str:
    if isinstance(key, tuple):
        return "/".join(_cell(row, k, fmt) for k in key)
    value = row.get(key)
    if key == "false_actions":
        return f"{value}/{row['out_of_domain']}"
    return "-" if value is None else fmt.format(value)


def table(title: str, rows: dict[str, Any]) -> str:
    """``rows`` (name -> :func:`summary`) as a fixed-width text table."""
    head = [title] + [c[0] for c in _COLUMNS]
    body = [[name] + [_cell(r, key, fmt) for _, key, fmt in _COLUMNS] for name, r in rows.items()]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, body)])


def report(run: dict[str, Any], misses: int | None = 40) -> str:
    """One run's tables and its misses (the first ``misses``; None: all)."""
    listed = run["misses"] if misses is None else run["misses"][:misses]
    more = len(run["misses"]) - len(listed)
    parts = [table("voice", {**run["per_voice"], "all": run["overall"]}), "",
             table("condition", run["per_condition"]), "",
             f"misses ({len(run['misses'])}):", *(f"  {m}" for m in listed)]
    if more:
        parts.append(f"  ... and {more} more (--verbose lists them all)")
    return "\n".join(parts)
