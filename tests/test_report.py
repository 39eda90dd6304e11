"""``factory report``: a Korean run made here through the real CLI, escaping, exact similarity, verbs."""

from __future__ import annotations

import base64
import io
import json
import random
import re
from pathlib import Path

import pytest

from factory.errors import UserError
from factory.executors import Executor
from factory.plugins import get_plugin
from factory.report import build_report
from factory.report.rejections import funnel
from factory.report.rundata import load_run
from factory.report.sections import FIGURE_NAMES
from factory.report.similarity import nearest_in_pool, nearest_in_rest
from factory.report.verbs import verb_tree
from factory.similarity import rouge_l_f
from factory.testing.helpers import run_cli
from factory_openai.loopback import LoopbackOpenAI
from factory.testing.responders import self_instruct_responder
from factory.testing.sample_run import write_sample_run

REPO = Path(__file__).resolve().parents[1]
KO_SEEDS = REPO / "seeds" / "ko" / "seed_tasks.jsonl"
KO_LABELS = REPO / "plugins" / "ko" / "tests" / "data" / "ko_verb_object.jsonl"
EN_LABELS = Path(__file__).resolve().parent / "data" / "en_verb_object.jsonl"
HEADINGS = ("Overview", "Verbs and objects", "Similarity (ROUGE-L)", "Lengths", "Rejections", "Judge scores",
            "Cost and usage",
            "Random samples", "Most similar pairs kept")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

KO_RECIPE = """\
name: ko-report
language: ko
batch_size: 2
method:
  seeds: {seeds}
  target: 40
teacher:
  plugin: openai
  model: gpt-4o-mini
  api: completions
  base_url: {url}
  api_key_env: LOOPBACK_KEY
export:
  enabled: false
"""


@pytest.fixture(scope="module")
def korean_run(tmp_path_factory) -> Path:
    """A finished Korean self-instruct run: Korean seeds, the loopback teacher, the real ``factory run``."""
    folder = tmp_path_factory.mktemp("ko-run")
    with LoopbackOpenAI(self_instruct_responder, api_key="sk-loopback-report") as server:
        recipe = folder / "recipe.yaml"
        recipe.write_text(KO_RECIPE.format(seeds=KO_SEEDS, url=server.base_url), encoding="utf-8")
        done = run_cli("run", str(recipe), "--out", str(folder / "run"), "--quiet",
                       env={"LOOPBACK_KEY": "sk-loopback-report"})
    assert done.returncode == 0, done.stderr
    return folder / "run"


