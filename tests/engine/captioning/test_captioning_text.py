"""Caption post-processing on the messy answers small vision-language models give (no model needed)."""

from __future__ import annotations

import re

import pytest

from lipe_engine.captioning import CAPTION_REQUEST, MAX_WORDS, caption_request, clean_caption


def _token_count(text: str, token: str = "sks") -> int:
    return len(re.findall(rf"\b{token}\b", text, re.IGNORECASE))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # chatter around a quoted caption
        ('Sure! Here is the caption:\n\n"Close-up, photo, facing the camera, a golden retriever dog, sitting on '
         'grass, in a park."\n\nI hope this helps!',
         "Close-up, photo, facing the camera, a golden retriever sks dog, sitting on grass, in a park."),
        # labelled fields in markdown, subject named by a synonym
        ("**Perspective:** medium shot\n**Style:** photo\n**View:** side profile\n**Subject:** a puppy\n"
         "**Action:** running\n**Setting:** beach",
         "Medium shot, photo, side profile, a sks dog, running, beach"),
        # leaked prompt-format roles, plural subject without an article
        ("USER: ASSISTANT: Dogs playing in the snow", "A sks dog playing in the snow"),
        # the model echoes the token itself: it must appear once, placed by us
        ("A sks dog, the sks dog sits on a sofa", "A sks dog, the dog sits on a sofa"),
        # article agreement when the class starts with a vowel
        ("An elephant walking in the savanna, side view", "A sks elephant walking in the savanna, side view"),
        # no subject word at all: the subject is put in front
        ("Wide shot, photo, on a wooden table, soft light", "A sks backpack, wide shot, photo, on a wooden table, soft light"),
        # nothing usable
        ("", "A photo of a sks dog"),
    ],
)
def test_messy_answers_become_one_clean_caption(raw: str, expected: str) -> None:
    cls = "elephant" if "lephant" in raw else "backpack" if "wooden table" in raw else "dog"
    assert clean_caption(raw, cls, "sks") == expected


def test_person_synonyms_and_class_words_of_several_words() -> None:
    assert clean_caption("Headshot, photo, a young lady smiling", "woman", "ohwx") == "Headshot, photo, a young ohwx woman smiling"
    assert clean_caption("a teddy bear on a shelf", "teddy bear", "sks") == "A sks teddy bear on a shelf"


def test_runaway_answers_are_cut_at_a_phrase_boundary_under_the_limit() -> None:
    raw = "Wide shot, photo, a dog on a rock, " + ", ".join(f"detail number {i}" for i in range(60))
    out = clean_caption(raw, "dog", "sks")
    assert len(out.split()) <= MAX_WORDS
    assert out.startswith("Wide shot, photo, a sks dog on a rock") and not out.endswith(",")
    assert _token_count(out) == 1


def test_several_paragraphs_keep_the_caption_and_drop_the_sign_off() -> None:
    raw = "Medium shot, photo, a cat lying on a bed.\n\nLet me know if you need anything else!"
    assert clean_caption(raw, "cat", "sks") == "Medium shot, photo, a sks cat lying on a bed."


def test_request_asks_for_the_editing_oriented_fields() -> None:
    text = caption_request("dog").lower()
    for field in ("perspective", "style", "faces", "subject", "action", "hair", "setting", "70 words"):
        assert field in text, field
    assert "{subject}" in CAPTION_REQUEST and "a dog" in text


def test_control_bytes_of_a_broken_decode_are_dropped() -> None:
    out = clean_caption("photo\x00 of a\x12 dog\x18 running\x1b", "dog", "sks")
    assert out == "Photo of a sks dog running"
