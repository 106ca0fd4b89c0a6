"""Plan an edit from the library: photo + identity + the change wanted -> everything NIMA needs.

The app knows who "Rex" is, so nobody should have to type it again. :func:`plan_edit` decides, in one
place for the desktop, the CLI and the queue's edit jobs:

* **source prompt** (the photo as it is; the paper inverts the photo with its own description):
  an explicit one wins; else the identity's caption of the photo; else the photo's generic caption
  with the identity's token put in (``insert_token``); else an edited version's own target prompt;
  else LLaVA's description when one is configured and ``describe`` allows it (stored as the
  photo's caption); else the identity's caption style (the words its reference captions put before
  the subject, e.g. "a photo of a") with its token and class word: "a photo of a sks dog".
* **target prompts**: a change such as "sitting", "facing left" or "smiling" replaces the phrase of
  the same kind in the source prompt (``with_phrase``: the scene words the inversion used stay);
  a full prompt (it names the subject's class word or token) is used as it is, with the token put in.
* **identity prompt**: "a sks dog"; **prior**: the identity's newest LoRA, else none (the plan says
  the edit uses the base model) and, when a training of the identity is queued or running, which
  job a queued edit should wait for; **model** and its edit settings (``edit_params_for``).

Every decision is written down in ``EditPlan.notes`` (one line each) so a user can see why.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import locations
from ..captioning import insert_token
from ..captioning.photo import caption_photo
from ..edit_settings import preview_schedule
from ..errors import InputError
from ..library import LibraryError
from ..library.safe_paths import check_path_text
from ..prompts.actions import EXPRESSION_WORDS, POSE_WORDS, VIEW_WORDS, with_phrase

if TYPE_CHECKING:
    from ..library import Library
    from ..library.identities import IdentityRef
    from ..library.photos import PhotoRef
    from ..library.records import Identity, Photo

# where each source prompt came from (EditPlan.source_origin)
EXPLICIT, IDENTITY_CAPTION, GENERIC_CAPTION, VERSION_PROMPT, DESCRIBED, STYLE = (
    "explicit", "identity caption", "generic caption", "version prompt", "described", "caption style")
DEFAULT_PREFIX = "a photo of a"
MAX_CHANGES = 32  # target prompts of one plan: each one is a full reverse process per seed
MAX_CHANGE_CHARS = 300
_TRAIN_KIND = "train"


@dataclass(frozen=True)
class EditPlan:
    """The inputs of one NIMA edit of one photo, decided from the library (see the module docstring)."""

    photo_id: int
    photo_path: Path  # the image that is inverted (an edited version's file, else the original)
    identity_id: int | None
    identity_name: str | None
    source_prompt: str
    source_origin: str
    target_prompts: tuple[str, ...]
    changes: tuple[str, ...]  # what the user asked for, one per target prompt
    identity_prompt: str
    subject: str  # "sks dog": the words that name the subject in the prompts
    lora_id: int | None
    lora_path: Path | None
    waits_for_job: int | None  # a queued/running training of the identity (the prior it would use)
    model: str  # SDXL folder / file / hub id
    params: dict[str, Any]  # EditParams fields: the model's edit defaults under the user's overrides
    version_id: int | None = None  # the edited version this edit starts from, if any
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def uses_prior(self) -> bool:
        return self.lora_path is not None

    def summary(self) -> str:
        """A few lines for a terminal or a dialog: what will be edited with what."""
        prior = f"prior #{self.lora_id}" if self.lora_id is not None else "no prior (base model)"
        lines = [f"photo #{self.photo_id} {self.photo_path.name}: {self.identity_name or 'no identity'}, {prior}",
                 f"  source ({self.source_origin}): {self.source_prompt}"]
        lines += [f"  target: {t}" for t in self.target_prompts]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def with_params(self, **params: Any) -> EditPlan:
        return replace(self, params={**self.params, **{k: v for k, v in params.items() if v is not None}})

    def preview(self) -> EditPlan:
        """The same edit on the preview schedule (``edit_settings.preview_schedule``: at most a
        quarter of the UNet work); a version saved from it records the schedule it ran."""
        steps, skip = preview_schedule(int(self.params["steps"]), int(self.params["skip"]))
        note = f"preview: {steps - skip} of {int(self.params['steps']) - int(self.params['skip'])} sampled steps"
        return replace(self, params={**self.params, "steps": steps, "skip": skip}, notes=(*self.notes, note))


@dataclass(frozen=True)
class SourceChoice:
    """The source prompt of a photo and where it came from (part of a plan: :func:`plan_source`)."""

    text: str
    origin: str  # EXPLICIT, IDENTITY_CAPTION, GENERIC_CAPTION, VERSION_PROMPT, DESCRIBED or STYLE
    image: Path  # the image that is inverted (an edited version's file, else the original)
    version_id: int | None
    notes: tuple[str, ...] = ()

    @property
    def describable(self) -> bool:
        """Nobody described the photo: LLaVA (when set) would give a closer source prompt."""
        return self.origin == STYLE


@dataclass(frozen=True)
class PriorChoice:
    """The prior an edit of an identity uses (part of a plan: :func:`plan_prior`)."""

    lora_id: int | None
    lora_path: Path | None
    waits_for_job: int | None
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for a window: which prior, or why none."""
        if self.lora_path is not None:
            return f"Personalized prior #{self.lora_id} is used." if self.lora_id is not None else \
                f"Prior {self.lora_path.name} is used."
        return self.notes[0] if self.notes else "No prior: the edit uses the base model."


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def identity_prompt(ident: Identity) -> str:
    """How NIMA's identity-aware attention names the subject: "a sks dog"."""
    return named(ident.instance_prompt)


