"""``lipe doctor`` and the version guard on model commands: a simulated untested package is one line
"what: fix" (doctor exit 1, the command exit 2 before any work), the rest of the report still runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lipe_engine import doctor
from lipe_engine.cli import main

LOCK = """\
# a pip-compile lock
torch==2.13.0
    # via lipe-desktop (pyproject.toml)
transformers==5.23.0
peft==0.21.2
pyside6-essentials==6.12.0
llama-cpp-python==0.3.36
"""


@pytest.fixture
def fake_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "requirements-lock.txt"
    path.write_text(LOCK)
    monkeypatch.setenv("LIPE_LOCK_FILE", str(path))
    monkeypatch.delenv(doctor.ALLOW_UNTESTED_ENV, raising=False)
    return path


def _installed(versions: dict[str, str | None]):
    real = doctor.installed_version

    def version(name: str) -> str | None:
        return versions[name] if name in versions else real(name)

    return version


def test_read_lock_takes_pins_and_ignores_comments(fake_lock: Path) -> None:
    pins = doctor.read_lock(fake_lock)
    assert pins["torch"] == "2.13.0" and pins["pyside6-essentials"] == "6.12.0"
    assert len(pins) == 5


def test_a_cuda_build_of_the_locked_torch_is_the_locked_torch() -> None:
    pins = {"torch": "2.13.0"}
    findings = {f.what.split()[0]: f for f in doctor.check_versions(Path("x"), pins)}
    assert doctor.base_version("2.13.0+cu128") == "2.13.0"
    assert findings["torch"].severity == "ok"  # the venv has 2.13.0+cpu


def test_untested_transformers_is_an_error_naming_the_fix(fake_lock: Path, monkeypatch) -> None:
    monkeypatch.setattr(doctor, "installed_version", _installed({"transformers": "5.24.0"}))
    errors = [f for f in doctor.check_versions() if f.severity == "error"]
    assert len(errors) == 1
    line = errors[0].line()
    assert "transformers 5.24.0" in line and "5.23.0" in line and "pip install" in line and str(fake_lock) in line
    assert doctor.exit_code(errors) == 1


def test_missing_optional_package_is_a_warning_not_an_error(fake_lock: Path, monkeypatch) -> None:
    monkeypatch.setattr(doctor, "installed_version", _installed({"llama-cpp-python": None}))
    found = [f for f in doctor.check_versions() if "llama-cpp-python" in f.what]
    assert found[0].severity == "warning" and "captioning" in found[0].what and "0.3.36" in found[0].fix
    assert doctor.exit_code(found) == 0


def test_doctor_cli_reports_the_mismatch_in_one_line_and_exits_1(fake_lock: Path, monkeypatch, capsys,
                                                                 tmp_path: Path) -> None:
    monkeypatch.setattr(doctor, "installed_version", _installed({"peft": "0.20.0"}))
    rc = main(["doctor", "--no-qt", "--problems", "--data-dir", str(tmp_path / "data")])
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 1
    assert out[0].startswith("error") and "peft 0.20.0" in out[0] and "0.21.2" in out[0]
    assert out[-1] == "1 error(s), 0 warning(s)"
    assert not (tmp_path / "data").exists()  # doctor never creates a library


def test_doctor_cli_all_good_exits_0(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("LIPE_LOCK_FILE", raising=False)
    rc = main(["doctor", "--no-qt", "--data-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "device cpu" in out and "data folder" in out and "SDXL model" in out


def test_model_commands_refuse_an_untested_stack_before_any_work(fake_lock: Path, monkeypatch, capsys,
                                                                 tmp_path: Path) -> None:
    monkeypatch.setattr(doctor, "installed_version", _installed({"transformers": "5.24.0"}))
    rc = main(["demo", "--out", str(tmp_path / "demo")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "transformers 5.24.0" in err[0] and "LIPE_ALLOW_UNTESTED=1" in err[0]
    assert not (tmp_path / "demo").exists()
    # the override lets a user try anyway; library commands never need the model stack
    monkeypatch.setenv(doctor.ALLOW_UNTESTED_ENV, "1")
    doctor.require_tested_stack()
    monkeypatch.delenv(doctor.ALLOW_UNTESTED_ENV)
    assert main(["library", "folders", "--data-dir", str(tmp_path / "lib")]) == 0


def test_unwritable_data_folder_is_an_error(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    (finding,) = doctor.check_data_dir(a_file / "data")
    assert finding.severity == "error" and "not writable" in finding.what and "--data-dir" in finding.fix


def test_missing_configured_sdxl_model_is_an_error(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LIPE_SDXL_MODEL", str(tmp_path / "no-such-model"))
    found = doctor.check_models(None)
    assert found[0].severity == "error" and "no-such-model" in found[0].what


def test_qt_check_runs_qt_in_a_child(monkeypatch) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    (ok,) = doctor.check_qt()
    assert ok.severity == "ok" and "offscreen" in ok.what
    monkeypatch.setenv("QT_QPA_PLATFORM", "no-such-platform")
    (bad,) = doctor.check_qt()
    assert bad.severity == "warning" and "system-deps" in bad.fix


def test_broken_torch_is_reported_not_raised(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    (finding,) = doctor.check_device()
    assert finding.severity == "error" and "torch does not import" in finding.what


def test_captioning_without_llama_cpp_says_how_to_add_it(monkeypatch) -> None:
    from lipe_engine.errors import InputError
    from lipe_engine.prompts.llama import import_llama_cpp

    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(InputError) as info:
        import_llama_cpp()
    assert "llama-cpp-python is not installed" in str(info.value) and "make install" in str(info.value)
    assert "\n" not in str(info.value)
