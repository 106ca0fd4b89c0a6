"""Regularization prompts: the defensive parser, the template fallback, the per-class cache, the LLM path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lipe_engine.errors import InputError, LipeError
from lipe_engine.prompts import check_class_word, parse_prompts, regularization_prompts, template_prompts

MESSY = """Sure! Here are 10 prompts for the keyword "dog":

1. "A professional photo of a dog leaping over a fallen log, side view, autumn forest, sharp focus."
2) **Candid snapshot of a dog shaking water off its fur on a beach, golden hour, 85mm lens**
3 - A dog sitting on a porch, facing the camera, warm evening light, high detail
- Prompt 4: A golden retriever rolling in fresh snow, seen from above, crisp detail
5. Two dogs playing tug of war in a backyard, candid photo, natural light
6. A pack of dogs running across a field, wide-angle photo
7. A professional photo of a dog leaping over a fallen log, side view, autumn forest, sharp focus.
8. dog
9. A street photo of a dog jumping over a puddle, low angle, rainy city street, fast shutter. 10. A studio portrait of a dog yawning widely, plain grey backdrop, soft light, 4k.
11. A photo of a sks dog sitting in a garden, three-quarter view, soft light
I hope these prompts help! Let me know if you need more.
"""


def test_parser_keeps_single_subject_prompts_with_the_class_word() -> None:
    out = parse_prompts(MESSY, "dog", exclude=("sks",))
    assert out == [
        "A professional photo of a dog leaping over a fallen log, side view, autumn forest, sharp focus.",
        "Candid snapshot of a dog shaking water off its fur on a beach, golden hour, 85mm lens",
        "A dog sitting on a porch, facing the camera, warm evening light, high detail",
        "A street photo of a dog jumping over a puddle, low angle, rainy city street, fast shutter.",
        "A studio portrait of a dog yawning widely, plain grey backdrop, soft light, 4k.",
    ]  # dropped: no class word (retriever), plural/several subjects, duplicate, too short, the rare token


def test_parser_reads_json_lists_and_code_fences() -> None:
    text = '```json\n["A photo of a cat sleeping on a windowsill, soft light", "A cat", "cats on a roof at night, wide"]\n```'
    assert parse_prompts(text, "cat") == ["A photo of a cat sleeping on a windowsill, soft light"]
    assert parse_prompts("", "cat") == [] and parse_prompts("Sure, here you go:", "cat") == []


def test_template_fallback_is_deterministic_and_meets_the_count() -> None:
    a = template_prompts("dog", 200)
    assert a == template_prompts("dog", 200) and len(a) == len(set(a)) == 200
    assert all(" dog " in p for p in a)
    assert template_prompts("dog", 5, start=10) == a[10:15]
    assert template_prompts("person", 3) != template_prompts("backpack", 3)
    assert regularization_prompts("dog", 37) == a[:37]  # no LLM, no cache: templates only


@pytest.mark.parametrize("word", ["", "   ", "dog!", "3 dogs", "a very long class word here", "sks dog"])
def test_unusable_class_words_are_refused(word: str) -> None:
    with pytest.raises(InputError) as err:
        check_class_word(word, rare_token="sks")
    assert "\n" not in str(err.value)


def test_bad_counts_and_missing_llm_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="prompt count 0"):
        regularization_prompts("dog", 0)
    with pytest.raises(LipeError, match="does not exist"):
        regularization_prompts("dog", 3, llm_path=tmp_path / "missing.gguf")
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(LipeError, match="is not a GGUF file"):
        regularization_prompts("dog", 3, llm_path=fake)


def test_cache_is_per_class_reused_and_extended(tmp_path: Path) -> None:
    first = regularization_prompts("Dog", 5, cache_dir=tmp_path)
    cache = tmp_path / "dog" / "prompts.json"
    data = json.loads(cache.read_text())
    data["prompts"][0] = "a hand-picked photo of a dog asleep on a rug, top view"  # a user-curated list is kept
    cache.write_text(json.dumps(data))
    again = regularization_prompts("dog", 8, cache_dir=tmp_path)
    assert again[0] == "a hand-picked photo of a dog asleep on a rug, top view"
    assert again[1:5] == first[1:5] and len(again) == len(set(again)) == 8
    assert regularization_prompts("dog", 8, cache_dir=tmp_path, refresh=True)[0] == first[0]
    cache.write_text("{broken json")
    assert regularization_prompts("dog", 2, cache_dir=tmp_path) == first[:2]  # a damaged cache is rebuilt
    assert not (tmp_path / "cat").exists()


def test_llm_path_runs_the_tiny_gguf_and_fills_up_with_templates(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python not installed")
    from lipe_engine.testing.gguf_models import build_tiny_llama_gguf

    model = build_tiny_llama_gguf(tmp_path / "tiny.gguf")
    events = []
    out = regularization_prompts("dog", 6, llm_path=model, cache_dir=tmp_path / "cache", progress=events.append)
    assert len(out) == 6 and all("dog" in p.lower() for p in out)
    data = json.loads((tmp_path / "cache" / "dog" / "prompts.json").read_text())
    assert sum(data["sources"].values()) == 6 and data["llm"] == str(model)
    assert any(e.stage.startswith("prompts for 'dog' (LLM)") for e in events)  # the model really ran