def named(subject: str) -> str:
    """The subject words with their article: "sks dog" -> "a sks dog", "ohwx cat" -> "an ohwx cat"."""
    subject = " ".join(subject.split())
    return f"{_article(subject)} {subject}" if subject else ""


def caption_style_prefix(captions: Sequence[str], ident: Identity) -> str:
    """The words the identity's captions most often put before its subject ("a photo of a"), when that
    prefix says nothing about a pose, view or expression (it must hold for a photo we know nothing of)."""
    subject = re.compile(rf"\b{re.escape(ident.token)}\s+{re.escape(ident.class_word)}\b", re.IGNORECASE)
    seen: Counter[str] = Counter()
    for text in captions:
        m = subject.search(text)
        if m is None:
            continue
        prefix = " ".join(text[: m.start()].split())
        words = {w.strip(",.;").lower() for w in prefix.split()}
        if len(words) > 8 or words & (POSE_WORDS | VIEW_WORDS | EXPRESSION_WORDS):
            continue
        seen[prefix] += 1
    if not seen:
        return DEFAULT_PREFIX
    prefix, count = seen.most_common(1)[0]
    if count * 2 < len(captions) or not prefix:
        return DEFAULT_PREFIX
    return prefix


def style_source(lib: Library, ident: Identity, subject: str | None = None) -> str:
    """The source prompt of a photo nobody described: the identity's caption style with its token
    (``subject``: other words naming the subject, as a user typed them)."""
    captions = []
    for link in lib.identity_photos(ident.id, role="reference"):
        cap = lib.get_caption(link.photo, identity=ident.id, fallback_generic=False)
        if cap is not None:
            captions.append(cap.text)
    # "a photo of a" before "ohwx dog" reads "a photo of an ohwx dog"
    words = " ".join((subject or "").split()) or ident.instance_prompt
    prefix = re.sub(r"\b(an?)$", _article(words), caption_style_prefix(captions, ident), flags=re.IGNORECASE)
    return f"{prefix} {words}".strip()


