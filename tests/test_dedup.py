"""``factory dedup``: greedy like Alpaca, byte-identical output, clean errors with no partial files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rouge_score import rouge_scorer, tokenize

from factory.cli import main
from factory.dedup import dedup_file
from factory.default_plugins.english import English
from factory.errors import UserError

INSTRUCTIONS = [
    "Write a short poem about the sea.",
    "Explain photosynthesis to a ten-year-old.",
    "Write a short poem about the ocean.",           # near-duplicate of line 1
    "List five tips for saving money on groceries.",
    "Explain photosynthesis to a ten year old!",     # same tokens as line 2
    "Translate this sentence into French.",
    "List five tips for saving money on groceries",  # same tokens as line 4
    "Describe the water cycle in three sentences.",
]


def reference_greedy(texts: list[str], threshold: float, against: list[str] = ()) -> list[tuple[bool, float, int | None]]:
    """Alpaca's filter with rouge_score itself: (kept, max F, index into against+kept pool order)."""
    pool = [tokenize.tokenize(t, None) for t in against]
    owners: list[int | None] = [None] * len(pool)  # None: an against record
    out = []
    for i, text in enumerate(texts):
        tokens = tokenize.tokenize(text, None)
        best, where = 0.0, None
        for j, other in enumerate(pool):
            score = rouge_scorer._score_lcs(tokens, other).fmeasure
            if score > best:
                best, where = score, j
        kept = not best > threshold
        out.append((kept, best, where))
        if kept:
            pool.append(tokens)
            owners.append(i)
    return out


def write_jsonl_lines(path: Path, lines: list[str]) -> None:
    path.write_bytes("".join(line + "\n" for line in lines).encode("utf-8"))


def varied_lines(texts: list[str]) -> list[str]:
    """JSONL lines in several styles (key order, spacing, escapes) that a rewrite would normalize."""
    lines = []
    for i, text in enumerate(texts):
        record = {"instruction": text, "input": "", "output": f"answer {i} — café"}
        if i % 3 == 0:
            lines.append(json.dumps(record))  # \u escapes
        elif i % 3 == 1:
            lines.append(json.dumps(dict(reversed(list(record.items()))), ensure_ascii=False))
        else:
            lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "   ")
    return lines


def test_kept_lines_are_byte_identical_and_in_order(tmp_path):
    src, out, rej = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "rej.jsonl"
    lines = varied_lines(INSTRUCTIONS)
    write_jsonl_lines(src, lines)
    summary = dedup_file(src, out, English(), rejected_path=rej)

    expected = reference_greedy(INSTRUCTIONS, 0.7)
    kept_lines = [line for line, (kept, _, _) in zip(lines, expected) if kept]
    assert out.read_bytes() == "".join(line + "\n" for line in kept_lines).encode("utf-8")
    assert (summary.total, summary.kept, summary.rejected) == (len(lines), len(kept_lines), len(lines) - len(kept_lines))
    # The fixture really contains near-duplicates and distinct tasks.
    assert 0 < summary.rejected < summary.total
    assert [k for k, _, _ in expected][:3] == [True, True, False]


def test_rejected_lines_carry_score_and_most_similar_line(tmp_path):
    src, out, rej = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "rej.jsonl"
    lines = varied_lines(INSTRUCTIONS)
    write_jsonl_lines(src, lines)
    dedup_file(src, out, English(), rejected_path=rej)

    expected = reference_greedy(INSTRUCTIONS, 0.7)
    kept_indexes = [i for i, (k, _, _) in enumerate(expected) if k]
    rejected = [json.loads(line) for line in rej.read_text(encoding="utf-8").splitlines()]
    dropped = [(i, e) for i, e in enumerate(expected) if not e[0]]
    assert len(rejected) == len(dropped)
    for record, (i, (_, score, where)) in zip(rejected, dropped):
        original = json.loads(lines[i])
        assert {k: v for k, v in record.items() if k not in ("max_rouge_l", "most_similar")} == original
        assert record["max_rouge_l"] == score > 0.7
        assert record["most_similar"] == f"line {kept_indexes[where] + 1}"


