"""Planning an edit from the library: which source prompt, which targets, which prior (no model runs).

Cases chosen from the rules in ``lipe_engine.editing.plan`` before running them: the caption order
(identity caption > generic caption with the token put in > LLaVA > the identity's caption style),
a phrase vs a whole prompt as the change, the prior (none, queued, trained), and the bad inputs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lipe_engine.editing import photo_in_library, plan_edit
from lipe_engine.editing.plan import DEFAULT_PREFIX, caption_style_prefix, is_full_prompt
from lipe_engine.errors import InputError, LipeError
from lipe_engine.library import Library, LibraryError
from lipe_engine.testing.libraries import make_library, make_photos


@pytest.fixture
def lib(tmp_path: Path, monkeypatch):
    for var in ("LIPE_LLAVA_GGUF", "LIPE_LLAVA_MMPROJ", "LIPE_SDXL_MODEL"):
        monkeypatch.delenv(var, raising=False)
    data, _ = make_library(tmp_path, 6)
    with Library.open(data) as library:
        photos = library.list_photos()
        rex = library.create_identity("Rex", "dog")  # token sks
        library.add_identity_photos(rex, photos[:3], role="reference")
        yield library


def photo(lib: Library, i: int):
    return lib.list_photos()[i]


def test_identity_caption_is_the_source_and_a_phrase_changes_only_the_pose(lib: Library) -> None:
    lib.set_caption(photo(lib, 4), "close-up photo, a sks dog sitting facing left, on green grass", identity="Rex")
    lib.set_caption(photo(lib, 4), "a cat on a sofa")  # the generic caption loses to the identity's
    plan = plan_edit(lib, photo(lib, 4), "Rex", ["lying down", "facing right", "smiling"])
    assert plan.source_prompt == "close-up photo, a sks dog sitting facing left, on green grass"
    assert plan.source_origin == "identity caption"
    assert plan.target_prompts == (
        "close-up photo, a sks dog lying down facing left, on green grass",
        "close-up photo, a sks dog sitting facing right, on green grass",
        "close-up photo, a sks dog sitting and smiling facing left, on green grass",
    )
    assert plan.identity_prompt == "a sks dog" and plan.subject == "sks dog"


def test_generic_caption_gets_the_identity_token(lib: Library) -> None:
    lib.set_caption(photo(lib, 4), "A dog standing on a beach at sunset")
    plan = plan_edit(lib, photo(lib, 4), "Rex", ["sitting"])
    assert plan.source_prompt == "A sks dog standing on a beach at sunset"
    assert plan.target_prompts == ("A sks dog sitting on a beach at sunset",)
    assert plan.source_origin == "generic caption"


def test_a_user_caption_without_the_token_gets_it(lib: Library) -> None:
    lib.set_caption(photo(lib, 4), "my dog asleep on the rug", identity="Rex", by_user=True)
    plan = plan_edit(lib, photo(lib, 4), "Rex", ["sitting"])
    assert plan.source_prompt == "my sks dog asleep on the rug"


def test_no_caption_uses_the_identity_caption_style(lib: Library) -> None:
    refs = lib.list_photos()[:3]
    for i, p in enumerate(refs):
        lib.set_caption(p, f"a photo of a sks dog {['running', 'sitting', 'lying'][i]} in a park", identity="Rex")
    plan = plan_edit(lib, photo(lib, 5), "Rex", ["jumping"])
    assert plan.source_prompt == "a photo of a sks dog" and plan.source_origin == "caption style"
    assert plan.target_prompts == ("a photo of a sks dog jumping",)
    assert any("no caption" in n for n in plan.notes)


def test_caption_style_prefix_rules(lib: Library) -> None:
    rex = lib.get_identity("Rex")
    assert caption_style_prefix(["studio photo of a sks dog", "studio photo of a sks dog, grey"], rex) == \
        "studio photo of a"
    # a prefix that names a view says something about another photo: not a style
    assert caption_style_prefix(["facing left, a sks dog", "facing left, a sks dog"], rex) == DEFAULT_PREFIX
    # no majority: the plain template
    assert caption_style_prefix(["wide shot, a sks dog", "close-up, a sks dog", "photo, a sks dog"], rex) == \
        DEFAULT_PREFIX
    vowel = lib.create_identity("Ody", "cat", token="ohwx")
    plan = plan_edit(lib, photo(lib, 5), vowel, ["sitting"])
    assert plan.source_prompt == "a photo of an ohwx cat" and plan.identity_prompt == "an ohwx cat"


def test_a_whole_prompt_is_used_as_written_with_the_token(lib: Library) -> None:
    rex = lib.get_identity("Rex")
    assert is_full_prompt("a photo of a dog jumping over a log", rex)
    assert not is_full_prompt("jumping over a log", rex)
    plan = plan_edit(lib, photo(lib, 5), "Rex", ["a photo of a dog jumping over a log"])
    assert plan.target_prompts == ("a photo of a sks dog jumping over a log",)
    exact = plan_edit(lib, photo(lib, 5), "Rex", [], exact_targets=["a painting of a sks dog"])
    assert exact.target_prompts == ("a painting of a sks dog",)


def test_llava_describes_an_uncaptioned_photo_when_configured(lib: Library, tmp_path: Path) -> None:
    class Fake:
        model_name = "fake-llava"

        def describe(self, image, request):
            return "Sure! Here is the caption: Medium shot, photo, a dog lying on a porch."

    plan = plan_edit(lib, photo(lib, 4), "Rex", ["sitting"], captioner=Fake())
    assert plan.source_origin == "described"
    assert plan.source_prompt == "Medium shot, photo, a sks dog lying on a porch."
    assert plan.target_prompts == ("Medium shot, photo, a sks dog sitting on a porch.",)
    assert lib.get_caption(photo(lib, 4), identity="Rex").text == plan.source_prompt  # stored for next time
    no_llava = plan_edit(lib, photo(lib, 5), "Rex", ["sitting"], describe=False, captioner=Fake())
    assert no_llava.source_origin == "caption style"


def test_prior_none_queued_and_trained(lib: Library, tmp_path: Path) -> None:
    plan = plan_edit(lib, photo(lib, 4), "Rex", ["sitting"])
    assert plan.lora_path is None and plan.waits_for_job is None
    assert any("uses the base model" in n for n in plan.notes)
    job = lib.create_job("train", config={}, identity=lib.get_identity("Rex").id)
    queued = plan_edit(lib, photo(lib, 4), "Rex", ["sitting"])
    assert queued.waits_for_job == job.id and queued.lora_path is None
    assert any(f"job {job.id}" in n and "waits" in n for n in queued.notes)
    folder = tmp_path / "lora"
    folder.mkdir()
    (folder / "pytorch_lora_weights.safetensors").write_bytes(b"x")
    lora = lib.record_lora("Rex", folder, base_model="tiny")
    trained = plan_edit(lib, photo(lib, 4), "Rex", ["sitting"])
    assert trained.lora_id == lora.id and trained.lora_path == folder.absolute()
    assert plan_edit(lib, photo(lib, 4), "Rex", ["sitting"], use_prior=False).lora_path is None
    folder.joinpath("pytorch_lora_weights.safetensors").unlink()
    folder.rmdir()
    with pytest.raises(InputError, match="prior of 'Rex'.*gone"):
        plan_edit(lib, photo(lib, 4), "Rex", ["sitting"])


def test_the_model_and_its_edit_defaults_are_planned(lib: Library, tiny_sdxl_dir: Path) -> None:
    lib.set_setting("sdxl_model", str(tiny_sdxl_dir))
    plan = plan_edit(lib, photo(lib, 4), "Rex", ["sitting"], params={"steps": 17, "seeds": (None, 3)})
    assert plan.model == str(tiny_sdxl_dir)
    assert plan.params["steps"] == 17 and plan.params["seeds"] == (None, 3) and plan.params["skip"] == 10
    with pytest.raises(InputError, match="steps"):
        plan_edit(lib, photo(lib, 4), "Rex", ["sitting"], params={"steps": 0})


@pytest.mark.parametrize("changes, match", [([], "no change given"), (["  "], "change is empty"),
                                            (["x" * 400], "not usable"), ([f"pose {i}" for i in range(40)], "too many")])
def test_bad_changes(lib: Library, changes, match) -> None:
    with pytest.raises(InputError, match=match):
        plan_edit(lib, photo(lib, 4), "Rex", changes)


def test_unknown_identity_and_photo_gone(lib: Library) -> None:
    with pytest.raises(LibraryError) as err:
        plan_edit(lib, photo(lib, 4), "Nobody", ["sitting"])
    assert str(err.value) == "identity 'Nobody' does not exist: create it with `lipe identity create Nobody --class dog`."
    gone = photo(lib, 4)
    Path(gone.path).unlink()
    with pytest.raises(InputError) as err2:
        plan_edit(lib, gone, "Rex", ["sitting"])
    assert "is gone from disk" in str(err2.value) and len(str(err2.value).splitlines()) == 1


def test_photo_outside_the_library_is_refused_inside_a_folder_is_added(lib: Library, tmp_path: Path) -> None:
    outside = make_photos(tmp_path / "elsewhere", 1)[0]
    with pytest.raises(LipeError, match=r"is not in the library: add its folder first"):
        photo_in_library(lib, outside)
    new = make_photos(tmp_path / "new", 1)[0]
    folder = lib.list_folders()[0].path
    added = folder / "later.jpg"
    added.write_bytes(new.read_bytes())
    assert photo_in_library(lib, added).path == added
    with pytest.raises(InputError, match="does not exist"):
        photo_in_library(lib, folder / "nothing.jpg")


def test_cli_plan_without_typing_prompts(lib: Library, capsys) -> None:
    from lipe_engine.cli import main

    lib.set_caption(photo(lib, 4), "a dog sitting on grass")
    path = photo(lib, 4).path
    assert main(["edit", str(path), "--identity", "Rex", "--to", "standing", "--plan",
                 "--data-dir", str(lib.data_dir)]) == 0
    out = capsys.readouterr().out
    assert "target: a sks dog standing on grass" in out and "no prior (base model)" in out
    assert main(["edit", str(path), "--to", "standing", "--data-dir", str(lib.data_dir)]) == 2
    assert "--to needs --identity" in capsys.readouterr().err
    assert main(["edit", str(path), "--prompt-source", "a dog", "--data-dir", str(lib.data_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lipe: error: --prompt-target is missing: pass --identity NAME --to CHANGE")


def test_the_pieces_the_edit_window_calls_and_other_subject_words(lib: Library, tmp_path: Path) -> None:
    """plan_source / plan_prior / EditPlan.preview are what the desktop calls; subject words other than
    the identity's (typed in the edit window) name the subject in the source and identity prompts."""
    from lipe_engine.editing.plan import plan_prior, plan_source

    choice = plan_source(lib, photo(lib, 5), "Rex", describe=False)
    assert (choice.text, choice.origin, choice.describable) == ("a photo of a sks dog", "caption style", True)
    assert choice.image == photo(lib, 5).path and choice.version_id is None
    typed = plan_edit(lib, photo(lib, 5), "Rex", ["sitting"], subject="sks dog with a red collar")
    assert typed.source_prompt == "a photo of a sks dog with a red collar"
    assert typed.identity_prompt == "a sks dog with a red collar"
    assert typed.target_prompts == ("a photo of a sks dog with a red collar sitting",)
    same = plan_edit(lib, photo(lib, 5), "Rex", ["sitting"], subject="sks dog")  # the identity's own words
    assert same == plan_edit(lib, photo(lib, 5), "Rex", ["sitting"])
    nobody = plan_edit(lib, photo(lib, 5), None, [], exact_targets=["a photo of a cat sitting"], subject="cat")
    assert (nobody.source_prompt, nobody.identity_prompt) == ("a photo of a cat", "a cat")
    with pytest.raises(InputError, match="no caption and no identity"):
        plan_edit(lib, photo(lib, 5), None, ["sitting"], identity_prompt_text="a cat")  # experts: say the photo
    assert plan_prior(lib, "Rex").summary().startswith("'Rex' has no prior yet")
    assert plan_prior(lib, None).summary() == "no prior: the edit uses the base model"
    full = plan_edit(lib, photo(lib, 5), "Rex", ["sitting"], params={"steps": 20, "skip": 2})
    quick = full.preview()
    assert (quick.params["steps"], quick.params["skip"]) == (5, 1) and quick.notes[-1] == \
        "preview: 4 of 18 sampled steps"
    assert {k: v for k, v in quick.params.items() if k not in ("steps", "skip")} == \
        {k: v for k, v in full.params.items() if k not in ("steps", "skip")}
