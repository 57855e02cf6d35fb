"""Turn a Whisper transcript into the plain form the sentence templates are written in.

Lower case, no punctuation, no filler words ("um", "please"), no polite lead-in ("could you",
"excuse me"),
no leading wake phrase ("hey jarvis, ..."), and numbers as digits ("ten" -> "10", "7:30" ->
"7 30", "an hour and a half" -> "1 hours 30 minutes"): templates are written in that form.
"""

from __future__ import annotations

import re
import unicodedata

from appliance.intent.numbers import words_to_digits

FILLERS = frozenset(["um", "umm", "uh", "uhh", "erm", "er", "hmm", "hm", "ah", "oh", "ugh"])
POLITE = frozenset(["please", "kindly"])
# Said before a command; dropped from the start (repeatedly: "ok so could you ...").
LEAD_INS = tuple(p.split() for p in (
    "ok", "okay", "so", "now", "and", "alright", "all right", "just", "go ahead and", "hey",
    "can you", "could you", "would you", "will you", "can you please", "i want you to",
    "i'd like you to", "i would like you to", "i need you to", "you can", "you may",
    "could you just", "can you just", "would you just", "do you think you could",
))
# "Would you mind turning it down": the lead-in goes, the verb after it loses its "-ing".
MIND_LEAD_INS = tuple(p.split() for p in ("would you mind", "do you mind", "mind"))
_GERUNDS = {
    "turning": "turn", "setting": "set", "starting": "start", "cancelling": "cancel",
    "canceling": "cancel", "stopping": "stop", "muting": "mute", "unmuting": "unmute",
    "repeating": "repeat", "saying": "say", "telling": "tell", "making": "make",
    "putting": "put", "giving": "give", "waking": "wake", "adding": "add",
    "deleting": "delete", "removing": "remove", "switching": "switch", "snoozing": "snooze",
    "speaking": "speak", "checking": "check", "lowering": "lower", "raising": "raise",
}
# How much, said to soften a request ("turn it down a bit"): dropped wherever they are.
DEGREES = re.compile(r"\b(?:just )?(?:a (?:little|tiny|wee) bit|a little|a bit|a tad|a touch"
                     r"|slightly|a smidge|(?:a|one) (?:little )?notch|a few notches)\b"
                     r"|^bit\b(?= (?:quieter|louder|softer|lower|higher|more|less)\b)")
# Said before a sentence, but also a sentence of their own ("sorry?", "sorry what?"): dropped
# only when at least two words follow.
INTERJECTIONS = tuple(p.split() for p in ("sorry", "excuse me", "pardon", "pardon me"))
TRAILERS = tuple(p.split() for p in ("from now", "right now", "now", "for me", "thanks",
                                     "thank you", "thank you very much", "at the moment",
                                     "currently", "at present", "if you can", "if you could",
                                     "if you would", "if you don't mind", "if that's okay",
                                     "would you", "could you", "will you", "okay", "ok"))
_PUNCT = re.compile(r"[^\w\s':%.-]")
_ABBREVIATIONS = (
    (re.compile(r"\ba\.\s?m\b\.?"), "am"), (re.compile(r"\bp\.\s?m\b\.?"), "pm"),
    (re.compile(r"%"), " percent "), (re.compile(r"\b(\d+)\s?(mins?)\b"), r"\1 minutes"),
    (re.compile(r"\b(\d+)\s?(secs?)\b"), r"\1 seconds"), (re.compile(r"\b(\d+)\s?(hrs?)\b"),
                                                          r"\1 hours"),
)
_SPACES = re.compile(r"\s+")
# "Monday's alarm", "tomorrow morning's alarm": the day, as templates name it ("today's date"
# is a template's own words).
_DAY_POSSESSIVE = re.compile(r"\b(tomorrow|monday|tuesday|wednesday|thursday"
                             r"|friday|saturday|sunday|morning|afternoon|evening|night)'s\b")
# Whisper hears the article after "set"/"start" as "in", "and", "it" or "at" ("set in alarm").
_ASR_ARTICLE = re.compile(r"^(set|start) (?:in|and|it|at)( .*\b(?:timer|alarm)s?\b)")
_WAKE_PREFIXES = ("hey", "hi", "ok", "okay")
# Contractions the templates spell out ("how long's left", "what time's my alarm", "what've I
# got set"); "what's", "that's", "how's" stay as they are written in the templates.
_CONTRACTIONS = re.compile(r"\b(long|time|when|where)'s\b|\b(what|which)'ve\b")
# A reason said after the command, behind a comma ("cancel Saturday's alarm, I'm sleeping in"):
# the command is what comes before it.
_REASON = re.compile(r",\s*(?:i'm|i am|we're|we are|because|cause|'cause|since)\b.*$")