def test_ids_name_the_most_similar_record_and_against_is_compared_not_written(tmp_path):
    src, seeds, out, rej = (tmp_path / n for n in ("in.jsonl", "seeds.jsonl", "out.jsonl", "rej.jsonl"))
    seed_texts = ["Write a short poem about the sea.", "Give three synonyms for happy."]
    write_jsonl_lines(seeds, [
        json.dumps({"id": "seed_task_0", "instruction": seed_texts[0], "instances": [{"input": "", "output": "x"}]}),
        json.dumps({"instruction": seed_texts[1]}),  # no id: named by file and line
    ])
    texts = ["Write a short poem about the ocean.", "Give 3 synonyms for happy.", "Name the largest planet.",
             "Name the largest planet!"]
    write_jsonl_lines(src, [json.dumps({"id": f"r{i}", "instruction": t}) for i, t in enumerate(texts)])
    summary = dedup_file(src, out, English(), against=seeds, rejected_path=rej)

    expected = reference_greedy(texts, 0.7, against=seed_texts)
    assert [k for k, _, _ in expected] == [False, False, True, False]
    assert summary.against == 2
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["r2"]
    rejected = {r["id"]: r for r in map(json.loads, rej.read_text().splitlines())}
    assert rejected["r0"]["most_similar"] == "seed_task_0"
    assert rejected["r1"]["most_similar"] == "seeds.jsonl line 2"
    assert rejected["r3"]["most_similar"] == "r2"
    assert [rejected[f"r{i}"]["max_rouge_l"] for i in (0, 1, 3)] == [expected[i][1] for i in (0, 1, 3)]


def test_threshold_boundary_is_decided_by_rouge_score_floats(tmp_path):
    """Both pairs have real F = 7/10; rouge_score's float is 0.7 for one and 0.7000000000000001 for the other."""
    base = "alpha bravo charlie delta echo foxtrot golf"
    texts = [
        f"{base} hotel india juliet",         # 10 tokens
        f"{base} kilo lima mike",             # 10 tokens, LCS 7 with the first: F = 0.7 exactly -> kept
        f"{base} november oscar papa quebec",  # 11 tokens vs 9-token candidate below
    ]
    candidate = f"{base} romeo sierra"        # 9 tokens: vs line 3 F = 2*7/20 but float 0.7000000000000001
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    all_texts = texts + [candidate]
    write_jsonl_lines(src, [json.dumps({"instruction": t}) for t in all_texts])
    dedup_file(src, out, English())
    expected = reference_greedy(all_texts, 0.7)
    kept = [json.loads(line)["instruction"] for line in out.read_text().splitlines()]
    assert kept == [t for t, (k, _, _) in zip(all_texts, expected) if k]
    assert expected[1][0] is True and expected[3][0] is False  # the boundary really splits


def test_json_array_input_and_json_output(tmp_path):
    src, out, rej = tmp_path / "alpaca_data.json", tmp_path / "out.json", tmp_path / "rej.jsonl"
    records = [{"instruction": t, "input": "", "output": "o"} for t in INSTRUCTIONS]
    src.write_text(json.dumps(records, indent=4, ensure_ascii=False), encoding="utf-8")
    dedup_file(src, out, English(), rejected_path=rej)
    expected = reference_greedy(INSTRUCTIONS, 0.7)
    assert json.loads(out.read_text(encoding="utf-8")) == [r for r, (k, _, _) in zip(records, expected) if k]
    # Items are named by the line they start on in the array file (indent=4: 5 lines per item, "[" first).
    first_drop = next(i for i, (k, _, _) in enumerate(expected) if not k)
    kept_indexes = [i for i, (k, _, _) in enumerate(expected) if k]
    similar_item = kept_indexes[expected[first_drop][2]]
    first_rejected = json.loads(rej.read_text().splitlines()[0])
    lines = src.read_text().splitlines()
    named_line = int(first_rejected["most_similar"].removeprefix("line "))
    assert lines[named_line - 1].strip() == "{" and INSTRUCTIONS[similar_item] in lines[named_line]


def test_uses_the_language_batch_tokenizer(tmp_path):
    class BatchOnly(English):
        calls: list[int] = []

        def tokenize(self, text):
            raise AssertionError("dedup must tokenize in batches")

        def tokenize_many(self, texts):
            type(self).calls.append(len(texts))
            return [English.tokenize(self, t) for t in texts]

    src, seeds, out = tmp_path / "in.jsonl", tmp_path / "seeds.jsonl", tmp_path / "out.jsonl"
    write_jsonl_lines(src, [json.dumps({"instruction": t}) for t in INSTRUCTIONS])
    write_jsonl_lines(seeds, [json.dumps({"instruction": "Write a haiku."})])
    dedup_file(src, out, BatchOnly(), against=seeds)
    assert sorted(BatchOnly.calls) == [1, len(INSTRUCTIONS)]


