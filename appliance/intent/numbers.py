"""Numbers in transcripts and answers: words -> digits for matching, digits -> words for speech.

Whisper writes "10 minutes" one time and "ten minutes" the next; the sentence templates are written
with digits, so :func:`words_to_digits` turns spoken numbers into digits first. It also rewrites
the few phrases people use for amounts and clock times ("an hour and a half", "1.5 hours",
"half past seven", "half 7", "ten past 6", "five to midnight", "noon") and the ways Whisper
writes clock times ("8.15pm", "8:15 p.m.", "six a m", "7:00", "21:00") into the plain digit
form the templates expect ("8 15 pm", "7", "21"). Answers go the other way
(:func:`say_number`), because a voice reads "4:07" as "four zero seven".
"""

from __future__ import annotations

import re

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
ONES = {w: n for n, w in enumerate(_ONES)}
TENS = {w: 10 * n for n, w in enumerate(_TENS) if w}
UNITS = ("hour", "hours", "minute", "minutes", "second", "seconds")
# A lone "one" is a number only next to these ("at one", "one minute"); otherwise it is a
# pronoun ("that one", "the pasta one").
_ONE_BEFORE = frozenset(["at", "for", "to", "by", "volume", "from", "until", "till", "about"])
_ONE_AFTER = frozenset([*UNITS, "am", "pm", "percent", "and", "hundred", "o'clock", *_ONES,
                        *_TENS[2:]])

_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"\b{pattern}\b"), repl) for pattern, repl in (
        (r"(\d+) and a half hours?", r"\1 hours 30 minutes"),
        (r"(\d+) and a half minutes?", r"\1 minutes 30 seconds"),
        (r"3 quarters of an hour", "45 minutes"),
        (r"(?:a )?half (?:an )?hour", "30 minutes"),
        (r"half a minute", "30 seconds"),
        (r"(?:a )?quarter (?:of an )?hour", "15 minutes"),
        (r"(?:a|an) (hour|minute|second)", r"1 \1"),
        (r"(\d+) hours? and a half", r"\1 hours 30 minutes"),
        (r"(\d+) minutes? and a half", r"\1 minutes 30 seconds"),
        (r"(\d+) hours? and a quarter", r"\1 hours 15 minutes"),
        (r"(another|an extra) (hour|minute|second)", r"\1 1 \2"),
        (r"(\d+) more (hours?|minutes?|seconds?)", r"\1 \2 more"),
        (r"half past (\d+)", r"\1 30"),
        (r"(?:a )?quarter past (\d+)", r"\1 15"),
        (r"([1-5]?\d) (?:minutes )?past (1?\d|2[0-3])", r"\2 \1"),
        (r"(at|for|until|till|by) half (1?\d|2[0-3])", r"\1 \2 30"),  # "half 7": 7:30
        (r"(?:12 )?(?:noon|midday)", "12 pm"),
        (r"(?:12 )?midnight", "12 am"),
        (r"(\d+)(am|pm)", r"\1 \2"),
        (r"(\d+) ([ap]) m", r"\1 \2m"),
        (r"([0-2]?\d)[:.]00", r"\1"),
        (r"(\d+)[:.](\d\d)", r"\1 \2"),
        (r"(at|for) (1?\d)([0-5]\d)(?! (?:hours?|minutes?|seconds?|percent))", r"\1 \2 \3"),
        (r"(\d+) ?o'?clock", r"\1"),
    )
)
# "1.5 hours", "2.25 hours", "1.5 minutes": the fraction in the next unit down.
_DECIMAL_AMOUNT = re.compile(r"\b(\d+)\.(\d+) (hour|minute)s?\b")
_NEXT_UNIT = {"hour": "minutes", "minute": "seconds"}
_QUARTER_TO = re.compile(r"\b(?:a )?quarter to (\d+)\b")
# "5 to 7" is 6:55 after a word that leads to a time ("at", "alarm", "wake me up").
_MINUTES_TO = re.compile(r"\b(at|for|until|till|by|alarm|up|me) (\d+) (?:minutes )?to (\d+)\b"
                          r"(?! (?:hours?|minutes?|seconds?|percent))")
