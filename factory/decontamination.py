"""Decontamination: records that share n-grams with the benchmark prompts a dataset will be evaluated on.

Why n-grams on the language plugin's tokens: a benchmark question copied into a dataset keeps
its word order, so a long run of shared tokens is the signature of contamination (GPT-3's
13-gram check, Llama 2's and most peers' work this way). Tokens come from
:meth:`factory.languages.Language.ngram_tokens_many`: lowercase words for English, Kiwi content
morphemes for Korean, so "조선을 건국한 왕은" and "조선이 건국한 왕이" share their n-grams through
the particles that differ.

Why an allow-list: instructions share templates ("Read the passage below and answer the
question", "Choose the correct answer from the options") with benchmark prompts, and a template
alone is not contamination. An n-gram that lies inside an allow-listed phrase does not count,
nor does one found in ``template_items`` or more benchmark items (a benchmark's own template,
found from the benchmark itself).

A record is contaminated by an item when the n-grams they share cover ``threshold`` of the
shorter of the two (a record that quotes a benchmark question, or a benchmark passage that quotes
the record). Items shorter than ``n`` tokens count as one n-gram of their own length when they
have at least ``min_item_tokens`` tokens.

Benchmarks are JSONL, JSON or parquet files, or folders of them (a dataset saved by ``datasets``:
``*.parquet``/``*.arrow`` files included); each row's prompt is the named fields, or by default every
field a benchmark commonly keeps its prompt in (:data:`PROMPT_FIELDS`) and the user turns of
``messages``. Measured precision on labelled pairs: docs/curation.md.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from factory.contracts import Requirement
from factory.errors import UserError

#: where benchmarks keep their prompts (joined in this order when several are present)
PROMPT_FIELDS = ("instruction", "prompt", "question", "query", "problem", "goal", "ctx", "context", "passage",
                 "sentence", "premise", "hypothesis", "input", "text")
DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".arrow")
PYARROW = Requirement(module="pyarrow", install="pip install 'koalpaca-factory[export]'",
                      why="reading parquet and arrow benchmark files")

Gram = tuple[str, ...]
#: tokens of the shared phrase a removed record reports (a quoted passage can be long)
PHRASE_TOKENS = 24


@dataclass(frozen=True)
class BenchmarkItem:
    """One benchmark prompt: the benchmark (file or folder name), the item's id (or ``line N``) and its text."""

    benchmark: str
    id: str
    text: str


@dataclass(frozen=True)
class Contamination:
    """The benchmark item a text overlaps, the share of n-grams shared, and one shared phrase."""

    item: BenchmarkItem
    score: float
    shared: int
    phrase: str

    def detail(self) -> str:
        return f"{self.item.benchmark}:{self.item.id} score={self.score:.2f} \"{self.phrase}\""

    def to_meta(self) -> dict[str, Any]:
        return {"benchmark": self.item.benchmark, "item": self.item.id, "score": round(self.score, 4),
                "shared_ngrams": self.shared, "phrase": self.phrase}


