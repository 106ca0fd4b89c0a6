"""``lipe doctor``: is this machine ready to run LIPE, and if not, what to do about it.

Each check gives :class:`Finding` lines. A problem reads "what: fix"; ``error`` means the main job
(edit, train, demo) cannot work as installed, ``warning`` that a part of the app will not (captioning
without llama-cpp-python, the desktop without a Qt platform plugin). The same version check guards
every command that loads models (:func:`require_tested_stack`): an untested combination such as
transformers 5.24 with peft 0.21 once passed every import and died deep inside LoRA training, so
a mismatch with the lock is refused up front in one line instead.

Nothing here imports torch or Qt at module import: ``lipe doctor`` must work when they are broken.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import snapshot_download

from .errors import LipeError
from .library.library import default_data_dir
from .locations import MODEL_KEYS, SettingsStore, configured, sdxl_model

LOCK_NAME = "requirements-lock.txt"
# Packages the model stack is made of: a version other than the locked one is an error.
CORE = ("torch", "diffusers", "transformers", "peft", "accelerate", "safetensors", "huggingface-hub")
# Packages of optional parts: missing or other versions are warnings.
OPTIONAL = {
    "llama-cpp-python": "captioning with LLaVA and LLM-written prompts",
    "pyside6-essentials": "the desktop app",
}
ALLOW_UNTESTED_ENV = "LIPE_ALLOW_UNTESTED"
SEVERITIES = ("ok", "info", "warning", "error")


class EnvironmentProblem(LipeError):
    """The installed packages are not the tested ones, or cannot work together."""


@dataclass(frozen=True)
class Finding:
    severity: str  # one of SEVERITIES
    what: str
    fix: str = ""

    @property
    def is_problem(self) -> bool:
        return self.severity in ("warning", "error")

    def line(self) -> str:
        text = f"{self.what}: {self.fix}" if self.fix else self.what
        return f"{self.severity:<7} {text}"


def canonical(name: str) -> str:
    """PEP 503 name: ``PySide6_Essentials`` and ``pyside6-essentials`` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def base_version(version: str) -> str:
    """``2.13.0+cu128`` -> ``2.13.0``: a CUDA or CPU build of the locked torch is the locked torch."""
    return version.split("+", 1)[0]


def lock_path() -> Path | None:
    """The lock of tested versions beside this checkout (None for an install without it, e.g. a wheel)."""
    override = os.environ.get("LIPE_LOCK_FILE", "").strip()
    if override:
        return Path(override)
    path = Path(__file__).resolve().parent.parent / LOCK_NAME
    return path if path.is_file() else None


def read_lock(path: Path) -> dict[str, str]:
    """``name -> version`` for every ``name==version`` line of a pip-compile lock."""
    pins: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvironmentProblem(f"cannot read the lock file '{path}' ({exc})", "restore it with `git checkout`") from exc
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*([^\s;]+)", line)
        if match:
            pins[canonical(match.group(1))] = match.group(3)
    return pins


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _install_hint(lock: Path | None, name: str, version: str) -> str:
    constraint = f" -c {lock}" if lock is not None else ""
    return f"run `pip install{constraint} '{name}=={version}'` (or `make install` in the checkout)"