def is_full_prompt(change: str, ident: Identity | None) -> bool:
    """Whether ``change`` is a whole target prompt (it names the subject) rather than a phrase."""
    words = {w.strip(",.;:!?").lower() for w in change.split()}
    if ident is not None and ({ident.token.lower(), ident.class_word.lower().split()[-1]} & words):
        return True
    return change.lower().startswith(("a photo", "photo of", "an image", "a picture"))


def target_prompt(source: str, change: str, ident: Identity | None, subject: str) -> str:
    """The target prompt for one change: a phrase swapped into the source prompt, or a full prompt
    naming the identity by its token."""
    change = " ".join(change.split())
    if is_full_prompt(change, ident):
        return insert_token(change, ident.class_word, ident.token) if ident is not None else change
    return with_phrase(source, subject, change)


def check_changes(changes: Sequence[str], exact: Sequence[str] = ()) -> tuple[str, ...]:
    """The changes asked for (and ``exact`` target prompts), each one line of words, at most
    :data:`MAX_CHANGES` in all."""
    out = []
    for raw in [*changes, *exact]:
        text = " ".join(str(raw).split())
        if not text:
            raise InputError("a change is empty", "say what the subject should do, e.g. --to sitting")
        if len(text) > MAX_CHANGE_CHARS or not text.isprintable():
            raise InputError(f"change '{text[:40]}…' is not usable",
                             f"use a short phrase or prompt (under {MAX_CHANGE_CHARS} characters)")
        out.append(text)
    if not out:
        raise InputError("no change given", "say what the subject should do, e.g. --to sitting --to 'facing left'")
    if len(out) > MAX_CHANGES:
        raise InputError(f"{len(out)} changes in one edit are too many", f"give at most {MAX_CHANGES}")
    return tuple(dict.fromkeys(out))  # the same change twice would only repeat an output


def training_in_queue(lib: Library, identity_id: int) -> int | None:
    """The newest queued or running training job of the identity (its prior is on the way), or None."""
    jobs = [j for j in lib.list_jobs(kind=_TRAIN_KIND, states=["queued", "running"]) if j.identity_id == identity_id]
    return jobs[0].id if jobs else None


def _photo_file(photo: Photo) -> Path:
    if photo.missing or not Path(photo.path).is_file():
        raise InputError(f"photo '{photo.path}' is gone from disk",
                         "restore the file (or rescan the library with `lipe library scan`) and edit again")
    return Path(photo.path)


def source_from_library(lib: Library, photo: Photo, ident: Identity | None) -> tuple[str, str] | None:
    """(source prompt, origin) from the photo's captions, or None when it has none."""
    cap = lib.get_caption(photo, identity=ident.id if ident is not None else None)
    if cap is None:
        return None
    if ident is None:
        return cap.text, GENERIC_CAPTION
    if cap.identity_id is None:
        return insert_token(cap.text, ident.class_word, ident.token), GENERIC_CAPTION
    text = cap.text
    if not re.search(rf"\b{re.escape(ident.token)}\b", text, re.IGNORECASE):  # a user-written caption
        text = insert_token(text, ident.class_word, ident.token)
    return text, IDENTITY_CAPTION


def llava_configured(lib: Library) -> bool:
    return bool(locations.resolve("llava_gguf", None, lib) and locations.resolve("llava_mmproj", None, lib))


