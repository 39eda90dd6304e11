from __future__ import annotations

from pathlib import Path

import click


@click.command("decontaminate")
@click.argument("in_path", metavar="IN", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--output", "out_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Kept records (JSONL lines copied unchanged; a JSON array if it ends in .json).")
@click.option("--language", "language_code", required=True, metavar="LANG",
              help="Language plugin whose tokens make the n-grams (en: words, ko: content morphemes).")
@click.option("--benchmark", "benchmarks", required=True, multiple=True, type=click.Path(path_type=Path),
              help="A benchmark's prompts: a JSONL, JSON, parquet or arrow file, or a folder of them (repeatable).")
@click.option("--field", "fields", multiple=True, default=("instruction", "input"), show_default=True,
              help="Record fields compared, joined (repeatable; the first must be in every record).")
@click.option("--benchmark-field", "benchmark_fields", multiple=True,
              help="Benchmark fields holding the prompt (repeatable); default: prompt, question, instruction, ...")
@click.option("-n", "--ngram", "n", type=click.IntRange(2, 50), default=8, show_default=True,
              help="N-gram length in the language's tokens.")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.5, show_default=True,
              help="Share of the shorter text's n-grams shared with one benchmark item.")
@click.option("--allow", "allow", multiple=True, help="A shared instruction template that is not contamination (repeatable).")
@click.option("--allow-file", "allow_file", type=click.Path(path_type=Path, dir_okay=False),
              help="A file of such templates, one per line.")
@click.option("--template-items", type=click.IntRange(0), default=5, show_default=True,
              help="An n-gram in this many benchmark items is the benchmark's own template (0: off).")
@click.option("--rejected", "rejected_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Write dropped records here, each with the benchmark item it matched.")
def decontaminate_command(in_path: Path, out_path: Path, language_code: str, benchmarks: tuple[Path, ...],
                          fields: tuple[str, ...], benchmark_fields: tuple[str, ...], n: int, threshold: float,
                          allow: tuple[str, ...], allow_file: Path | None, template_items: int,
                          rejected_path: Path | None) -> None:
    """Drop records that share n-grams with benchmark prompts (decontamination), in input order."""
    from factory.decontamination import decontaminate_file, read_phrases
    from factory.plugins import get_plugin

    phrases = [*allow, *(read_phrases(allow_file) if allow_file else [])]
    language = get_plugin("language", language_code)()
    summary = decontaminate_file(in_path, out_path, language, list(benchmarks), fields=fields,
                                 benchmark_fields=benchmark_fields, n=n, threshold=threshold, allow=phrases,
                                 template_items=template_items, rejected_path=rejected_path)
    click.echo(summary.message())