def check_versions(lock: Path | None = None, pins: dict[str, str] | None = None) -> list[Finding]:
    """The installed model stack and optional packages against the lock."""
    lock = lock if lock is not None else lock_path()
    if pins is None:
        if lock is None:
            return [Finding("info", f"no {LOCK_NAME} beside this install: package versions not compared "
                                    "with the tested set")]
        pins = read_lock(lock)
    findings = []
    for name in (*CORE, *OPTIONAL):
        want = pins.get(canonical(name))
        have = installed_version(name)
        part = OPTIONAL.get(name)
        if have is None:
            if part is None:
                findings.append(Finding("error", f"{name} is not installed",
                                        _install_hint(lock, name, want or "")))
            else:
                findings.append(Finding("warning", f"{name} is not installed ({part} will not work)",
                                        _install_hint(lock, name, want) if want else f"pip install {name}"))
        elif want is None:
            findings.append(Finding("info", f"{name} {have} (not in the lock)"))
        elif base_version(have) != base_version(want):
            severity = "warning" if part else "error"
            findings.append(Finding(severity, f"{name} {have} is installed but LIPE is tested with {want}",
                                    _install_hint(lock, name, want)))
        else:
            findings.append(Finding("ok", f"{name} {have}"))
    named = {canonical(n) for n in (*CORE, *OPTIONAL)}
    others = [m for m in lock_mismatches(pins) if m.split()[0] not in named]
    if others:
        findings.append(Finding("warning", f"{len(others)} other package(s) differ from the lock: "
                                           + ", ".join(others[:5]) + (" ..." if len(others) > 5 else ""),
                                "reinstall with `make install` (or pip install -c requirements-lock.txt ...)"))
    return findings


def lock_mismatches(pins: dict[str, str] | None = None) -> list[str]:
    """Every installed package the lock names but at another version ("name have (lock want)")."""
    if pins is None:
        lock = lock_path()
        if lock is None:
            return []
        pins = read_lock(lock)
    wrong = []
    for dist in metadata.distributions():
        name = canonical(dist.metadata["Name"] or "")
        if name in pins and base_version(dist.version) != base_version(pins[name]):
            wrong.append(f"{name} {dist.version} (lock {pins[name]})")
    return sorted(set(wrong))


def require_tested_stack() -> None:
    """Refuse, in one line, to run model code on an untested model stack (override: LIPE_ALLOW_UNTESTED=1)."""
    if os.environ.get(ALLOW_UNTESTED_ENV, "").strip() in ("1", "true", "yes"):
        return
    errors = [f for f in check_versions() if f.severity == "error"]
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more; `lipe doctor` lists them)" if len(errors) > 1 else ""
        raise EnvironmentProblem(f"{first.what}{more}",
                                 f"{first.fix}, or set {ALLOW_UNTESTED_ENV}=1 to try it anyway")


def check_python() -> list[Finding]:
    v = sys.version_info
    if v < (3, 10):
        return [Finding("error", f"Python {v.major}.{v.minor} is too old", "use Python 3.10 or newer")]
    return [Finding("ok", f"Python {v.major}.{v.minor}.{v.micro}")]


def check_device(device: str | None = None, precision: str | None = None) -> list[Finding]:
    """The device and dtype models will use, and free GPU memory."""
    try:  # the doctor's one deferred import: a broken torch is a finding here, not a crash at start
        import torch

        from .devices import pick_device, pick_dtype

        dev = pick_device(device)
        dtype = pick_dtype(dev, precision)
    except LipeError as exc:
        return [Finding("error", exc.what, exc.fix)]
    except Exception as exc:  # a broken torch install: say so instead of a traceback
        return [Finding("error", f"torch does not import ({type(exc).__name__}: {exc})",
                        "reinstall it with `make install` (or the installer)")]
    name = str(dtype).replace("torch.", "")
    if dev.type == "cuda":
        free, total = torch.cuda.mem_get_info(dev)
        gib = 1024 ** 3
        finding = Finding("ok", f"device {dev} ({torch.cuda.get_device_name(dev)}), {name}, "
                                f"{free / gib:.1f} of {total / gib:.1f} GiB free")
        if free < 8 * gib:
            return [finding, Finding("warning", f"only {free / gib:.1f} GiB of GPU memory free",
                                     "close other GPU programs; SDXL training needs the 12gb preset or more")]
        return [finding]
    note = "" if dev.type != "cpu" else " (no CUDA GPU found: SDXL-size edits and training will be very slow)"
    return [Finding("ok", f"device {dev}, {name}{note}")]


