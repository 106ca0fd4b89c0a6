"""Change one phrase of a photo's caption: the action (pose), the view or the expression.

The paper's target prompt is the source prompt with only the action changed ("a photo of a sks dog
*sitting* on grass" -> "... *lying* on grass"): the scene words the inversion was conditioned on
stay. :func:`with_phrase` finds the phrase of the same kind as the new one next to the subject
words and replaces it, or inserts the new one after the subject when the caption has none::

    with_phrase("a photo of a sks dog sitting on grass", "sks dog", "lying down")
    # -> "a photo of a sks dog lying down on grass"
    with_phrase("close-up photo, a sks dog sitting facing left, on green grass", "sks dog", "facing right")
    # -> "close-up photo, a sks dog sitting facing right, on green grass"

Captions come in the captioner's comma-separated style ("Medium shot, photo, facing the camera, a sks
dog, sitting on its hind legs, short fur, on a porch"), the toy world's, or free sentences; words
are matched, never rewritten, so the rest of the prompt comes back character for character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ACTION, VIEW, EXPRESSION = "action", "view", "expression"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


POSE_WORDS = _words("""
sitting standing lying laying jumping running walking crouching sleeping rolling flying perched perching
kneeling leaning crawling resting stretching dancing waving raising playing squatting lounging hopping
leaping swimming climbing posing reclining curled bending balancing galloping trotting prancing begging
lifting holding reaching stepping sprinting jogging seated lies sits stands runs jumps walks flies
spreading flapping landing diving hanging curling tucked sprawled splayed hunched bowing turning""")
VIEW_WORDS = _words("facing looking seen viewed turned gazing staring glancing")
EXPRESSION_WORDS = _words("smiling laughing frowning grinning yawning crying winking pouting scowling")
BODY_WORDS = _words("""its his her their one both all hind front back arms arm legs leg head paws paw ears
ear tail eyes eye hands hand mouth tongue wings wing knees knee feet foot chin""")
SCENE_PREPOSITIONS = _words("""on in at by near under beside behind inside outside against across along
through over among next beneath atop onto into around amid between below above""")
DELIMITERS = frozenset(",.;:!?")
SKIP_BEFORE_ACTION = _words("is who that which")

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*|[,.;:!?]")


@dataclass(frozen=True)
class _Tok:
    text: str
    start: int
    end: int

    @property
    def low(self) -> str:
        return self.text.lower()


def phrase_kind(phrase: str) -> str:
    """Whether ``phrase`` ("sitting", "looking left", "with its mouth open") is an action, a view or an
    expression."""
    words = phrase.lower().split()
    if not words:
        return ACTION
    if words[0] in VIEW_WORDS or phrase.lower().startswith(("in profile", "in side profile", "from behind")):
        return VIEW
    if words[0] in EXPRESSION_WORDS or (words[0] == "with" and {"mouth", "tongue", "eyes", "smile"} & set(words)):
        return EXPRESSION
    return ACTION


def _tokens(text: str) -> list[_Tok]:
    return [_Tok(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _is_action_word(word: str) -> bool:
    return word in POSE_WORDS or (word.endswith("ing") and len(word) > 4 and word not in VIEW_WORDS
                                  and word not in EXPRESSION_WORDS)


def _subject_end(toks: list[_Tok], subject: str) -> int | None:
    """Index just past the subject words (e.g. "sks dog"), else past the class word, else None."""
    words = subject.lower().split()
    for want in (words, words[-1:]):
        if not want:
            continue
        for i in range(len(toks) - len(want) + 1):
            if [t.low for t in toks[i : i + len(want)]] == want:
                return i + len(want)
    return None


def _span_end(toks: list[_Tok], i: int, kind: str) -> int:
    """End (token index, exclusive) of the phrase that starts at ``toks[i]``."""
    j = i + 1
    while j < len(toks):
        w = toks[j].low
        nxt = toks[j + 1].low if j + 1 < len(toks) else ""
        if w in DELIMITERS:
            break
        if kind != VIEW and w in VIEW_WORDS:
            break
        if kind == VIEW and (_is_action_word(w) or w in EXPRESSION_WORDS):
            break
        if kind != EXPRESSION and w in EXPRESSION_WORDS:
            break
        if w in SCENE_PREPOSITIONS and nxt not in BODY_WORDS and not (kind == VIEW and w in ("at", "from", "to")):
            break
        if w == "with" and nxt not in BODY_WORDS:
            break
        if w == "and" and not (_is_action_word(nxt) if kind == ACTION else nxt in EXPRESSION_WORDS):
            break
        j += 1
    return j


def _find(toks: list[_Tok], kind: str, start: int) -> tuple[int, int] | None:
    """(first, end) token indexes of the first phrase of ``kind`` at or after ``start``."""
    for i in range(start, len(toks)):
        w = toks[i].low
        if kind == ACTION:
            hit = _is_action_word(w)
        elif kind == VIEW:
            hit = w in VIEW_WORDS or (w == "in" and i + 1 < len(toks) and toks[i + 1].low in ("profile", "side"))
        else:
            hit = w in EXPRESSION_WORDS or (w == "with" and i + 2 < len(toks)
                                            and bool({toks[i + 1].low, toks[i + 2].low} & {"mouth", "tongue", "eyes"}))
        if hit:
            return i, _span_end(toks, i, kind)
    return None


def _action_after_subject(toks: list[_Tok], after: int) -> tuple[int, int] | None:
    """The action phrase right after the subject ("sks dog sitting", "sks dog, sitting ...", "sks dog is
    sitting")."""
    i = after
    if i < len(toks) and toks[i].low == ",":
        i += 1
    while i < len(toks) and toks[i].low in SKIP_BEFORE_ACTION:
        i += 1
    if i < len(toks) and (_is_action_word(toks[i].low) or _is_body_with(toks, i)):
        return i, _span_end(toks, i, ACTION)
    return None


def _is_body_with(toks: list[_Tok], i: int) -> bool:
    """ "with arms up", "with its paws crossed": a pose; "with its mouth open" is an expression."""
    if toks[i].low != "with" or i + 1 >= len(toks) or toks[i + 1].low not in BODY_WORDS:
        return False
    near = {t.low for t in toks[i + 1 : i + 3]}
    return not near & {"mouth", "tongue", "eyes", "eye"}


def with_phrase(prompt: str, subject: str, phrase: str) -> str:
    """``prompt`` with its action (or view, or expression: the kind of ``phrase``) replaced by ``phrase``;
    inserted after the subject words (after the action for a view/expression) when it has none."""
    phrase = " ".join(phrase.split())
    text = prompt.strip()
    if not phrase:
        return text
    if not text:
        return f"a photo of {_article(subject)} {subject} {phrase}".replace("  ", " ").strip()
    toks = _tokens(text)
    kind = phrase_kind(phrase)
    subj = _subject_end(toks, subject) if subject.strip() else None
    action = _action_after_subject(toks, subj) if subj is not None else None
    if kind == ACTION:
        span = action if subj is not None else _find(toks, ACTION, 0)
    else:
        span = _find(toks, kind, 0)
    if span is not None:
        first, end = span
        return text[: toks[first].start] + phrase + text[toks[end - 1].end :]
    # no phrase of this kind: put it after the subject (views and expressions after its action)
    anchor = action[1] if (kind != ACTION and action is not None) else subj
    if anchor is None:
        return f"{text.rstrip(' ,.')} {phrase}"
    pos = toks[anchor - 1].end
    joiner = " and " if kind == EXPRESSION and action is not None and phrase.split()[0].lower() in EXPRESSION_WORDS \
        else " "  # "sitting and smiling"
    return text[:pos] + joiner + phrase + text[pos:]


def _article(words: str) -> str:
    return "an" if words[:1].lower() in "aeiou" and words else "a"
