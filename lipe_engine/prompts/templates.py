"""Deterministic regularization prompts without an LLM: style x subject x action x view x setting x quality.

Used when no instruction LLM is configured, and to fill up when an LLM returns fewer usable prompts
than asked. The same (class word, count) always gives the same list; consecutive prompts differ in
every factor (each factor advances with a stride coprime to its list length).
"""

from __future__ import annotations

import re

from ..errors import InputError

STYLES = (
    "a professional photo", "a candid snapshot", "a high-resolution DSLR photograph", "a documentary photo",
    "a close-up photograph", "a wide-angle photo", "a cinematic still", "a natural-light photograph",
    "a street photograph", "a studio portrait photo", "an editorial photograph",
)
PERSON_WORDS = {"person", "man", "woman", "boy", "girl", "child", "kid", "baby", "lady", "guy", "teenager",
                "people", "human", "face", "player", "dancer"}
ANIMAL_WORDS = {"dog", "cat", "bird", "horse", "bear", "penguin", "rabbit", "fox", "wolf", "puppy", "kitten",
                "cow", "sheep", "lion", "tiger", "duck", "monkey", "owl", "parrot", "hamster", "pig", "goat",
                "deer", "squirrel", "elephant", "giraffe", "panda", "animal"}
PERSON_ACTIONS = (
    "running along a path", "sitting on a bench", "jumping in the air", "waving one hand", "walking briskly",
    "raising both arms", "crouching down", "leaning against a wall", "laughing with the head tilted back",
    "turning to look over the shoulder", "stretching the arms overhead", "kneeling on one knee",
    "dancing mid-spin",
)
ANIMAL_ACTIONS = (
    "running at full speed", "sitting upright", "jumping over a log", "lying down and resting",
    "standing on its hind legs", "turning its head to the side", "stretching its front legs",
    "walking slowly", "looking up attentively", "rolling on its back", "crouching low", "shaking its body",
    "yawning widely",
)
OBJECT_ACTIONS = (
    "standing upright", "lying on its side", "tilted at an angle", "hanging from a hook", "resting upside down",
    "leaning against a wall", "placed on a shelf", "half open", "partly covered by a cloth",
    "floating in mid-air as it is tossed", "sitting at the edge of a table", "turned on its back",
    "propped up by a book",
)
VIEWS = (
    "facing the camera", "seen in side profile", "seen from behind", "in a three-quarter view",
    "seen from a low angle", "seen from above", "facing left", "facing right",
)
SETTINGS = (
    "in a sunlit park", "on a sandy beach", "in a cozy living room", "on a snowy street", "in a forest clearing",
    "in a city square at dusk", "on a wooden porch", "in a grassy meadow", "in a modern kitchen",
    "on a mountain trail", "in a rainy alley", "beside a lake at sunrise", "in a bright studio with a plain backdrop",
    "in a flower garden",
)
QUALITY = (
    "sharp focus, high detail", "soft natural lighting, 50mm lens", "shallow depth of field, award-winning",
    "golden hour light, crisp detail", "high dynamic range, realistic colors", "fast shutter speed, 4k",
    "balanced exposure, fine texture",
)

_WORD = re.compile(r"^[a-z][a-z' -]{0,38}[a-z]$|^[a-z]$")


def check_class_word(class_word: str, rare_token: str | None = None) -> str:
    """The normalized class word (lower case) or a one-line error saying what a class word is."""
    word = " ".join(str(class_word or "").strip().lower().split())
    if not word:
        raise InputError("no class word given", "give the subject's class in plain words, e.g. dog, cat, person, backpack")
    if not _WORD.match(word) or len(word.split()) > 3:
        raise InputError(
            f"class word '{class_word}' is not usable",
            "use one to three plain words naming the kind of subject, e.g. dog, teddy bear, person",
        )
    if rare_token and rare_token.lower() in word.split():
        raise InputError(
            f"class word '{class_word}' contains the identity token '{rare_token}'",
            "give only the class (e.g. dog); the token is added for the subject by itself",
        )
    return word


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


TOY_WORDS = {"toy", "teddy", "plush", "plushie", "stuffed", "statue", "figurine", "doll", "sculpture"}


def actions_for(class_word: str) -> tuple[str, ...]:
    words = class_word.split()
    last = words[-1]
    if TOY_WORDS & set(words):
        return OBJECT_ACTIONS
    if last in PERSON_WORDS:
        return PERSON_ACTIONS
    if last in ANIMAL_WORDS:
        return ANIMAL_ACTIONS
    return OBJECT_ACTIONS


def template_prompts(class_word: str, count: int, start: int = 0) -> list[str]:
    """``count`` distinct prompts (index ``start`` onwards), every one naming ``class_word`` once."""
    word = check_class_word(class_word)
    if count < 0:
        raise InputError(f"prompt count {count} is not usable", "ask for 1 or more prompts")
    actions = actions_for(word)
    factors = (STYLES, actions, VIEWS, SETTINGS, QUALITY)
    strides = (1, 5, 3, 11, 4)  # coprime to the list lengths (11, 13, 8, 14, 7)
    limit = 1
    for f in factors:
        limit *= len(f)
    if start + count > limit:
        raise InputError(f"{start + count} template prompts asked for", f"the templates make at most {limit}")
    out = []
    for i in range(start, start + count):
        # mixed-radix digits of i pick each factor; strides spread consecutive prompts apart
        digits, rest = [], i
        for f in factors:
            digits.append(rest % len(f))
            rest //= len(f)
        picks = [f[(d * s + sum(digits[:k])) % len(f)] for k, (f, d, s) in enumerate(zip(factors, digits, strides, strict=True))]
        style, action, view, setting, quality = picks
        out.append(f"{style} of {_article(word)} {word} {action}, {view}, {setting}, {quality}")
    return out
