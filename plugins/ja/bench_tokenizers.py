"""Measure the two PyPI Japanese analyzers for the ``ja`` plugin: speed, install size, separation quality.

Candidates: SudachiPy + SudachiDict-core (split modes A and C) and fugashi
(MeCab) + unidic-lite. Both emit UniDic part-of-speech tags, so the plugin's
own token selection (``factory_ja.tokens``) runs unchanged on either, and the
comparison is between analyzers, not between rules.

* speed: 2,000 Japanese texts, analyzed one by one on one thread (the way
  the filter calls ``tokenize_many``), best of 3 runs after a warm-up, by the
  analyzer alone and with the mapping to the plugin's Morpheme tuples; the
  load time and the peak resident memory, each analyzer in a fresh process;
* install size: bytes of each distribution's installed files (its RECORD),
  and the size of the downloaded wheel/sdist when given with ``--downloads``;
* quality: the labelled pairs (tests/data/ja_pairs.jsonl) at ROUGE-L 0.7,
  every option combination, best and default rows per analyzer.

    python plugins/ja/bench_tokenizers.py [--downloads DIR]

needs both analyzers installed (``pip install sudachipy sudachidict-core fugashi unidic-lite``);
the plugin itself needs only Sudachi. Prints the markdown that docs/japanese.md quotes.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Callable, Sequence

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from factory.pairs_eval import best_row, evaluate_tokenizers, load_pairs  # noqa: E402
from factory_ja.analyzer import Morpheme, analyze, normalize_text  # noqa: E402
from factory_ja.evaluate import OPTION_NAMES, option_grid, options_name  # noqa: E402
from factory_ja.language import Japanese  # noqa: E402
from factory_ja.tokens import similarity_tokens  # noqa: E402

PAIRS = HERE / "tests" / "data" / "ja_pairs.jsonl"
CORPUS_SIZE = 2000
Analyzer = Callable[[str], list[Morpheme]]


# -- corpus -------------------------------------------------------------------------
def corpus(size: int = CORPUS_SIZE) -> list[str]:
    """``size`` Japanese texts: every distinct sentence of the ja seeds and pairs, then joins of two.

    The shipped Japanese text gives about 800 distinct sentences; the rest are
    two different sentences joined (a text no analyzer has cached), drawn with
    a fixed seed so every run measures the same texts.
    """
    texts: list[str] = []
    for line in (REPO / "seeds" / "ja" / "seed_tasks.jsonl").read_text(encoding="utf-8").splitlines():
        task = json.loads(line)
        texts.append(task["instruction"])
        for instance in task["instances"]:
            texts += [instance["input"], instance["output"]]
    for pair in load_pairs(PAIRS):
        texts += [pair.a, pair.b]
    sentences = []
    for text in texts:
        sentences += [s for s in re.split(r"(?<=[。！？\n])", text) if len(s.strip()) >= 4]
    sentences = list(dict.fromkeys(s.strip() for s in sentences))
    rng = random.Random(20240601)
    out = sentences[:size]
    seen = set(out)
    while len(out) < size:
        joined = "".join(rng.sample(sentences, 2))
        if joined not in seen:
            seen.add(joined)
            out.append(joined)
    return out


# -- analyzers -------------------------------------------------------------------------
def sudachi(mode: str) -> Analyzer:
    return lambda text: analyze(text, mode)


def fugashi_analyzer() -> Analyzer:
    """fugashi + unidic-lite, mapped onto the plugin's Morpheme (UniDic fields)."""
    import fugashi

    tagger = fugashi.Tagger()

    def run(text: str) -> list[Morpheme]:
        text = normalize_text(text)
        if not text.strip():
            return []
        out, pos = [], 0
        for word in tagger(text):
            f = word.feature
            start = text.find(word.surface, pos)
            pos = start + len(word.surface)
            lemma = f.lemma or word.surface
            # UniDic lemmas of loanwords carry their source: クエリー-query
            lemma = lemma.split("-")[0] if "-" in lemma[1:] else lemma
            out.append(Morpheme(word.surface, lemma, f.orthBase or word.surface,
                                (f.pos1, f.pos2, f.pos3, f.pos4, f.cType, f.cForm), start, pos))
        return out

    return run


def raw_sudachi(mode: str) -> Callable[[str], list[str]]:
    """Sudachi alone: surfaces only, no mapping (the analyzer's own speed)."""
    from factory_ja.analyzer import get_dictionary

    tokenizer = get_dictionary().tokenizer(mode=mode)
    return lambda text: [m.surface() for m in tokenizer.tokenize(text)]


def raw_fugashi() -> Callable[[str], list[str]]:
    import fugashi

    tagger = fugashi.Tagger()
    return lambda text: [word.surface for word in tagger(text)]


RAW: dict[str, Callable[[], Callable[[str], list[str]]]] = {
    "sudachi-A": lambda: raw_sudachi("A"),
    "sudachi-C": lambda: raw_sudachi("C"),
    "fugashi-unidic-lite": raw_fugashi,
}
ANALYZERS: dict[str, Callable[[], Analyzer]] = {
    "sudachi-A": lambda: sudachi("A"),
    "sudachi-C": lambda: sudachi("C"),
    "fugashi-unidic-lite": fugashi_analyzer,
}
DISTRIBUTIONS = {
    "sudachi": ("sudachipy", "sudachidict-core"),
    "fugashi": ("fugashi", "unidic-lite"),
}


