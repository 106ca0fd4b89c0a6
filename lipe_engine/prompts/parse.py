"""Defensive parsing of an LLM's list of prompts.

Instruction models wrap the list in chatter, number it in several ways, quote it, bold it, repeat
items, forget the keyword or drift to several subjects. We keep a line only if, after cleaning, it
is one prompt of sensible length that names the class word (singular, as a whole word) and no other
count of subjects.
"""

from __future__ import annotations

import json
import re

_PREFIX = re.compile(
    r"^\s*(?:[-*\u2022>#]+\s*)?(?:(?:prompt|caption)\s*)?(?:\(?\d{1,3}[.):\]]|\d{1,3}\s*-|\[\d{1,3}\])?\s*(?::\s*)?",
    re.IGNORECASE,
)
_PREAMBLE = re.compile(
    r"^(here (are|is)|sure\b|certainly|of course|okay|ok\b|below (are|is)|i hope|let me know|note:|these prompts)",
    re.IGNORECASE,
)
_MULTI = re.compile(r"\b(two|three|four|five|several|many|pair of|group of|couple of|pack of|herd of|family of)\b", re.IGNORECASE)
MIN_WORDS, MAX_WORDS = 4, 70


def _clean(line: str) -> str:
    text = line.strip()
    text = re.sub(r"\*\*|__|`", "", text)
    text = _PREFIX.sub("", text, count=1).strip()
    text = re.sub(r"^(?:prompt|caption)\s*\d*\s*:\s*", "", text, flags=re.IGNORECASE)
    text = text.strip().strip("\"'\u201c\u201d\u2018\u2019").strip()
    text = text.rstrip(",;").strip().strip("\"'\u201c\u201d").strip()
    return " ".join(text.split())


def _candidates(text: str) -> list[str]:
    stripped = text.strip()
    if stripped.startswith("[") or stripped.startswith("```"):
        body = re.sub(r"^```(?:json)?|```$", "", stripped, flags=re.MULTILINE).strip()
        try:
            data = json.loads(body)
            if isinstance(data, list):
                return [str(x) for x in data if isinstance(x, (str, int, float))]
        except json.JSONDecodeError:
            pass
    lines = []
    for raw in re.split(r"[\r\n]+", text):
        # several numbered items on one line: "1. foo 2. bar"
        parts = re.split(r"(?<=[.!?\"'])\s+(?=\d{1,3}[.)]\s)", raw)
        lines.extend(parts)
    return lines


def parse_prompts(text: str, class_word: str, exclude: tuple[str, ...] = ()) -> list[str]:
    """Usable prompts from free LLM text, in order, without duplicates."""
    word = class_word.lower()
    has_word = re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE)
    plural = re.compile(rf"\b{re.escape(word)}(?:s|es)\b", re.IGNORECASE)
    seen: set[str] = set()
    out: list[str] = []
    banned = [re.compile(rf"\b{re.escape(t)}\b", re.IGNORECASE) for t in exclude if t]
    for raw in _candidates(text):
        prompt = _clean(raw)
        if not prompt or _PREAMBLE.match(prompt) or prompt.endswith(":"):
            continue
        n_words = len(prompt.split())
        if n_words < MIN_WORDS or n_words > MAX_WORDS:
            continue
        if not has_word.search(prompt) or plural.search(prompt) or _MULTI.search(prompt):
            continue
        if any(b.search(prompt) for b in banned):
            continue
        key = re.sub(r"[^a-z0-9 ]", "", prompt.lower())
        key = " ".join(key.split())
        if key in seen:
            continue
        seen.add(key)
        out.append(prompt)
    return out
