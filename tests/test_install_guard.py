"""factory_boy installed next to koalpaca-factory: the CLI and ``import factory`` stop with one line.

factory_boy's wheel installs ``factory/__init__.py``, ``factory/errors.py``...
into the same folder as ours. The test does what a user would: a throwaway
venv, our wheel (built here from a copy of the sources), then the real
factory_boy wheel from the package index, then the ``factory`` console script.
The venv gets no dependencies: the check runs before anything but the
standard library is imported, so it must work even there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FACTORY_BOY = "factory_boy==3.3.3"
#: .ci/setup downloads factory_boy's wheel here, so the test needs no network when it runs
WHEELHOUSE = Path(sys.prefix) / "wheelhouse"


def _pip(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _factory_boy_wheel() -> Path:
    found = sorted(WHEELHOUSE.glob("factory_boy-3.3.3-*.whl"))
    if not found:
        _pip("download", "--quiet", "--no-deps", "--only-binary=:all:", "-d", str(WHEELHOUSE), FACTORY_BOY)
        found = sorted(WHEELHOUSE.glob("factory_boy-3.3.3-*.whl"))
    return found[0]


def _core_wheel(tmp: Path) -> Path:
    """Our core wheel, built from a clean copy (no stale build/ folder, the seed links copied as files)."""
    source = tmp / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("factory", "koalpaca_factory"):
        shutil.copytree(REPO / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    _pip("wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(tmp / "wheels"), str(source))
    return next((tmp / "wheels").glob("koalpaca_factory-*.whl"))


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("guard")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp / "venv")], check=True, timeout=120)
    return {"python": tmp / "venv" / "bin" / "python", "factory": tmp / "venv" / "bin" / "factory",
            "core": _core_wheel(tmp), "factory_boy": _factory_boy_wheel()}


def _install(venv: dict[str, Path], *wheels: Path, force: bool = False) -> None:
    _pip("--python", str(venv["python"]), "install", "--quiet", "--no-deps", "--no-index",
         *(["--force-reinstall"] if force else []), *map(str, wheels))


def _cli(venv: dict[str, Path]) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv["factory"]), "--help"], capture_output=True, text=True, timeout=60, cwd=venv["python"].parent)


def _import_error(venv: dict[str, Path]) -> str:
    code = "try:\n    import factory\nexcept ImportError as exc:\n    print(exc)\nelse:\n    print('imported', factory.__file__)"
    result = subprocess.run([str(venv["python"]), "-c", code], capture_output=True, text=True, timeout=60,
                            cwd=venv["python"].parent)  # not the repository: `python -c` puts the cwd on sys.path
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _assert_one_line(stderr: str, *needles: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_factory_boy_next_to_the_core_is_one_line_that_says_how_to_fix_it(venv):
    _install(venv, venv["core"])
    site = next(venv["python"].parent.parent.glob("lib/python*/site-packages"))
    check = subprocess.run([str(venv["python"]), "-c", "from koalpaca_factory.guard import problem; print(problem())"],
                           capture_output=True, text=True, timeout=60, cwd=venv["python"].parent)
    assert check.stdout.strip() == "None", check.stdout + check.stderr  # our wheel alone is whole and ours

    # factory_boy after us: its __init__.py and errors.py replace ours, its other modules join them
    _install(venv, venv["factory_boy"])
    assert (site / "factory" / "fuzzy.py").is_file() and (site / "factory" / "recipe.py").is_file()
    result = _cli(venv)
    assert result.returncode == 2
    _assert_one_line(result.stderr, "error: ", "factory_boy 3.3.3", str(site / "factory"), "base.py",
                     "pipx install koalpaca-factory", "uv tool install koalpaca-factory", "separate venv")

    # us after factory_boy: our __init__.py is back, and `import factory` refuses in one line too
    _install(venv, venv["core"], force=True)
    message = _import_error(venv)
    assert "\n" not in message and "factory_boy 3.3.3" in message and "pipx install koalpaca-factory" in message
    _assert_one_line(_cli(venv).stderr, "factory_boy 3.3.3")

    # uninstalling factory_boy deletes the files the two shared: the CLI says so and how to repair
    _pip("--python", str(venv["python"]), "uninstall", "--quiet", "--yes", "factory_boy")
    assert not (site / "factory" / "__init__.py").exists()
    result = _cli(venv)
    assert result.returncode == 2
    _assert_one_line(result.stderr, "lacks files of koalpaca-factory", "__init__.py", "errors.py",
                     "pip install --force-reinstall koalpaca-factory")


def test_the_core_wheel_carries_the_english_seed_set(venv):
    import zipfile

    with zipfile.ZipFile(venv["core"]) as wheel:
        packaged = wheel.read("factory/default_plugins/seeds/en/seed_tasks.jsonl")
        assert "koalpaca_factory/guard.py" in wheel.namelist()
    assert packaged == (REPO / "seeds" / "en" / "seed_tasks.jsonl").read_bytes()