def plan_source(
    lib: Library,
    photo: PhotoRef,
    identity: IdentityRef | None,
    *,
    source_prompt: str | None = None,
    subject: str | None = None,
    version: int | None = None,
    describe: bool = True,
    captioner: Any = None,
    progress: Any = None,
    cancel: Any = None,
) -> SourceChoice:
    """The source prompt of an edit of ``photo`` (the module docstring's first rule that applies);
    ``subject``: the words naming the subject when a user typed others than the identity's."""
    p = lib.get_photo(photo)
    ident = lib.get_identity(identity) if identity is not None else None
    image = _photo_file(p)
    version_prompt = None
    if version is not None:
        edit = lib.get_edit(version)
        if edit.photo_id != p.id:
            raise InputError(f"version {version} is not a version of photo #{p.id}",
                             f"list its versions with `lipe versions {p.id}`")
        if not edit.output_path.is_file():
            raise InputError(f"version {version}'s file '{edit.output_path}' is gone",
                             "edit the original photo instead, or delete the version")
        image, version_prompt = edit.output_path, edit.target_prompt
    notes: list[str] = []
    if source_prompt is not None and source_prompt.strip():
        source, origin = " ".join(source_prompt.split()), EXPLICIT
    elif version_prompt:
        source, origin = version_prompt, VERSION_PROMPT
        notes.append("source prompt: the version's own edit prompt")
    else:
        found = source_from_library(lib, p, ident)
        if found is not None:
            source, origin = found
            notes.append(f"source prompt: the photo's {origin}")
        elif ident is not None and describe and (captioner is not None or llava_configured(lib)):
            cap = caption_photo(lib, p, ident.id, captioner=captioner, progress=progress, cancel=cancel)
            source, origin = cap.text, DESCRIBED
            notes.append("source prompt: described by LLaVA (stored as the photo's caption)")
        elif ident is not None:
            source, origin = style_source(lib, ident, subject), STYLE
            notes.append("source prompt: the photo has no caption; the identity's caption style is used "
                         "(describe the photo, or set LLaVA, for a closer edit)")
        elif subject and subject.strip():
            source, origin = f"a photo of {named(subject)}", STYLE
            notes.append("source prompt: the photo has no caption; the subject words are used "
                         "(describe the photo for a closer edit)")
        else:
            raise InputError(f"photo '{p.path.name}' has no caption and no identity is given",
                             "pass --identity NAME, or --prompt-source describing the photo")
    if not source:
        raise InputError(f"the source prompt of '{p.path.name}' is empty", "describe the photo (--prompt-source)")
    return SourceChoice(source, origin, image, version, tuple(notes))


def plan_prior(lib: Library, identity: IdentityRef | None, *, lora: str | Path | None = None,
               use_prior: bool = True) -> PriorChoice:
    """The prior of an edit: ``lora`` as given, else the identity's newest (none: the base model, and
    the training job a queued edit would wait for)."""
    if lora is not None:
        path = Path(lora).expanduser()
        if not path.exists():
            raise InputError(f"LoRA '{lora}' does not exist", "give a LoRA folder or .safetensors file")
        return PriorChoice(None, path, None)
    if identity is None or not use_prior:
        return PriorChoice(None, None, None, ("no prior: the edit uses the base model",))
    ident = lib.get_identity(identity)
    prior = lib.latest_lora(ident.id)
    waits = training_in_queue(lib, ident.id)
    if prior is not None:
        if not prior.path.exists():
            raise InputError(f"the prior of '{ident.name}' ({prior.path}) is gone from disk",
                             f"train it again (`lipe queue add {ident.name}`)")
        return PriorChoice(prior.id, prior.path, waits)
    if waits is not None:
        note = (f"'{ident.name}' has no prior yet; its training is job {waits}: a queued edit waits "
                "for it, an edit now uses the base model")
    else:
        note = f"'{ident.name}' has no prior yet: the edit uses the base model (train one with `lipe queue add {ident.name}`)"
    return PriorChoice(None, None, waits, (note,))


