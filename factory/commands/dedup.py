from __future__ import annotations

from pathlib import Path

import click


@click.command("dedup")
@click.argument("in_path", metavar="IN", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--output", "out_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Kept records (JSONL lines copied unchanged; a JSON array if it ends in .json).")
@click.option("--language", "language_code", required=True, metavar="LANG",
              help="Language plugin whose tokenizer defines the ROUGE-L tokens (en, ko, ...).")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=0.7, show_default=True,
              help="Drop a record whose ROUGE-L F against a kept or --against record is above this.")
@click.option("--field", default="instruction", show_default=True, help="The record field compared.")
@click.option("--against", "against_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Records to compare with but not output (e.g. the seed tasks).")
@click.option("--rejected", "rejected_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Write dropped records here with max_rouge_l and most_similar.")
@click.option("--executor", "executor_name", metavar="NAME", default="local", show_default=True,
              help="Where the work runs: local, or ray (the pool sharded across actors; the same output).")
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="Worker processes (local) or shard/analyser actors (ray).")
@click.option("--blocking", type=click.Choice(["none", "minhash"]), default="none", show_default=True,
              help="minhash: compare each record only with MinHash-LSH candidates (10M+ records; approximate, "
                   "its recall against the exact filter is measured on a sample and printed).")
@click.option("--blocking-sample", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Records of the sample on which --blocking's recall is measured.")
def dedup_command(in_path: Path, out_path: Path, language_code: str, threshold: float, field: str,
                  against_path: Path | None, rejected_path: Path | None, executor_name: str,
                  workers: int | None, blocking: str, blocking_sample: int) -> None:
    """Drop near-duplicates greedily, in input order, like Alpaca's ROUGE-L filter."""
    from factory.dedup import dedup_file
    from factory.executors import build_executor
    from factory.plugins import get_plugin

    language = get_plugin("language", language_code)()
    with build_executor(executor_name, workers=workers) as executor:
        summary = dedup_file(in_path, out_path, language, threshold=threshold, field=field,
                             against=against_path, rejected_path=rejected_path, executor=executor,
                             blocking=blocking, blocking_sample=blocking_sample)
    click.echo(summary.message())
