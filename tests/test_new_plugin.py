"""`factory new-plugin`: the scaffolded distributions install, register and pass their own tests unchanged."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from factory.testing.helpers import run_cli

#: kind -> NAME used for it (the language one gets --language, so its code differs from its NAME)
OTHER_KINDS = {
    "teacher": "acme-llm",
    "translator": "acme-mt",
    "trainer": "acme-trainer",
    "publisher": "acme-store",
    "method": "acme-evolve",
    "filter": "acme-check",
    "executor": "acme-pool",
    "language": "klingon",
}


def _path(site: Path) -> str:
    """``site`` first, then the folder of the core under test (the checkout, when it is not installed)."""
    import factory

    return os.pathsep.join([str(site), str(Path(factory.__file__).resolve().parents[1])])


def _run_generated_tests(site: Path, *test_dirs: Path) -> subprocess.CompletedProcess:
    """The generated tests, in a fresh interpreter that sees the plugins only through ``site``."""
    env = {**os.environ, "PYTHONPATH": _path(site), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "--import-mode=importlib",
         *map(str, test_dirs)],
        cwd=site.parent, env=env, capture_output=True, text=True, timeout=300,
    )


def _put_on_path(dist_dir: Path, site: Path) -> None:
    """Install ``dist_dir`` the way an installer would lay it out: the package plus a .dist-info.

    METADATA and entry_points.txt are written from the generated pyproject.toml, so
    this also checks that the pyproject declares the ``factory`` entry point.
    """
    project = tomllib.loads((dist_dir / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    name, version = project["name"], project["version"]
    entry_points = project["entry-points"]["factory"]
    package = next(p for p in dist_dir.iterdir() if p.is_dir() and (p / "__init__.py").is_file())
    (site / package.name).symlink_to(package, target_is_directory=True)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(
        "[factory]\n" + "".join(f"{key} = {value}\n" for key, value in entry_points.items()))


def test_language_scaffold_installs_passes_its_own_tests_and_is_listed(tmp_path):
    result = run_cli("new-plugin", "language", "xx", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    dist = tmp_path / "koalpaca-factory-xx"
    assert "pip install -e" in result.stdout and str(dist) in result.stdout
    assert sorted(p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file()) == [
        "README.md", "factory_xx/__init__.py", "factory_xx/language.py", "pyproject.toml", "tests/test_language.py",
    ]
    module = (dist / "factory_xx" / "language.py").read_text()
    assert 'code: ClassVar[str] = "xx"' in module and "class XxLanguage(LatinScriptLanguage)" in module
    project = tomllib.loads((dist / "pyproject.toml").read_text())["project"]
    assert project["name"] == "koalpaca-factory-xx" and project["dependencies"] == ["koalpaca-factory>=0.1.0,<0.2"]

    # a real install, offline, into a folder of its own (the shared venv is left alone)
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(site), "--no-deps",
         "--no-build-isolation", "--no-index", str(dist)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stderr
    assert (site / "factory_xx" / "language.py").is_file()

    tests = _run_generated_tests(site, dist / "tests")
    assert tests.returncode == 0, tests.stdout + tests.stderr
    passed = re.findall(r"^PASSED .*::(\w+)", tests.stdout, flags=re.MULTILINE)
    # the whole language conformance suite ran, plus the generated paraphrase test
    assert {"test_tokenizer_is_deterministic_and_non_trivial", "test_script_check", "test_prompt_wording_parses_back",
            "test_templates_render", "test_blacklist", "test_tokenizer_separates_paraphrases_from_other_tasks"} <= set(passed)
    assert "failed" not in tests.stdout.splitlines()[-1]

    listed = run_cli("plugins", "--json", env={"PYTHONPATH": _path(site)})
    assert listed.returncode == 0, listed.stderr
    assert {"name": "xx", "kind": "language", "distribution": "koalpaca-factory-xx", "version": "0.1.0"} in json.loads(listed.stdout)


def test_every_kind_scaffold_registers_and_passes_its_own_tests(tmp_path):
    dists = {}
    for kind, name in OTHER_KINDS.items():
        extra = ["--language", "tlh"] if kind == "language" else []
        result = run_cli("new-plugin", kind, name, "--dir", str(tmp_path), *extra)
        assert result.returncode == 0, result.stderr
        dists[kind] = tmp_path / f"koalpaca-factory-{name}"
    for dist in dists.values():
        assert not [p for p in dist.rglob("*") if p.is_file() and "{{" in p.read_text()], "unfilled placeholder"

    site = tmp_path / "site"
    site.mkdir()
    for dist in dists.values():
        _put_on_path(dist, site)
    tests = _run_generated_tests(site, *(dist / "tests" for dist in dists.values()))
    assert tests.returncode == 0, tests.stdout + tests.stderr
    for kind in dists:  # each kind's own test module ran its conformance suite
        passed = re.findall(rf"^PASSED \S*test_{kind}\.py::\w+Conformance::", tests.stdout, flags=re.MULTILINE)
        assert len(passed) >= 3, f"{kind}: {tests.stdout}"

    listed = {(e["kind"], e["name"]): e["distribution"]
              for e in json.loads(run_cli("plugins", "--json", env={"PYTHONPATH": _path(site)}).stdout)}
    for kind, name in OTHER_KINDS.items():
        registered = "tlh" if kind == "language" else name
        assert listed[(kind, registered)] == f"koalpaca-factory-{name}"


ENGLISH = "Summarize the following paragraph in two sentences."


def test_vietnamese_and_cyrillic_scaffolds_reject_english_and_pass_their_own_tests(tmp_path):
    """A Latin-script language's scaffold tells it from English by letters and function words; another
    script's by its letters. The generated tests run the conformance checks that prove both."""
    vietnamese = run_cli("new-plugin", "language", "vietnamese", "--language", "vi", "--dir", str(tmp_path))
    russian = run_cli("new-plugin", "language", "russian", "--language", "ru", "--script", "cyrillic",
                      "--dir", str(tmp_path))
    assert vietnamese.returncode == 0 and russian.returncode == 0, vietnamese.stderr + russian.stderr
    site = tmp_path / "site"
    site.mkdir()
    dists = [tmp_path / "koalpaca-factory-vietnamese", tmp_path / "koalpaca-factory-russian"]
    for dist in dists:
        _put_on_path(dist, site)

    check = subprocess.run(
        [sys.executable, "-c", "import sys\n"
         "from factory_vietnamese import VietnameseLanguage as V\nfrom factory_russian import RussianLanguage as R\n"
         "v, r = V(), R()\nfor text in sys.argv[1:]:\n    print(v.is_in_language(text), r.is_in_language(text))",
         ENGLISH, "Hãy viết một bài thơ ngắn về biển.", "Напишите короткое стихотворение о море.",
         "Tuliskan puisi pendek tentang laut."],
        env={**os.environ, "PYTHONPATH": _path(site)}, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    assert check.stdout.split("\n")[:4] == ["False False", "True False", "False True", "False False"]

    expected = {"test_script_check_rejects_english", "test_script_check_accepts_the_language_and_rejects_english",
                "test_tokenizer_separates_paraphrases_from_other_tasks"}
    for dist, more in ((dists[0], set()), (dists[1], {"test_script_check_of_a_non_latin_script_rejects_latin_text"})):
        tests = _run_generated_tests(site, dist / "tests")
        assert tests.returncode == 0, tests.stdout + tests.stderr
        passed = set(re.findall(r"^PASSED \S*::(\w+)$", tests.stdout, flags=re.MULTILINE))
        assert expected | more <= passed, tests.stdout


def test_every_script_and_every_known_latin_language_gets_a_scaffold_that_passes(tmp_path):
    from factory.commands.language_scaffold import LATIN, _samples, scripts

    made = [("latin", code) for code in _samples()["latin"]] + [(script, "zz") for script in scripts() if script != LATIN]
    site = tmp_path / "site"
    site.mkdir()
    for index, (script, code) in enumerate(made):
        name = f"lang{index}"
        result = run_cli("new-plugin", "language", name, "--language", f"{code}-x{index}" if code == "zz" else code,
                         "--script", script, "--dir", str(tmp_path))
        assert result.returncode == 0, result.stderr
        _put_on_path(tmp_path / f"koalpaca-factory-{name}", site)
    tests = _run_generated_tests(site, *(tmp_path / f"koalpaca-factory-lang{i}" / "tests" for i in range(len(made))))
    assert tests.returncode == 0, tests.stdout + tests.stderr
    rejected_english = re.findall(r"^PASSED \S*::test_script_check_rejects_english$", tests.stdout, flags=re.MULTILINE)
    assert len(rejected_english) == len(made)


@pytest.mark.parametrize("args,message", [
    (["language", "Bad Name"], "NAME 'Bad Name': use lowercase letters"),
    (["teacher", "9lives"], "NAME '9lives'"),
    (["teacher", "factory-acme"], "give the short name ('acme')"),
    (["teacher", "koalpaca-factory-acme"], "give the short name ('acme')"),
    (["trainer", "acme", "--script", "latin"], "--script applies to language plugins"),
    (["language", "xx", "--script", "klingon-glyphs"], "Invalid value for '--script'"),
    (["teacher", "a" * 41], "at most 40 characters"),
    (["trainer", "acme", "--language", "ja"], "--language applies to language and translator plugins"),
    (["language", "xx", "--language", "12"], "--language '12': expected a language code"),
    (["language", "long-name"], "NAME (the language code, unless --language is given) 'long-name'"),
])
def test_bad_names_and_options_are_one_line_user_errors(tmp_path, args, message):
    result = run_cli("new-plugin", *args, "--dir", str(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_existing_target_is_never_overwritten(tmp_path):
    (tmp_path / "koalpaca-factory-xx").mkdir()
    (tmp_path / "koalpaca-factory-xx" / "mine.txt").write_text("keep me")
    result = run_cli("new-plugin", "language", "xx", "--dir", str(tmp_path))
    assert result.returncode == 2
    assert "already exists" in result.stderr and "koalpaca-factory-xx" in result.stderr
    assert [p.name for p in (tmp_path / "koalpaca-factory-xx").iterdir()] == ["mine.txt"]
    missing = run_cli("new-plugin", "language", "xx", "--dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no such directory" in missing.stderr