# -- reading benchmarks ------------------------------------------------------------------------
def benchmark_files(path: Path) -> list[Path]:
    """The data files a benchmark path stands for: the file, or every data file under the folder."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES
                       and not p.name.startswith(".") and p.name != "dataset_info.json" and p.name != "state.json")
        if not files:
            raise UserError(f"{path}: no benchmark files (.jsonl, .json, .parquet, .arrow) in this folder")
        return files
    if not path.is_file():
        raise UserError(f"{path}: benchmark file not found")
    if path.suffix.lower() not in DATA_SUFFIXES:
        raise UserError(f"{path}: a benchmark is a .jsonl, .json, .parquet or .arrow file, or a folder of them")
    return [path]


def needs_pyarrow(paths: Iterable[str | Path]) -> bool:
    for value in paths:
        path = Path(value)
        if path.is_dir() or path.suffix.lower() in (".parquet", ".arrow"):
            return True
    return False


def _rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, row)`` for each row of one data file."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".arrow"):
        try:
            import pyarrow.ipc
            import pyarrow.parquet
        except ImportError:
            raise UserError(PYARROW.problem() or "pyarrow is not installed") from None
        try:
            if suffix == ".parquet":
                table = pyarrow.parquet.read_table(path)
            else:
                with open(path, "rb") as handle:
                    try:
                        table = pyarrow.ipc.open_stream(handle).read_all()
                    except pyarrow.ArrowInvalid:
                        handle.seek(0)
                        table = pyarrow.ipc.open_file(handle).read_all()
        except (OSError, pyarrow.ArrowException) as exc:
            raise UserError(f"{path}: not a readable {suffix[1:]} file ({exc})") from None
        for index, row in enumerate(table.to_pylist()):
            yield f"row {index}", row
        return
    from factory.dedup import _array_records, _jsonl_records  # factory dedup's readers: the same line-exact errors

    data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    for record in _array_records(path, data) if data.lstrip()[:1] == b"[" else _jsonl_records(path, data):
        if not isinstance(record.data, dict):
            raise UserError(f"{path}:{record.line}: expected a JSON object")
        yield f"line {record.line}", record.data


def _prompt(row: dict[str, Any], fields: Sequence[str]) -> str | None:
    names = list(fields) or list(PROMPT_FIELDS)
    parts = [row[name] for name in names if isinstance(row.get(name), str) and row[name].strip()]
    if not fields:
        for key in ("messages", "conversations"):
            turns = row.get(key)
            if isinstance(turns, list):
                parts += [str(t.get("content") or t.get("value") or "") for t in turns if isinstance(t, dict)
                          and t.get("role", t.get("from")) in ("user", "human")]
    return "\n".join(parts) if parts else None


def load_benchmarks(paths: Sequence[str | Path], fields: Sequence[str] = ()) -> list[BenchmarkItem]:
    """Every prompt of every benchmark; a row without a prompt field is one error naming file and row."""
    items: list[BenchmarkItem] = []
    for value in paths:
        root = Path(value)
        name = root.name if root.is_dir() else root.stem
        for path in benchmark_files(root):
            for where, row in _rows(path):
                text = _prompt(row, fields)
                if text is None:
                    wanted = ", ".join(fields) if fields else "any of " + ", ".join(PROMPT_FIELDS) + " or messages"
                    raise UserError(f"{path}:{where.removeprefix('line ')}: no prompt field ({wanted}); name the "
                                    "field that holds the prompt (benchmark_fields / --benchmark-field)")
                item_id = row.get("id", row.get("idx", row.get("question_id")))
                label = str(item_id) if item_id not in (None, "") else where
                items.append(BenchmarkItem(name, label, text))
    if not items:
        raise UserError(f"{', '.join(map(str, paths))}: the benchmarks hold no rows")
    return items


def benchmark_digest(paths: Sequence[str | Path]) -> str:
    """A digest of the benchmark files' contents (not their paths): part of a run's identity."""
    digest = hashlib.sha256()
    for value in paths:
        root = Path(value)
        if not root.exists():
            digest.update(f"missing:{value}".encode())
            continue
        for path in benchmark_files(root):
            digest.update(path.name.encode() + b"\0")
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


# -- matching --------------------------------------------------------------------------------
def ngrams(tokens: Sequence[str], n: int, min_tokens: int) -> set[Gram]:
    """The n-grams of ``tokens``; a text shorter than ``n`` is one gram of its own when long enough."""
    if len(tokens) < n:
        return {tuple(tokens)} if len(tokens) >= min_tokens else set()
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


class BenchmarkIndex:
    """An inverted index from n-gram to benchmark items, with the allow-list and the benchmark's own templates."""

    def __init__(self, items: Sequence[BenchmarkItem], token_lists: Sequence[Sequence[str]], *, n: int = 8,
                 threshold: float = 0.5, min_item_tokens: int = 5, allowed: Iterable[Sequence[str]] = (),
                 template_items: int = 5):
        if n < 2:
            raise UserError(f"n must be at least 2, got {n}")
        self.items = list(items)
        self.n = n
        self.threshold = threshold
        self.min_item_tokens = min_item_tokens
        self.allowed: set[Gram] = set()
        for tokens in allowed:
            self.allowed |= ngrams(tokens, n, 1) if len(tokens) >= n else set()
        postings: dict[Gram, list[int]] = defaultdict(list)
        for index, tokens in enumerate(token_lists):
            for gram in ngrams(tokens, n, min_item_tokens):
                postings[gram].append(index)
        #: n-grams many items share: the benchmark's own template ("Which of the following is true about")
        self.templates = {gram for gram, found in postings.items() if template_items and len(found) >= template_items}
        self.postings = {gram: found for gram, found in postings.items()
                         if gram not in self.templates and gram not in self.allowed}
        self.sizes = [0] * len(self.items)
        for found in self.postings.values():
            for index in found:
                self.sizes[index] += 1

    def match(self, tokens: Sequence[str]) -> Contamination | None:
        """The item the text overlaps most, when the overlap reaches the threshold; None otherwise."""
        grams = {g for g in ngrams(tokens, self.n, self.min_item_tokens) if g not in self.allowed}
        if not grams:
            return None
        shared: dict[int, int] = defaultdict(int)
        for gram in grams:
            for index in self.postings.get(gram, ()):
                shared[index] += 1
        best: tuple[float, int, int] | None = None  # (score, -item index, shared): the first item wins ties
        for index, count in shared.items():
            score = count / max(1, min(len(grams), self.sizes[index]))
            if score >= self.threshold and (best is None or (score, -index) > best[:2]):
                best = (score, -index, count)
        if best is None:
            return None
        index = -best[1]
        return Contamination(self.items[index], min(1.0, best[0]), best[2], self._phrase(tokens, index))

    def _phrase(self, tokens: Sequence[str], index: int) -> str:
        """The longest run of the text's tokens covered by n-grams it shares with item ``index`` (what to show)."""
        if len(tokens) < self.n:
            return " ".join(tokens)
        hits = [index in self.postings.get(tuple(tokens[i:i + self.n]), ()) for i in range(len(tokens) - self.n + 1)]
        best_start, best_length, start = 0, 0, None
        for i, hit in enumerate(hits + [False]):
            if hit and start is None:
                start = i
            elif not hit and start is not None:
                if i - start > best_length:
                    best_start, best_length = start, i - start
                start = None
        run = tokens[best_start:best_start + best_length + self.n - 1]
        return " ".join(run[:PHRASE_TOKENS]) + (" ..." if len(run) > PHRASE_TOKENS else "")


