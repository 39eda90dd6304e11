"""Corrupt or foreign inputs reach the user as one line naming the file and the fix, never a traceback;
a damaged cache is moved aside (not deleted) and the rerun goes on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from factory.testing.helpers import run_cli, write_seeds

ENV = {"FACTORY_PLUGIN_MODULES": "factory.testing.fake_teacher"}

RECIPE = """\
name: corrupt
language: en
batch_size: 2
method:
  seeds: {seeds}
  target: 6
teacher: {{plugin: fake, responder: self-instruct}}
export:
  enabled: false
"""


@pytest.fixture
def made(tmp_path) -> tuple[Path, Path]:
    """A finished small run (recipe, run folder) to damage; resuming it with a higher target reads everything."""
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(seeds=seeds))
    out = tmp_path / "run"
    result = run_cli("run", str(recipe), "--out", str(out), "--quiet", env=ENV)
    assert result.returncode == 0, result.stderr
    return recipe, out


def _edit_state(out: Path, **changes) -> None:
    state = json.loads((out / "state.json").read_text())
    (out / "state.json").write_text(json.dumps({**state, **changes}))


def _damage_journal(out: Path) -> None:
    data = (out / "accepted.jsonl").read_bytes()
    (out / "accepted.jsonl").write_bytes(data[:60] + b"\x00{{" + data[63:])  # same length: the offsets still match


def _truncate_cache(out: Path) -> None:
    path = out / "cache" / "teacher.sqlite"
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def _cache_is_a_folder(out: Path) -> None:
    for path in (out / "cache").glob("teacher.sqlite*"):
        path.unlink()
    (out / "cache" / "teacher.sqlite").mkdir()


#: case -> (damage, file named in the message, words of the fix, command: resume | report | seeds)
CASES = {
    "seed file not UTF-8": (lambda out: (out.parent / "seeds.jsonl").write_bytes(b"\xff\xfe{}\n"),
                            "seeds.jsonl", "re-encode", "seeds"),
    "state.json of the wrong shape": (lambda out: (out / "state.json").write_text("[1, 2]"),
                                      "state.json", "--restart", "resume"),
    "state.json field of the wrong type": (lambda out: _edit_state(out, accepted="many"),
                                           "state.json", "'accepted' must be an integer", "resume"),
    "state.json counters null": (lambda out: _edit_state(out, counters=None), "state.json", "--restart", "resume"),
    "state.json not UTF-8": (lambda out: (out / "state.json").write_bytes(b"\xff\xfe{}"),
                             "state.json", "--restart", "resume"),
    "corrupt SQLite cache": (lambda out: (out / "cache" / "teacher.sqlite").write_bytes(b"not a database " * 100),
                             "teacher.sqlite", "moved aside", "resume"),
    "truncated SQLite cache": (_truncate_cache, "teacher.sqlite", "moved aside", "resume"),
    "SQLite cache that is a folder": (_cache_is_a_folder, "teacher.sqlite", "moved aside", "resume"),
    "corrupted committed journal line": (_damage_journal, "accepted.jsonl:1", "restore the file", "resume"),
    "report on a garbage state.json": (lambda out: (out / "state.json").write_text("{\"batches_done\": "),
                                       "state.json", "--restart", "report"),
    "damaged spend ledger": (lambda out: (out / "ledger.sqlite").write_bytes(b"garbage " * 200),
                             "ledger.sqlite", "move it aside", "resume"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_corrupt_input_is_one_line_naming_the_file_and_the_fix(made, case, tmp_path):
    recipe, out = made
    damage, named, fix, command = CASES[case]
    damage(out)
    if command == "report":
        pytest.importorskip("matplotlib")
        args = ["report", str(out)]
    elif command == "seeds":
        args = ["run", str(recipe), "--out", str(tmp_path / "other"), "--quiet"]
    else:
        args = ["run", str(recipe), "--out", str(out), "--quiet", "--set", "method.target=40"]
    result = run_cli(*args, env=ENV)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0] and fix in lines[0]


@pytest.mark.parametrize("damage", [CASES["corrupt SQLite cache"][0], _truncate_cache, _cache_is_a_folder])
def test_a_damaged_cache_is_moved_aside_and_the_rerun_goes_on(made, damage):
    recipe, out = made
    damage(out)
    args = ["run", str(recipe), "--out", str(out), "--quiet", "--set", "method.target=40"]
    first = run_cli(*args, env=ENV)
    assert first.returncode == 2
    aside = [p for p in (out / "cache").iterdir() if ".corrupt-" in p.name and not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1 and aside[0].name in first.stderr  # kept, under the name the message gives
    assert not (out / "cache" / "teacher.sqlite").exists()
    second = run_cli(*args, env=ENV)
    assert second.returncode == 0, second.stderr
    assert json.loads((out / "state.json").read_text())["accepted"] >= 40
    assert aside[0].exists()


def test_a_damaged_ledger_is_left_where_it_is(made):
    recipe, out = made
    (out / "ledger.sqlite").write_bytes(b"garbage " * 200)
    before = os.listdir(out)
    result = run_cli("run", str(recipe), "--out", str(out), "--quiet", "--set", "method.target=40", env=ENV)
    assert result.returncode == 2 and "spend is then forgotten" in result.stderr
    assert os.listdir(out) == before and (out / "ledger.sqlite").read_bytes() == b"garbage " * 200