# -- speed --------------------------------------------------------------------------------
def _time_in_fresh_process(name: str, texts_file: Path) -> dict:
    code = f"""
import json, resource, sys, time
sys.path.insert(0, {str(HERE)!r})
sys.argv = ['bench']
from bench_tokenizers import ANALYZERS, RAW
texts = json.load(open({str(texts_file)!r}, encoding='utf-8'))
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
run = ANALYZERS[{name!r}]()
run('辞書を読み込みます。')
load = time.perf_counter() - t0
raw = RAW[{name!r}]()

def best_of_3(fn):
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        count = sum(len(fn(t)) for t in texts)
        elapsed = time.perf_counter() - t0
        best = elapsed if best is None else min(best, elapsed)
    return best, count

seconds, morphemes = best_of_3(run)
raw_seconds, _ = best_of_3(raw)
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"load_s": load, "rss_mb": (rss1 - rss0) / 1024, "seconds": seconds, "raw_seconds": raw_seconds,
                  "morphemes": morphemes}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def speed_table(texts: Sequence[str], workdir: Path) -> str:
    texts_file = workdir / "ja_bench_texts.json"
    texts_file.write_text(json.dumps(list(texts), ensure_ascii=False), encoding="utf-8")
    chars = sum(len(t) for t in texts)
    lines = [f"{len(texts)} texts, {chars} characters, one thread, best of 3.\n",
             "| analyzer | load (s) | peak memory (MB) | analyzer alone (s) | with Morpheme mapping (s) | texts/s | morphemes |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name in ANALYZERS:
        r = _time_in_fresh_process(name, texts_file)
        lines.append(f"| {name} | {r['load_s']:.2f} | {r['rss_mb']:.0f} | {r['raw_seconds']:.3f} | {r['seconds']:.3f} | "
                     f"{len(texts) / r['seconds']:.0f} | {r['morphemes']} |")
    return "\n".join(lines)


# -- size ------------------------------------------------------------------------------------
def installed_bytes(distribution: str) -> int:
    dist = metadata.distribution(distribution)
    total = 0
    for file in dist.files or []:
        path = Path(dist.locate_file(file))
        if path.is_file():
            total += path.stat().st_size
    return total


def size_table(downloads: Path | None) -> str:
    lines = ["| analyzer | distributions | installed (MB) | download (MB) |", "|---|---|---:|---:|"]
    for name, dists in DISTRIBUTIONS.items():
        installed = sum(installed_bytes(d) for d in dists) / 1e6
        download = "n/a"
        if downloads is not None:
            wanted = {d.replace("-", "_") for d in dists}
            files = [f for f in downloads.iterdir()
                     if re.split(r"-\d", f.name, maxsplit=1)[0].lower().replace("-", "_") in wanted]
            download = f"{sum(f.stat().st_size for f in files) / 1e6:.1f}" if files else "n/a"
        versions = ", ".join(f"{d} {metadata.version(d)}" for d in dists)
        lines.append(f"| {name} | {versions} | {installed:.0f} | {download} |")
    return "\n".join(lines)


# -- quality ------------------------------------------------------------------------------------
def quality_rows(threshold: float = 0.7):
    pairs = load_pairs(PAIRS)
    texts = sorted({t for p in pairs for t in (p.a, p.b)})
    rows = []
    for name, make in ANALYZERS.items():
        run = make()
        analyzed = {t: run(t) for t in texts}
        candidates = []
        for options in option_grid():
            def tokenize_many(batch, _o=options):
                return [similarity_tokens(analyzed[t], **_o) for t in batch]
            candidates.append((f"{name}, {options_name(options)}", options, tokenize_many))
        rows.append((name, evaluate_tokenizers(pairs, candidates, threshold)))
    return pairs, rows


def quality_table(threshold: float = 0.7) -> str:
    _, per_analyzer = quality_rows(threshold)
    default = Japanese().options
    default = {k: default[k] for k in OPTION_NAMES}
    lines = ["| analyzer | row | TP | FP | FN | TN | F1 | near 0.7 |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, rows in per_analyzer:
        best = best_row(rows)
        chosen = next(r for r in rows if r.options == default)
        for label, row in (("best", best), ("plugin defaults", chosen)):
            c = row.confusion
            lines.append(f"| {name} | {label}: {row.name.split(', ', 1)[1]} | {c.tp} | {c.fp} | {c.fn} | {c.tn} | "
                         f"{c.f1:.3f} | {row.near_threshold} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--downloads", type=Path, help="folder with the downloaded wheels/sdists (pip download)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp"))
    args = parser.parse_args(argv)
    texts = corpus()
    print("## Speed\n")
    print(speed_table(texts, args.workdir))
    print("\n## Install size\n")
    print(size_table(args.downloads))
    print("\n## Separation quality (labelled pairs, ROUGE-L F > 0.7)\n")
    print(quality_table())


if __name__ == "__main__":
    main()