BAD_INPUTS = [
    ('{"instruction": "ok"}\n{"instruction": "broken"\n', 2, "not valid JSON"),
    ('{"instruction": "ok"}\n\n{"output": "no instruction"}\n', 3, "missing field 'instruction'"),
    ('{"instruction": 42}\n', 1, "field 'instruction' must be a string, got a number"),
    ('{"instruction": null}\n', 1, "field 'instruction' must be a string, got null"),
    ('{"instruction": "ok"}\n["a list"]\n', 2, "expected a JSON object, got an array"),
    ('[\n  {"instruction": "ok"},\n  {"input": "x"}\n]\n', 3, "missing field 'instruction'"),
    ('[\n  {"instruction": "ok"},\n  {"instruction": "x",}\n]\n', 3, "not valid JSON"),
    ('[\n  {"instruction": "ok"}\n  {"instruction": "x"}\n]\n', 3, "expected ',' or ']'"),
]


@pytest.mark.parametrize("content,line,message", BAD_INPUTS)
def test_bad_input_names_file_and_line_and_writes_nothing(tmp_path, content, line, message):
    src, out, rej = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "rej.jsonl"
    src.write_text(content, encoding="utf-8")
    with pytest.raises(UserError) as info:
        dedup_file(src, out, English(), rejected_path=rej)
    assert str(info.value).startswith(f"{src}:{line}: ")
    assert message in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_invalid_utf8_and_bad_against_file(tmp_path):
    src, seeds, out = tmp_path / "in.jsonl", tmp_path / "seeds.jsonl", tmp_path / "out.jsonl"
    src.write_bytes(b'{"instruction": "ok"}\n{"instruction": "caf\xe9"}\n')
    with pytest.raises(UserError, match=rf"^{src}:2: not valid UTF-8"):
        dedup_file(src, out, English())
    write_jsonl_lines(src, [json.dumps({"instruction": "fine"})])
    write_jsonl_lines(seeds, [json.dumps({"instruction": "a"}), json.dumps({"prompt": "b"})])
    with pytest.raises(UserError, match=rf"^{seeds}:2: missing field 'instruction'"):
        dedup_file(src, out, English(), against=seeds)
    assert not out.exists()


def test_an_existing_output_survives_a_failed_run(tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    out.write_bytes(b"previous result\n")
    src.write_text('{"instruction": "fine"}\n{"instruction": "a", "input": }\n', encoding="utf-8")
    with pytest.raises(UserError):
        dedup_file(src, out, English())
    assert out.read_bytes() == b"previous result\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]


def test_a_failure_while_writing_leaves_neither_output(tmp_path):
    """OUT is staged first; when REJECTED cannot be written, OUT must not appear either."""
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl_lines(src, [json.dumps({"instruction": t}) for t in INSTRUCTIONS])
    (tmp_path / "a_file").write_text("not a directory")
    rej = tmp_path / "a_file" / "rej.jsonl"
    with pytest.raises(UserError, match=rf"^{rej}: cannot write"):
        dedup_file(src, out, English(), rejected_path=rej)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "in.jsonl"]


def test_other_field_and_missing_file(tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl_lines(src, [json.dumps({"instruction": f"task {i}", "output": o})
                            for i, o in enumerate(["The sky is blue.", "The sky is blue!", "Grass is green."])])
    summary = dedup_file(src, out, English(), field="output")
    assert [json.loads(x)["output"] for x in out.read_text().splitlines()] == ["The sky is blue.", "Grass is green."]
    assert summary.field == "output"
    with pytest.raises(UserError, match="file not found"):
        dedup_file(tmp_path / "nope.jsonl", out, English())


# -- through the CLI ------------------------------------------------------------
def test_cli_dedup_end_to_end(tmp_path, capsys):
    src, out, rej = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "rej.jsonl"
    lines = varied_lines(INSTRUCTIONS)
    write_jsonl_lines(src, lines)
    main(["dedup", str(src), "-o", str(out), "--language", "en", "--threshold", "0.7", "--rejected", str(rej)])
    expected = reference_greedy(INSTRUCTIONS, 0.7)
    assert out.read_text(encoding="utf-8").splitlines() == [l for l, (k, _, _) in zip(lines, expected) if k]
    assert f"kept {sum(k for k, _, _ in expected)} of {len(lines)} records" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--language", "xx"], "no language plugin named 'xx' is installed (installed: "),
    (["--language", "en"], "in.jsonl:2: not valid JSON"),
])
def test_cli_errors_exit_2_with_one_line_and_no_output(tmp_path, capsys, args, message):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text('{"instruction": "fine"}\nnot json\n', encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["dedup", str(src), "-o", str(out), *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_rejects_threshold_out_of_range(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    write_jsonl_lines(src, [json.dumps({"instruction": "x"})])
    with pytest.raises(SystemExit) as info:
        main(["dedup", str(src), "-o", str(tmp_path / "o.jsonl"), "--language", "en", "--threshold", "1.5"])
    assert info.value.code == 2
    assert "threshold" in capsys.readouterr().err.lower()