# "5 to midnight" is 11:55 pm, "a quarter to noon" 11:45 am.
_TO_MIDDAY = re.compile(r"\b(?:(?:a )?(quarter)|(\d+)(?: minutes)?) to (?:12 )?"
                        r"(noon|midday|midnight)\b")


def say_number(n: int) -> str:
    """0-999 in words ("one hundred and five"); larger numbers stay digits."""
    if n < 0 or n > 999:
        return str(n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    hundreds, rest = divmod(n, 100)
    return f"{_ONES[hundreds]} hundred" + (f" and {say_number(rest)}" if rest else "")


def words_to_digits(text: str) -> str:
    """"set a timer for twenty five minutes" -> "set a timer for 25 minutes"."""
    words = text.split()
    out: list[str] = []
    i = 0
    while i < len(words):
        value, used = _read_number(words, i)
        if used and not _is_pronoun_one(words, i, used, out):
            out.append(str(value))
            i += used
        else:
            out.append(words[i])
            i += 1
    return rewrite_amounts(" ".join(out))


def _is_pronoun_one(words: list[str], i: int, used: int, out: list[str]) -> bool:
    if words[i] != "one" or used != 1 or len(words) == 1:
        return False
    after = words[i + 1] if i + 1 < len(words) else ""
    before = out[-1] if out else ""
    return before not in _ONE_BEFORE and after not in _ONE_AFTER and not after.isdigit()


def _read_number(words: list[str], i: int) -> tuple[int, int]:
    """The number spelled from ``words[i]`` on, and how many words it took (0: none)."""
    total, used = _read_below_100(words, i)
    if not used:
        if words[i] in ("a", "one") and i + 1 < len(words) and words[i + 1] == "hundred":
            total, used = 1, 1
        else:
            return 0, 0
    if i + used < len(words) and words[i + used] == "hundred" and total < 10:
        total *= 100
        used += 1
        j = i + used + (1 if i + used < len(words) and words[i + used] == "and" else 0)
        rest, more = _read_below_100(words, j) if j < len(words) else (0, 0)
        if more:
            total, used = total + rest, j - i + more
    return total, used


def _read_below_100(words: list[str], i: int) -> tuple[int, int]:
    word = words[i]
    if word in ONES:
        return ONES[word], 1
    if word in TENS:
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if nxt in ONES and 0 < ONES[nxt] < 10:
            return TENS[word] + ONES[nxt], 2
        return TENS[word], 1
    return 0, 0


def rewrite_amounts(text: str) -> str:
    """Phrases for amounts and clock times, in digits: "half past 7" -> "7 30"."""
    text = _DECIMAL_AMOUNT.sub(_decimal_amount, text)
    text = _TO_MIDDAY.sub(_to_midday, text)
    for pattern, repl in _REWRITES:
        text = pattern.sub(repl, text)
    text = _QUARTER_TO.sub(lambda m: f"{_hour_before(m.group(1))} 45", text)
    text = _MINUTES_TO.sub(
        lambda m: f"{m.group(1)} {_hour_before(m.group(3))} {60 - int(m.group(2))}"
        if 0 < int(m.group(2)) < 60 else m.group(0), text)
    return re.sub(r"\s+", " ", text).strip()


def _to_midday(match: re.Match[str]) -> str:
    quarter, minutes, noon = match.groups()
    before = 15 if quarter else int(minutes)
    if not 0 < before < 60:
        return match.group(0)
    return f"11 {60 - before} {'pm' if noon == 'midnight' else 'am'}"


def _decimal_amount(match: re.Match[str]) -> str:
    """"1.5 hours" -> "1 hours 30 minutes"; left alone unless the fraction is whole seconds or
    minutes ("1.33 hours")."""
    whole, fraction, unit = match.groups()
    smaller = int(fraction) * 60 / 10 ** len(fraction)
    if not smaller.is_integer():
        return match.group(0)
    return f"{whole} {unit}s {int(smaller)} {_NEXT_UNIT[unit]}"


def _hour_before(hour: str) -> int:
    h = int(hour)
    return 12 if h == 1 else (23 if h == 0 else h - 1)
