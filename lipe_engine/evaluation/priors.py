"""Personal priors for the evaluation: trained once per subject and kind, reused on resume.

Two kinds (see :mod:`lipe_engine.baselines.methods`): LIPE's prior trained on the references with
editing-oriented captions, and the DreamBooth prior trained on the same photos with the plain
caption "a photo of <identity>". Both use the same training recipe and the subject's
regularization images (if the dataset has them), so the captions are the only difference (the
paper's DreamCtrl and "w/o captions" ablation).

A prior is taken, in this order, from ``<subject>/priors/<kind>/`` (a LoRA folder or
``.safetensors`` shipped with the dataset), from ``<out>/priors/<subject>/<kind>/`` when a
previous run finished it (``done.json``), or trained there (an interrupted training resumes from
its checkpoints).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..baselines.methods import PRIOR_DREAMBOOTH, PRIOR_EDITING
from ..errors import InputError
from ..models.loader import LoadedModel
from ..progress import CancelToken, ProgressCallback, ProgressReporter
from ..training import train_identity_lora
from .dataset import Subject
from .results import atomic_write_text

DONE = "done.json"


def instance_items(subject: Subject, kind: str) -> list[tuple[Path, str]]:
    """(photo, caption) pairs the prior of ``kind`` trains on."""
    if kind == PRIOR_DREAMBOOTH:
        return [(p, f"a photo of {subject.identity}") for p in subject.references]
    if kind != PRIOR_EDITING:
        raise ValueError(f"unknown prior kind {kind}")
    missing = [p.name for p in subject.references if p.name not in subject.captions]
    if missing:
        raise InputError(
            f"subject '{subject.name}' has no editing-oriented caption for {', '.join(missing)}",
            "add them under \"captions\" in prompts.json (e.g. from `lipe caption`)",
        )
    items = []
    for p in subject.references:
        caption = subject.captions[p.name]
        if subject.token and subject.token.lower() not in caption.lower().split():
            raise InputError(f"caption of {p.name} in subject '{subject.name}' lacks the word '{subject.token}'",
                             f"write it like \"a photo of {subject.identity} sitting on the grass\"")
        items.append((p, caption))
    return items


def shipped_prior(subject: Subject, kind: str) -> Path | None:
    d = subject.folder / "priors" / kind
    if d.is_dir():
        files = sorted(d.glob("*.safetensors"))
        if (d / "pytorch_lora_weights.safetensors").is_file() or len(files) != 1:
            return d
        return files[0]
    return None


def ensure_prior(
    model: LoadedModel,
    subject: Subject,
    kind: str,
    out_dir: Path,
    training_config: object | None = None,
    class_items: list | None = None,
    progress: ProgressReporter | ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """The LoRA path of ``subject``'s prior of ``kind``; trains it (on ``model``, borrowed) if needed."""
    shipped = shipped_prior(subject, kind)
    if shipped is not None:
        return shipped
    folder = out_dir / "priors" / subject.name / kind
    done = folder / DONE
    if done.is_file():
        lora = Path(json.loads(done.read_text(encoding="utf-8"))["lora"])
        if lora.exists():
            return lora
    items = instance_items(subject, kind)
    lora = train_identity_lora(model, items, class_items, folder, training_config,  # type: ignore[arg-type]
                               progress, cancel)
    atomic_write_text(done, json.dumps({"lora": str(lora), "kind": kind, "captions": [c for _, c in items],
                                        "class_images": len(class_items or [])}, indent=1))
    return lora