def read_phrases(path: str | Path) -> list[str]:
    """An allow-list file: one phrase per line; blank lines and ``#`` comments are skipped."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: allow-list file not found")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def build_index(language: Any, benchmarks: Sequence[str | Path], *, fields: Sequence[str] = (), n: int = 8,
                threshold: float = 0.5, min_item_tokens: int = 5, allow: Sequence[str] = (),
                template_items: int = 5) -> BenchmarkIndex:
    """The index of ``benchmarks`` on ``language``'s n-gram tokens, with its allow-list phrases and templates."""
    items = load_benchmarks(benchmarks, fields)
    token_lists = language.ngram_tokens_many([item.text for item in items])
    phrases = [*getattr(language, "instruction_templates", ()), *allow]
    allowed = language.ngram_tokens_many(phrases) if phrases else []
    return BenchmarkIndex(items, token_lists, n=n, threshold=threshold, min_item_tokens=min_item_tokens,
                          allowed=allowed, template_items=template_items)


# -- on any file (``factory decontaminate``) ----------------------------------------------------
@dataclass(frozen=True)
class DecontaminationSummary:
    input_path: Path
    output_path: Path
    rejected_path: Path | None
    total: int
    kept: int
    items: int
    by_benchmark: dict[str, int]

    def message(self) -> str:
        found = ", ".join(f"{name}: {count}" for name, count in sorted(self.by_benchmark.items())) or "none"
        return (f"kept {self.kept} of {self.total} records; dropped {self.total - self.kept} that overlap one of "
                f"{self.items} benchmark prompts ({found}) -> {self.output_path}")


def decontaminate_file(in_path: str | Path, out_path: str | Path, language: Any, benchmarks: Sequence[str | Path], *,
                       fields: Sequence[str] = ("instruction",), benchmark_fields: Sequence[str] = (), n: int = 8,
                       threshold: float = 0.5, min_item_tokens: int = 5, allow: Sequence[str] = (),
                       template_items: int = 5, rejected_path: str | Path | None = None) -> DecontaminationSummary:
    """Drop the records of ``in_path`` whose ``fields`` overlap a benchmark prompt, like ``factory dedup`` does
    with near-duplicates: kept JSONL lines copied byte for byte, every output written atomically, and each
    dropped record (in ``rejected_path``) with ``contamination``: the benchmark item it matched."""
    from factory.dedup import _json_line, _kept_output, _write_atomically, read_records

    in_path, out_path = Path(in_path), Path(out_path)
    rejected = Path(rejected_path) if rejected_path is not None else None
    if rejected is not None and rejected.resolve() == out_path.resolve():
        raise UserError(f"{rejected}: --rejected must differ from the output file")
    if not fields:
        raise UserError("--field: name at least one field to compare")
    index = build_index(language, benchmarks, fields=benchmark_fields, n=n, threshold=threshold,
                        min_item_tokens=min_item_tokens, allow=allow, template_items=template_items)
    records = read_records(in_path, fields[0])
    texts = ["\n".join(str(r.data.get(f) or "") for f in fields if isinstance(r.data.get(f), str)) for r in records]
    matches = [index.match(tokens) for tokens in language.ngram_tokens_many(texts)]
    kept = [r for r, found in zip(records, matches) if found is None]
    outputs = [(out_path, _kept_output(out_path, kept))]
    if rejected is not None:
        outputs.append((rejected, [_json_line({**r.data, "contamination": found.to_meta()})
                                   for r, found in zip(records, matches) if found is not None]))
    _write_atomically(outputs)
    by_benchmark: dict[str, int] = defaultdict(int)
    for found in matches:
        if found is not None:
            by_benchmark[found.item.benchmark] += 1
    return DecontaminationSummary(in_path, out_path, rejected, len(records), len(kept), len(index.items),
                                  dict(by_benchmark))
