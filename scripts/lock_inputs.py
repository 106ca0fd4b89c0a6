"""The fingerprint of what requirements-lock.txt is compiled from: pyproject.toml's dependencies and
extras, and lock-inputs.in. `make lock` writes it into the lock's header; tests/installers/test_lock.py
compares it with the files, so a dependency changed without `make lock` fails CI (other edits of
pyproject.toml, e.g. its tool settings, do not need a new lock)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "# lock inputs sha256: "


def fingerprint(root: Path = ROOT) -> str:
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    inputs = {
        "python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "extras": project.get("optional-dependencies", {}),
        "lock.in": (root / "lock-inputs.in").read_text(encoding="utf-8"),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def recorded(lock: Path = ROOT / "requirements-lock.txt") -> str | None:
    for line in lock.read_text(encoding="utf-8").splitlines():
        if line.startswith(PREFIX):
            return line[len(PREFIX):].strip()
    return None


if __name__ == "__main__":  # `python scripts/lock_inputs.py LOCK`: stamp the lock's header
    lock = Path(sys.argv[1])
    lines = [line for line in lock.read_text(encoding="utf-8").splitlines() if not line.startswith(PREFIX)]
    lock.write_text("\n".join([PREFIX + fingerprint(), *lines]) + "\n", encoding="utf-8")