def _model_found(value: str) -> bool:
    path = Path(value).expanduser()
    if path.exists():
        return True
    if re.fullmatch(r"[\w.-]+/[\w.-]+", value):  # a hub id: is it in the local cache?
        try:
            snapshot_download(value, local_files_only=True)
            return True
        except Exception:
            return False
    return False


def check_models(lib: SettingsStore | None = None) -> list[Finding]:
    """Configured models (flag > library setting > environment > shipped default) found on disk or not."""
    findings = []
    try:
        sdxl = sdxl_model(None, lib)
    except LipeError as exc:
        return [Finding("error", exc.what, exc.fix)]
    chosen = configured("sdxl_model", None, lib)
    if not _model_found(sdxl):
        findings.append(Finding("error", f"SDXL model '{sdxl}' not found",
                                "fix the path, `hf download` the repo, or pick another in Settings"))
    elif chosen is None:
        findings.append(Finding("info", "SDXL model: the shipped toy-world demo model (none configured); "
                                        "real photos need SDXL: set it in Settings or $LIPE_SDXL_MODEL"))
    else:
        findings.append(Finding("ok", f"SDXL model {sdxl}"))
    for key in ("llava_gguf", "llava_mmproj", "llm_gguf"):
        value = configured(key, None, lib)
        if value is None:
            findings.append(Finding("info", f"{key}: not configured (set ${MODEL_KEYS[key]} or pick it in Settings)"))
        elif not Path(value).expanduser().is_file():
            findings.append(Finding("warning", f"{key} '{value}' not found", "fix the path in Settings"))
        else:
            findings.append(Finding("ok", f"{key} {value}"))
    return findings


def check_data_dir(data_dir: Path | None = None) -> list[Finding]:
    """The data folder (library, thumbnails, LoRAs, edits) exists or can be made, and is writable."""
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent  # the folder is made on first use: its nearest existing parent must be writable
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        return [Finding("error", f"data folder '{folder}' is not writable ({exc.strerror})",
                        "pass --data-dir or set $LIPE_DATA_DIR to a writable folder")]
    return [Finding("ok", f"data folder {folder}")]


def check_qt(timeout: float = 60.0) -> list[Finding]:
    """Can Qt start with this environment's platform plugin? Tried in a child process, so a Qt that
    aborts (a missing xcb library does) cannot take the caller down."""
    if installed_version("PySide6-Essentials") is None and installed_version("PySide6") is None:
        return []  # reported by check_versions
    code = ("from PySide6.QtWidgets import QApplication; app = QApplication(['lipe-doctor']); "
            "print(app.platformName())")
    env = dict(os.environ)
    headless = sys.platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    if headless and not env.get("QT_QPA_PLATFORM"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    try:
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                              timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [Finding("warning", f"Qt did not start ({exc})", "run `lipe-desktop --smoke` to see why")]
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1][:200]
        return [Finding("warning", f"Qt platform plugin does not load ({last})",
                        "install Qt's system libraries: `bash installers/linux/system-deps.sh`")]
    platform = proc.stdout.strip() or "?"
    if headless and not os.environ.get("QT_QPA_PLATFORM"):
        return [Finding("info", "no display: the desktop app needs one (Qt loads offscreen only)")]
    return [Finding("ok", f"Qt platform plugin '{platform}'")]


def run_checks(lib: SettingsStore | None = None, data_dir: Path | None = None, qt: bool = True,
               device: str | None = None, precision: str | None = None) -> list[Finding]:
    findings = [*check_python(), *check_versions()]
    findings += check_device(device, precision)
    findings += check_data_dir(data_dir)
    try:
        findings += check_models(lib)
    except Exception as exc:  # a broken model stack must not hide the rest of the report
        findings.append(Finding("error", f"model settings could not be read ({type(exc).__name__}: {exc})",
                                "run `lipe doctor` after fixing the errors above"))
    if qt:
        findings += check_qt()
    return findings


def exit_code(findings: Iterable[Finding]) -> int:
    """0 when the main job can run, 1 when something it needs is broken."""
    return 1 if any(f.severity == "error" for f in findings) else 0
