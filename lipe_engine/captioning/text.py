"""What we ask the captioner, and how its answer becomes a training caption naming the subject's token.

The request follows the spirit of the paper's LLaVA prompt (Table 3) in our own words: the fields
that matter for pose editing (view/orientation, action) come first, the background is described
too so the LoRA does not absorb it into the identity. Small vision-language models answer in many
shapes (chatter, labels, markdown, several paragraphs, runaway length), so :func:`clean_caption`
normalises the answer and inserts the rare token for the subject ("a sks dog ...") exactly once.
"""

from __future__ import annotations

import re

from ..prompts.templates import ANIMAL_WORDS, PERSON_WORDS

MAX_WORDS = 70

CAPTION_REQUEST = (
    "Describe this photo as one caption for training an image generator. In this order, give: the "
    "shot and perspective (close-up, medium shot, full body, from above...), the style (photo, "
    "painting, 3D render...), which way the main subject faces or is turned (facing the camera, side "
    "profile, from behind, looking left...), the main subject itself, what it is doing (its pose or "
    "action), its clothing, fur or hair if any, and the setting around it. Write one line of short "
    "comma-separated phrases, under 70 words, no lists and no explanations. Example: 'Medium shot, "
    "photo, facing the camera, a {subject}, sitting on its hind legs with its head tilted, short "
    "fluffy fur, on a wooden porch in warm evening light.'"
)

_CHATTER = re.compile(
    r"^(?:sure|certainly|of course|okay|ok|here(?:'s| is| are)|below is|the caption|caption|"
    r"assistant|answer|response|description)\b[^:\n]{0,60}:\s*",
    re.IGNORECASE,
)
_TRAILER = re.compile(
    r"^(?:i hope|let me know|note:|this caption|feel free|please note|hope this)", re.IGNORECASE
)
_LABEL = re.compile(
    r"^\s*(?:[-*\u2022]\s*|\d{1,2}[.)]\s*)?(?:\*\*)?([A-Za-z][A-Za-z '/&()-]{1,30}?)(?:\*\*)?\s*:\s*(.+)$"
)
ANIMAL_SYNONYMS = ("puppy", "kitten", "canine", "feline", "pet", "animal", "creature")
PERSON_SYNONYMS = ("person", "man", "woman", "boy", "girl", "lady", "gentleman", "guy", "child", "kid",
                   "individual", "figure", "teenager", "baby")


def caption_request(class_word: str) -> str:
    """The user message sent with every photo (the class word only shapes the example)."""
    return CAPTION_REQUEST.format(subject=class_word)


def _strip_markup(text: str) -> str:
    text = re.sub(r"</?s>|<\|[a-z_]+\|>|\[/?INST\]", " ", text)  # template tokens that leak through
    text = re.sub(r"\b(?:USER|ASSISTANT|SYSTEM|Human|AI)\s*:\s*", " ", text)  # role prefixes of the prompt format
    text = re.sub(r"\*\*|__|`|#+\s", "", text)
    text = "".join(ch for ch in text if ch in "\n\t" or ch.isprintable())  # control bytes of broken decodes
    return text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'")


def _body(text: str) -> str:
    """The caption part of a reply: labelled fields joined, chatter and sign-offs dropped."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    kept: list[str] = []
    labelled = [m for m in (_LABEL.match(ln) for ln in lines) if m]
    if len(labelled) >= 3:  # "Perspective: close-up / Style: photo / ..." answers
        return ", ".join(m.group(2).strip().rstrip(".,;") for m in labelled)
    for ln in lines:
        ln = _CHATTER.sub("", ln).strip()
        if not ln or _TRAILER.match(ln) or ln.endswith(":"):
            continue
        kept.append(ln.lstrip("-*\u2022 ").strip())
        if len(" ".join(kept).split()) >= MAX_WORDS:
            break
    return " ".join(kept)


def _shorten(text: str, max_words: int) -> str:
    words = text.split()
    if len(words) <= max_words:
        return text
    cut = " ".join(words[:max_words])
    stop = max(cut.rfind(","), cut.rfind("."), cut.rfind(";"))
    # cut at the last phrase boundary unless that throws away most of the caption
    return cut[:stop] if stop > len(cut) // 2 else cut


def _subject_words(class_word: str) -> tuple[str, ...]:
    last = class_word.split()[-1]
    if last in PERSON_WORDS:
        return PERSON_SYNONYMS
    if last in ANIMAL_WORDS:
        return ANIMAL_SYNONYMS
    return ()


def _article_fix(text: str, start: int, token: str) -> str:
    """'an sks dog' -> 'a sks dog' (the article now precedes the token)."""
    before = text[:start]
    m = re.search(r"\b(an?|An?)\s+$", before)
    if not m:
        return text
    want = "an" if token[:1].lower() in "aeiou" else "a"
    if m.group(1)[0].isupper():
        want = want.capitalize()
    return before[: m.start(1)] + want + before[m.end(1):] + text[start:]


def insert_token(text: str, class_word: str, token: str) -> str:
    """Name the subject as ``token class_word`` once: at the class word, else at a synonym, else in front."""
    token_re = re.compile(rf"\b{re.escape(token)}\b\s*", re.IGNORECASE)
    text = " ".join(token_re.sub("", text).split())  # the model echoing the token: placed by us only
    word = re.compile(rf"\b{re.escape(class_word)}s?\b", re.IGNORECASE)
    m = word.search(text)
    if m is not None:
        new = f"{token} {class_word}"
        determiner = re.search(r"\b(?:a|an|the|this|that|one|his|her|their|its|my|our|your)\s+(?:[\w-]+\s+){0,3}$",
                               text[: m.start()], re.IGNORECASE)
        if determiner is None:  # "Dogs playing..." -> "a sks dog playing..."
            new = ("an " if token[:1].lower() in "aeiou" else "a ") + new
        text = text[: m.start()] + new + text[m.end():]
        return _article_fix(text, m.start(), token)
    for syn in _subject_words(class_word):
        m = re.search(rf"\b{syn}\b", text, re.IGNORECASE)
        if m is not None:
            text = text[: m.start()] + f"{token} {class_word}" + text[m.end():]
            return _article_fix(text, m.start(), token)
    article = "an" if token[:1].lower() in "aeiou" else "a"
    if not text:
        return f"a photo of {article} {token} {class_word}"
    if text[:2].istitle():  # "Wide shot, ..." continues the sentence now; acronyms keep their case
        text = text[0].lower() + text[1:]
    return f"{article} {token} {class_word}, {text}"


def clean_caption(raw: str, class_word: str, token: str, max_words: int = MAX_WORDS) -> str:
    """A one-line caption under ``max_words`` words that names the subject as ``token class_word`` once."""
    text = _body(_strip_markup(raw or ""))
    text = text.strip().strip("\"'").strip()
    text = re.sub(r"\s+([,.;])", r"\1", " ".join(text.split()))
    text = re.sub(r",{2,}", ",", text)
    text = _shorten(text, max_words - 1)  # one word of room for the token
    text = insert_token(text, class_word, token)
    text = text.strip(" ,;")
    return text[0].upper() + text[1:] if text else text