def plan_edit(
    lib: Library,
    photo: PhotoRef,
    identity: IdentityRef | None,
    changes: Sequence[str],
    *,
    exact_targets: Sequence[str] = (),
    model: str | None = None,
    source_prompt: str | None = None,
    identity_prompt_text: str | None = None,
    subject: str | None = None,
    lora: str | Path | None = None,
    use_prior: bool = True,
    version: int | None = None,
    describe: bool = True,
    captioner: Any = None,
    progress: Any = None,
    cancel: Any = None,
    params: dict[str, Any] | None = None,
) -> EditPlan:
    """Decide the inputs of an edit of ``photo`` (see the module docstring); raises one-line errors.

    ``exact_targets``: target prompts used word for word (the experts' ``--prompt-target``).
    ``subject``: the words naming the subject, when not the identity's ("sks dog"); the identity
    prompt is then "a " + them. ``lora``: an explicit prior file/folder instead of the identity's
    newest (``use_prior=False``: none). ``version``: an edited version of the photo to start from.
    ``describe``: LLaVA may be run (it loads a model; ``captioner`` replaces it in tests).
    ``params``: user edit settings.
    """
    from ..nima import edit_params_for

    exact = set(check_changes(exact_targets)) if exact_targets else set()
    changes = check_changes(changes, exact_targets)
    p = lib.get_photo(photo)
    ident = lib.get_identity(identity) if identity is not None else None
    typed = " ".join((subject or "").split())
    if ident is not None and typed == ident.instance_prompt:
        typed = ""  # the identity's own words: the identity's rules
    words = typed
    if ident is None and not words:  # the experts' identity prompt names the subject
        words = re.sub(r"^(?:an?|the)\s+", "", (identity_prompt_text or "").strip(), flags=re.IGNORECASE)
    chosen = plan_source(lib, p, ident.id if ident is not None else None, source_prompt=source_prompt,
                         subject=typed or None, version=version, describe=describe, captioner=captioner,
                         progress=progress, cancel=cancel)
    source, notes = chosen.text, list(chosen.notes)
    subject_words = words or (ident.instance_prompt if ident is not None else "")
    targets = tuple(c if c in exact else target_prompt(source, c, ident, subject_words) for c in changes)
    for change, target in zip(changes, targets, strict=True):
        if target.strip().lower() == source.strip().lower():
            notes.append(f"'{change}' leaves the source prompt unchanged: that output will look like the photo")
    ident_prompt = (identity_prompt_text or "").strip() or (
        named(words) if words else identity_prompt(ident) if ident is not None else "")
    if not ident_prompt:
        raise InputError("no identity prompt", "pass --identity NAME (or --identity-prompt 'a sks dog')")
    prior = plan_prior(lib, ident.id if ident is not None else None, lora=lora, use_prior=use_prior)
    if ident is not None or lora is not None:
        notes += [n for n in prior.notes if not n.startswith("no prior:")]
    source_model = locations.sdxl_model(model, lib)
    settings = edit_params_for(source_model, **(params or {})).to_dict()  # bad values fail here
    return EditPlan(
        photo_id=p.id, photo_path=chosen.image, identity_id=ident.id if ident is not None else None,
        identity_name=ident.name if ident is not None else None, source_prompt=source, source_origin=chosen.origin,
        target_prompts=targets, changes=changes, identity_prompt=ident_prompt, subject=subject_words,
        lora_id=prior.lora_id, lora_path=prior.lora_path, waits_for_job=prior.waits_for_job if ident else None,
        model=source_model, params=settings, version_id=version, notes=tuple(notes),
    )


def photo_in_library(lib: Library, path: str | Path) -> Photo:
    """The library's photo at ``path``; a file inside a library folder that was not scanned yet is
    added by scanning that folder; anything else is refused in one line."""
    try:
        return lib.get_photo(path)
    except LibraryError:
        pass
    target = check_path_text(path, "photo").expanduser().resolve()
    if not target.is_file():
        raise InputError(f"photo '{path}' does not exist", "check the path")
    folder = next((f for f in lib.list_folders() if f.path == target.parent or f.path in target.parents), None)
    if folder is None:
        raise InputError(f"photo '{path}' is not in the library",
                         f"add its folder first: `lipe library add {target.parent}` (edits are versions of "
                         "library photos)")
    lib.scan([folder.id])
    try:
        return lib.get_photo(target)
    except LibraryError as exc:
        reason = dict(lib.scan_issues(folder.id)).get(str(target), "the scan skipped it")
        raise InputError(f"photo '{path}' could not be added to the library ({reason})",
                         "give a JPEG, PNG or WebP photo") from exc
