"""The environment the tests run in is the locked one: every installed package that the lock names has
the locked version, and the lock names every dependency (transitively) of every extra."""

from __future__ import annotations

import importlib.metadata as metadata
import os
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from lipe_engine import doctor

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / doctor.LOCK_NAME
PINS = doctor.read_lock(LOCK)

pytestmark = pytest.mark.skipif(os.environ.get(doctor.ALLOW_UNTESTED_ENV) == "1",
                                reason="make test-latest runs on purpose with unlocked versions")


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra]
    return reqs


def test_lock_pins_every_requirement_of_every_extra_within_its_bounds() -> None:
    for req in _requirements():
        name = doctor.canonical(req.name)
        assert name in PINS, f"{req.name} is not in the lock: run `make lock`"
        assert req.specifier.contains(doctor.base_version(PINS[name]), prereleases=True), (req, PINS[name])


def test_lock_was_compiled_from_the_current_dependencies() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("lock_inputs", ROOT / "scripts" / "lock_inputs.py")
    assert spec is not None and spec.loader is not None
    lock_inputs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lock_inputs)
    assert lock_inputs.recorded(LOCK) == lock_inputs.fingerprint(ROOT), (
        "pyproject.toml's dependencies or lock-inputs.in changed after the lock: run `make lock`")


def test_lock_has_no_index_urls_or_local_torch_build() -> None:
    text = LOCK.read_text()
    assert not re.search(r"^\s*--(extra-)?index-url|^\s*--find-links|file://", text, re.M)
    assert re.search(r"^torch==\d+\.\d+\.\d+$", text, re.M)  # no +cpu: a CUDA build satisfies it too


def test_installed_versions_are_the_locked_ones() -> None:
    wrong = doctor.lock_mismatches(PINS)
    assert not wrong, "not the locked versions: " + ", ".join(wrong)


def test_a_package_at_another_version_is_found(monkeypatch) -> None:
    pins = dict(PINS, tqdm="0.0.1")  # as if the lock asked for another tqdm than the one installed
    assert [m for m in doctor.lock_mismatches(pins) if m.startswith("tqdm ")] == [
        f"tqdm {metadata.version('tqdm')} (lock 0.0.1)"]
    (other,) = [f for f in doctor.check_versions(LOCK, pins) if "other package" in f.what]
    assert other.severity == "warning" and "tqdm" in other.what


def test_lock_is_closed_over_the_installed_packages_dependencies() -> None:
    """Each locked package that is installed has its own dependencies locked as well."""
    missing = set()
    for name in PINS:
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for raw in requires:
            req = Requirement(raw)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            if doctor.canonical(req.name) not in PINS:
                missing.add(f"{req.name} (needed by {name})")
    assert not missing, f"not in the lock: {sorted(missing)}"
