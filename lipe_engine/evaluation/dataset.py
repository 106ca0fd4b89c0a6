"""The evaluation dataset layout (like the paper's LIPE set) and its loader.

::

    DATASET/
      <subject>/                  one folder per subject; the folder name is the subject id
        references/               3-5 reference photos of the subject (jpg, jpeg, png, webp)
        test.jpg                  the photo to edit (exactly one file named test.<ext>)
        prompts.json              the prompts, see below
        regularization/           optional: class images for the priors' prior-preservation loss

``prompts.json``::

    {
      "token": "sks",                       # identifier word of the learned prior
      "class": "dog",                       # class word (regularization / DreamBooth prompt)
      "identity": "a sks dog",              # identity prompt P^e (NIMA's mask)
      "source": "a photo of a sks dog sitting on the grass",       # P^s, describes test.jpg
      "targets": ["a photo of a sks dog standing on the grass"],    # one or more P^g
      "captions": {"ref1.jpg": "a photo of a sks dog running"},     # optional, per reference
      "regularization": {"r1.jpg": "a photo of a dog running"}      # optional, per class image
    }

Methods without a personal prior (MasaCtrl) and the metrics' CLIP text encoder see the prompts
with the identifier word removed ("a photo of a dog sitting"): for them ``sks`` is noise.
``captions`` are the editing-oriented captions of the references (LIPE's prior needs them; write
them with ``lipe caption``). Images in ``regularization/`` (with ``regularization`` captions, else
"a photo of a <class>") train both priors with the prior-preservation loss, as in the paper; without
the folder the priors are trained on the references alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
MIN_REFS, MAX_REFS = 3, 5
PROMPTS_FILE = "prompts.json"


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def strip_token(prompt: str, token: str) -> str:
    """'a photo of a sks dog' -> 'a photo of a dog' (the whole word, any case)."""
    if not token:
        return prompt
    out = re.sub(rf"(?i)(?<![\w]){re.escape(token)}(?![\w])", " ", prompt)
    return re.sub(r"\s+", " ", out).strip()


@dataclass(frozen=True)
class Subject:
    name: str
    folder: Path
    references: list[Path]
    test_image: Path
    token: str
    class_word: str
    identity: str
    source: str
    targets: list[str]
    captions: dict[str, str] = field(default_factory=dict)
    regularization: list[tuple[Path, str]] = field(default_factory=list)

    def plain(self, prompt: str) -> str:
        """The prompt without the identifier word (for no-prior methods and CLIP)."""
        return strip_token(prompt, self.token)


def _text(data: dict, key: str, where: Path) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"'{where}' has no \"{key}\" text", f"add \"{key}\": \"...\" (see the eval dataset layout)")
    return value.strip()


def load_subject(folder: str | Path) -> Subject:
    folder = Path(folder)
    where = folder / PROMPTS_FILE
    if not where.is_file():
        raise InputError(f"subject folder '{folder}' has no {PROMPTS_FILE}", "add one (see the eval dataset layout)")
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"'{where}' is not valid JSON ({exc})", "fix the file") from exc
    if not isinstance(data, dict):
        raise InputError(f"'{where}' is not a JSON object", "write {\"source\": ..., \"targets\": [...], ...}")
    targets = data.get("targets")
    if isinstance(targets, str):
        targets = [targets]
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) and t.strip() for t in targets):
        raise InputError(f"'{where}' has no \"targets\" list", "add \"targets\": [\"a photo of a sks dog standing\"]")
    tests = [p for p in _images(folder) if p.stem.lower() == "test"]
    if len(tests) != 1:
        raise InputError(f"subject folder '{folder}' has {len(tests)} test images",
                         "put exactly one photo named test.jpg (or .png/.webp) in it")
    refs_dir = folder / "references"
    refs = _images(refs_dir) if refs_dir.is_dir() else []
    if not MIN_REFS <= len(refs) <= MAX_REFS:
        raise InputError(f"subject '{folder.name}' has {len(refs)} reference photos in references/",
                         f"give {MIN_REFS} to {MAX_REFS} photos of the subject")
    captions = data.get("captions") or {}
    if not isinstance(captions, dict):
        raise InputError(f"\"captions\" in '{where}' is not an object", "map file names to captions")
    token = str(data.get("token", "sks")).strip()
    class_word = _text(data, "class", where)
    reg_captions = data.get("regularization") or {}
    if not isinstance(reg_captions, dict):
        raise InputError(f"\"regularization\" in '{where}' is not an object", "map file names to captions")
    reg_dir = folder / "regularization"
    regularization = [(p, str(reg_captions.get(p.name) or f"a photo of a {class_word}"))
                      for p in (_images(reg_dir) if reg_dir.is_dir() else [])]
    return Subject(
        name=folder.name, folder=folder, references=refs, test_image=tests[0], token=token,
        class_word=class_word, identity=_text(data, "identity", where),
        source=_text(data, "source", where), targets=[t.strip() for t in targets],
        captions={str(k): str(v) for k, v in captions.items()}, regularization=regularization,
    )


def load_dataset(root: str | Path, only: list[str] | None = None) -> list[Subject]:
    """All subject folders (sorted by name) of a dataset; ``only`` picks some by name."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputError(f"dataset folder '{root}' does not exist", "give a folder with one subfolder per subject")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if only:
        names = {p.name for p in folders}
        missing = [n for n in only if n not in names]
        if missing:
            raise InputError(f"no subject named {', '.join(missing)} in '{root}'",
                             f"pick from {', '.join(sorted(names)) or 'nothing (empty dataset)'}")
        folders = [p for p in folders if p.name in only]
    if not folders:
        raise InputError(f"dataset '{root}' has no subject folders", "add one folder per subject (see the layout)")
    return [load_subject(p) for p in folders]


def write_subject(
    root: str | Path, name: str, references: list, test_image: object, prompts: dict
) -> Path:
    """Write one subject folder in this layout (PIL images); used by generators and tests."""
    folder = Path(root) / name
    (folder / "references").mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(references):
        im.save(folder / "references" / f"ref{i + 1}.png")
    test_image.save(folder / "test.png")  # type: ignore[attr-defined]
    (folder / PROMPTS_FILE).write_text(json.dumps(prompts, indent=2), encoding="utf-8")
    return folder