def _embedded_pngs(html: str) -> dict[str, bytes]:
    found = re.findall(r'<figure id="fig-([a-z-]+)"><img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    return {name: base64.b64decode(data, validate=True) for name, data in found}


def _png_size(png: bytes) -> tuple[int, int]:
    from matplotlib.image import imread

    assert png.startswith(PNG_SIGNATURE)
    pixels = imread(io.BytesIO(png), format="png")
    assert pixels.std() > 0.01  # not a blank canvas
    return pixels.shape[1], pixels.shape[0]


# -- the report of a Korean run ------------------------------------------------------------------
def test_report_of_a_korean_run_embeds_every_figure_and_section(korean_run, tmp_path):
    out = tmp_path / "site" / "report.html"
    done = run_cli("report", str(korean_run), "-o", str(out), "--samples", "5")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and str(out) in done.stdout
    html = out.read_text(encoding="utf-8")
    for heading in HEADINGS:
        assert f"<h2>{heading}</h2>" in html
    pngs = _embedded_pngs(html)
    assert sorted(pngs) == sorted(FIGURE_NAMES)
    for name, png in pngs.items():
        width, height = _png_size(png)
        assert width >= 600 and height >= 200
        assert (tmp_path / "site" / "report_files" / f"{name}.png").read_bytes() == png  # the files match the page
    # Self-contained: nothing is fetched when the page opens.
    assert not re.search(r'(src|href)="(?!data:|#)', html) and "<script" not in html and "<link" not in html
    # Numbers come from the run folder.
    accepted = sum(1 for line in (korean_run / "accepted.jsonl").read_text(encoding="utf-8").splitlines() if line)
    stats = json.loads((korean_run / "stats.json").read_text(encoding="utf-8"))
    assert f"<td>accepted records</td><td>{accepted:,}</td>" in html
    candidates = accepted + sum(stats["rejections"].values())
    assert f"produced {candidates:,} candidates and kept {accepted:,}" in html
    # The sunburst's verbs are Korean predicates in dictionary form, found in the instructions.
    verbs_section = html.split("<h2>Verbs and objects</h2>")[1].split("</section>")[0]
    verb_rows = re.findall(r"<tr><td>([^<]+)</td><td class=\"num\">[\d,]+</td>", verbs_section)
    assert verb_rows and all(re.fullmatch(r"[가-힣]+다", verb) for verb in verb_rows)
    assert "no installed font draws" not in html  # Hangul labels have a font (NanumGothic from the report extra)
    assert len(re.findall(r"<tr><td>gen-", html)) == 5  # --samples 5


def test_sample_tables_escape_markup_and_missing_seeds_are_skipped(tmp_path, monkeypatch):
    run = write_sample_run(tmp_path / "run")
    hostile = {"id": "ko-x1", "instruction": '<script>alert("x")</script> 다음 표를 & 요약하세요.',
               "input": "</td></tr><tr><td>injected", "output": "<b>굵게</b> & 'quoted'", "meta": {}}
    twin = {**hostile, "id": "ko-x2", "instruction": '<script>alert("x")</script> 다음 표를 요약하세요.'}
    with (run / "accepted.jsonl").open("a", encoding="utf-8") as handle:
        for row in (hostile, twin):
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    seeds = Path(json.loads((run / "stats.json").read_text("utf-8"))["provenance"]["seed_set"]["path"])
    seeds.unlink()  # the seed set moved away since the run
    result = build_report(run, tmp_path / "r.html", samples=50)
    html = result.html_path.read_text(encoding="utf-8")
    assert "<script" not in html
    assert "<b>" not in html
    assert "<td>injected" not in html  # the closing tags in the input did not open a cell of their own
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "&lt;/td&gt;&lt;/tr&gt;&lt;tr&gt;&lt;td&gt;injected" in html and "&lt;b&gt;굵게&lt;/b&gt; &amp; &#x27;quoted&#x27;" in html
    # The near-identical pair is the top "most similar" row.
    pairs = html.split('<h2>Most similar pairs kept</h2>')[1]
    first_row = re.search(r"<tr><td class=\"num\">([\d.]+)</td><td>([^<]+)</td>.*?<td>([^<]+)</td>", pairs)
    assert first_row and {first_row.group(2), first_row.group(3)} == {"ko-x1", "ko-x2"}
    assert any(f"seed set {seeds} not found" in note for note in result.notes)
    assert f"<li>seed set {seeds} not found" in html
    assert set(_embedded_pngs(html)) == set(FIGURE_NAMES)  # the seeds panel says why it is empty instead


def test_bad_run_folders_are_one_line_errors(tmp_path):
    missing = run_cli("report", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no such run folder" in missing.stderr
    (tmp_path / "empty").mkdir()
    not_run = run_cli("report", str(tmp_path / "empty"))
    assert not_run.returncode == 2 and "not a run folder" in not_run.stderr
    run = write_sample_run(tmp_path / "run")
    with (run / "accepted.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    corrupt = run_cli("report", str(run))
    assert corrupt.returncode == 2 and "accepted.jsonl:13: not valid JSON" in corrupt.stderr
    for done in (missing, not_run, corrupt):
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name, text, message", [
    ("rejected.jsonl", "{}\n[1, 2]\n", "rejected.jsonl:2: expected a JSON object"),
    ("stats.json", '{"recipe": "x",\n oops}\n', "stats.json:2: not valid JSON"),
    ("stats.json", "[1, 2]\n", "stats.json: expected a JSON object"),
    ("recipe.yaml", "name: x\nfilters: [a, b\nseed: 3\n", "recipe.yaml:3: not valid YAML"),
    ("recipe.yaml", "- a\n- b\n", "recipe.yaml: expected a YAML mapping"),
])
def test_corrupt_run_files_are_errors_naming_file_and_line(tmp_path, name, text, message):
    """The report reads run files with the core's readers, so their one-line errors are the same everywhere."""
    run = write_sample_run(tmp_path / "run")
    (run / name).write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as raised:
        load_run(run)
    assert str(raised.value).startswith(f"{run}/{message}") and "\n" not in str(raised.value)


def test_a_language_without_verb_extraction_gets_no_sunburst(tmp_path, monkeypatch):
    from factory.default_plugins.english import English

    def unsupported(self, texts):
        raise NotImplementedError

    monkeypatch.setattr(English, "verb_objects", unsupported)
    run = write_sample_run(tmp_path / "run", recipe={"language": "en", "method": {"seeds": None, "num_tasks": 20},
                                                     "teacher": {"responder": "self-instruct"}})
    stale = tmp_path / "r_files" / "verbs.png"
    stale.parent.mkdir()
    stale.write_bytes(PNG_SIGNATURE)  # left by an earlier report: must not survive
    result = build_report(run, tmp_path / "r.html")
    html = result.html_path.read_text(encoding="utf-8")
    assert "<h2>Verbs and objects</h2>" in html and "does not extract root verbs" in html
    assert set(_embedded_pngs(html)) == set(FIGURE_NAMES) - {"verbs"}
    assert not stale.exists() and set(result.figure_paths) == set(FIGURE_NAMES) - {"verbs"}


# -- the numbers behind the figures ---------------------------------------------------------------
def _random_items(rng: random.Random, count: int, vocabulary: int) -> list[list[str]]:
    words = [f"w{i}" for i in range(vocabulary)]
    return [[rng.choice(words) for _ in range(rng.randint(0, 14))] for _ in range(count)]


class _Blocks(Executor):
    """Cuts the scan into ``parts`` blocks and runs them here, one after the other."""

    def __init__(self, parts: int):
        super().__init__()
        self.parts = parts
        self.calls: list[tuple[int, int]] = []

    def parallelism(self) -> int:
        return self.parts

    def map_calls(self, function, calls):
        self.calls += [(start, stop) for _, start, stop in calls]
        return super().map_calls(function, calls)


@pytest.mark.parametrize("parts", [1, 2, 5])
@pytest.mark.parametrize("dense", [False, True])
def test_max_rouge_l_against_the_rest_equals_brute_force(dense, parts, monkeypatch):
    if dense:  # make common keys dense rows, as they become at 52K
        monkeypatch.setattr("factory.report.overlaps.DENSE_MIN", 3)
        monkeypatch.setattr("factory.report.overlaps.DENSE_SHARE", 4)
    monkeypatch.setattr("factory.report.similarity.PARALLEL_MIN_RECORDS", 1)
    rng = random.Random(11 + dense)
    for vocabulary in (3, 8, 30):
        items = _random_items(rng, 120, vocabulary)
        blocks = _Blocks(parts)
        got = nearest_in_rest(items, blocks)
        if parts > 1:  # consecutive blocks covering every record, the later ones shorter (a record costs ~j)
            assert [start for start, _ in blocks.calls] == [0] + [stop for _, stop in blocks.calls[:-1]]
            assert blocks.calls[-1][1] == 120 and len(blocks.calls) == parts
            assert blocks.calls[0][1] > blocks.calls[-1][1] - blocks.calls[-1][0]
        for i, tokens in enumerate(items):
            scores = [(rouge_l_f(tokens, other), j) for j, other in enumerate(items) if j != i]
            best = max(score for score, _ in scores)
            assert got.scores[i] == best  # same float, not just close
            expected = min(j for score, j in scores if score == best) if best > 0 else None
            assert got.partners[i] == expected


def test_max_rouge_l_against_the_seeds_equals_brute_force():
    rng = random.Random(5)
    items, seeds = _random_items(rng, 200, 12), _random_items(rng, 15, 12)
    got = nearest_in_pool(items, seeds)
    for i, tokens in enumerate(items):
        scores = [rouge_l_f(seed, tokens) for seed in seeds]
        assert got.scores[i] == max(scores)
        assert got.partners[i] == (scores.index(max(scores)) if max(scores) > 0 else None)


def test_the_funnel_follows_the_filters_order():
    stats = {"stages": {"seed": {"seconds": 0.1}, "translate": {"accepted": 50, "rejected": 12}},
             "rejections": {"near_duplicate": 5, "too_short": 4, "protected_span_lost": 2, "odd_reason": 1}}
    made = funnel(stats, [], accepted=50)
    assert made.stage == "translate" and made.candidates == 62 and made.kept == 50
    assert [(s.reason, s.rejected, s.remaining) for s in made.steps] == [
        ("protected_span_lost", 2, 60), ("too_short", 4, 56), ("near_duplicate", 5, 51), ("odd_reason", 1, 50)]
    from_journal = funnel({}, [{"reason": "too_long"}, {"reason": "too_long"}], accepted=3)
    assert [(s.reason, s.rejected) for s in from_journal.steps] == [("too_long", 2)] and from_journal.candidates == 5


# -- verb/object extraction -------------------------------------------------------------------------
def _labelled(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_korean_verb_objects_match_the_labelled_instructions_and_feed_the_tree():
    rows = _labelled(KO_LABELS)
    ko = get_plugin("language", "ko")()
    got = ko.verb_objects([row["instruction"] for row in rows])
    expected = [(row["verb"], row["object"]) for row in rows]
    hits = sum(g == e for g, e in zip(got, expected))
    assert hits / len(rows) >= 0.95  # measured 78 of 80 (the ko plugin's docs)
    assert got[:3] == [("번역하다", "문장"), ("요약하다", "글"), ("고치다", "버그")]
    # The sunburst's tree from the extraction equals the tree from the labels, but for the misses.
    misses = len(rows) - hits
    tree, truth = verb_tree(got, top_verbs=50), verb_tree(expected, top_verbs=50)
    assert abs(tree.with_verb - truth.with_verb) <= misses
    counts = {b.verb: b.count for b in tree.branches}
    assert sum(abs(counts.get(b.verb, 0) - b.count) for b in truth.branches) <= 2 * misses


def test_english_verb_object_accuracy_on_the_labelled_sample():
    rows = _labelled(EN_LABELS)
    en = get_plugin("language", "en")()
    got = en.verb_objects([row["instruction"] for row in rows])
    by_split: dict[str, list[bool]] = {}
    for row, pair in zip(rows, got):
        by_split.setdefault(row["split"], []).append(pair == (row["verb"], row["object"]))
    assert sorted((s, len(h)) for s, h in by_split.items()) == [("fresh", 40), ("heldout", 30), ("tuning", 70)]
    accuracy = {split: sum(hits) / len(hits) for split, hits in by_split.items()}
    overall = sum(sum(h) for h in by_split.values()) / len(rows)
    # Measured (docs/report.md): tuning 69/70, heldout 30/30, fresh 38/40 (written after the rules were frozen).
    assert overall >= 0.97 and accuracy["fresh"] >= 0.95 and accuracy["tuning"] >= 0.98
    assert en.verb_objects(["Please give me three tips for sleeping well.", "What is the capital of Peru?",
                            "Come up with a name for a cat."]) == [("give", "tip"), (None, None),
                                                                   ("come up with", "name")]


def test_the_report_analyses_each_instruction_once_in_the_executors_workers(korean_run, tmp_path, monkeypatch):
    import factory.executors
    from factory.executors import LocalExecutor
    from factory.report import build_report
    from factory_ko.language import Korean

    plain = build_report(korean_run, tmp_path / "plain.html", samples=3)

    class Counting(LocalExecutor):
        calls: list[tuple[int, tuple[str, ...]]] = []

        def analyze_many(self, language, texts, methods=("tokenize_many",)):
            Counting.calls.append((len(texts), tuple(methods)))
            return super().analyze_many(language, texts, methods)

    def not_on_the_driver(self, texts):
        raise AssertionError("the driver analysed instructions again for their verbs and objects")

    # Every batch goes to the two worker processes (spawned: they import the real Korean plugin), and the
    # driver's own plugin refuses to extract verbs: the pairs must come from the workers' one pass.
    monkeypatch.setattr(factory.executors, "PARALLEL_MIN_TEXTS", 1)
    monkeypatch.setattr("factory.report.similarity.PARALLEL_MIN_RECORDS", 1)  # the scan in blocks, in the workers
    monkeypatch.setattr(Korean, "verb_objects", not_on_the_driver)
    routed = build_report(korean_run, tmp_path / "routed.html", samples=3, executor=Counting(workers=2))
    accepted = sum(1 for line in (korean_run / "accepted.jsonl").read_text(encoding="utf-8").splitlines() if line)
    seeds = sum(1 for line in load_run(korean_run).seeds_path.read_text(encoding="utf-8").splitlines() if line)
    # tokens and pairs of the records and the seeds: one pass, all of it in the workers
    assert seeds and Counting.calls == [(accepted + seeds, ("tokenize_many", "verb_objects"))]
    monkeypatch.undo()

    def page(path: Path) -> str:  # the page, less the minute it was written
        return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "WHEN", path.read_text(encoding="utf-8"))

    assert page(routed.html_path) == page(plain.html_path) and "WHEN" in page(plain.html_path)
    done = run_cli("report", str(korean_run), "-o", str(tmp_path / "cli.html"), "--samples", "3",
                   "--executor", "local", "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert page(tmp_path / "cli.html") == page(plain.html_path)