def normalize(text: str, wake_phrases: tuple[str, ...] = (), *, lenient: bool = True) -> str:
    """Lower-case, no punctuation, no filler words, no leading wake phrase ("hey jarvis, ...").

    ``lenient`` also drops politeness ("please", "could you", "for me"); a strict engine (no
    fuzzy threshold) keeps them, so its templates see every word that was said.
    """
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    text = _CONTRACTIONS.sub(_expand, text)
    if lenient:
        text = _REASON.sub("", text)
    for pattern, repl in _ABBREVIATIONS:
        text = pattern.sub(repl, text)
    text = _DAY_POSSESSIVE.sub(r"\1", _PUNCT.sub(" ", text))
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)  # a full stop, not a decimal point
    text = re.sub(r"(?<=[a-z])-(?=[a-z0-9])|(?<=\d)-(?=[a-z])", " ", text)
    words = [w.strip("-'") for w in text.split()]
    drop = FILLERS | POLITE if lenient else FILLERS
    words = [w for w in words if w and w not in drop]
    text = _SPACES.sub(" ", " ".join(words)).strip()
    text = _without_wake_phrase(text, _wake_variants(wake_phrases))
    if lenient:
        text = _SPACES.sub(" ", DEGREES.sub(" ", text)).strip()
        text = _ASR_ARTICLE.sub(r"\1 a\2", _dedupe(_trim(text.split())))
    return words_to_digits(text)


def _expand(match: re.Match[str]) -> str:
    """"long's" -> "long is", "what've" -> "what have"."""
    return f"{match.group(1)} is" if match.group(1) else f"{match.group(2)} have"


def _without_wake_phrase(text: str, variants: list[str]) -> str:
    """The wake phrase said first ("hey jarvis, ...") or last, as a name ("..., jarvis")."""
    for spoken in variants:
        if text == spoken:
            return ""
        if text.startswith(spoken + " "):
            text = text[len(spoken) + 1 :]
            break
    for spoken in variants:
        if text.endswith(" " + spoken):
            return text[: -len(spoken) - 1]
    return text


def _dedupe(text: str) -> str:
    """Whisper sometimes repeats itself: "stop stop" -> "stop"."""
    words = text.split()
    return " ".join(w for i, w in enumerate(words) if i == 0 or w != words[i - 1])


def _trim(words: list[str]) -> str:
    changed = True
    while changed and words:
        changed = False
        words, changed = _drop_mind(words)
        for phrase, rest in _LEADING:
            if words[: len(phrase)] == phrase and len(words) >= len(phrase) + rest:
                words, changed = words[len(phrase) :], True
                break
    changed = True
    while changed:
        changed = False
        for phrase in TRAILERS:
            if len(words) > len(phrase) and words[-len(phrase) :] == phrase:
                words, changed = words[: -len(phrase)], True
    return " ".join(words)


def _drop_mind(words: list[str]) -> tuple[list[str], bool]:
    """"would you mind turning it down" -> "turn it down"."""
    for phrase in MIND_LEAD_INS:
        n = len(phrase)
        if words[:n] == phrase and len(words) > n and words[n] in _GERUNDS:
            return [_GERUNDS[words[n]], *words[n + 1 :]], True
    return words, False


# (phrase, how many words must follow it), longest phrase first.
_LEADING = sorted([(p, 1) for p in LEAD_INS] + [(p, 2) for p in INTERJECTIONS],
                  key=lambda item: -len(item[0]))


def _wake_variants(wake_phrases: tuple[str, ...]) -> list[str]:
    """"hey_jarvis" -> "hey jarvis", "jarvis" (people and Whisper drop the "hey"), longest first."""
    out: set[str] = set()
    for phrase in wake_phrases:
        words = phrase.replace("_", " ").lower().split()
        out.add(" ".join(words))
        if len(words) > 1 and words[0] in _WAKE_PREFIXES:
            out.add(" ".join(words[1:]))
    return sorted(out, key=len, reverse=True)
