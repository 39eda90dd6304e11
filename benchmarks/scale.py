"""Benchmark: scaling out. Every ratio is measured in the same run, on the same machine and data.

1. **Dedup**: ``factory dedup`` of N synthetic English instructions with the
   local executor and with the ray executor on a local cluster of
   ``--ray-cpus`` CPUs: wall time, the driver's peak memory, and whether the
   two outputs are the same bytes (they must be). Each run is a fresh
   ``factory`` process, so Ray's start-up is included. ``--dedup-data``:
   ``instructions`` (the default) are ``benchmarks/similarity.py``'s
   instruction-like sentences (templates, word lists, a long tail of invented
   names; 12% edited copies), the vocabulary of real data; ``dense`` are
   ``factory.testing.synthetic``'s (125 words, a third edited copies), where
   every word is in about a tenth of the records: the worst case for an
   inverted index, each query touching most of the pool.
2. **Generation throughput**: N requests through one ``openai`` teacher whose
   ``base_url`` is a pool of E loopback endpoints, each answering after a fixed
   latency with at most C requests in flight (``endpoint_concurrency``):
   requests/s against the endpoints' limit E*C/latency.
3. **Korean analysis**: Kiwi tokenization records/s in this process, with the
   local executor's worker processes (1, 2, ...) and with Ray analyser actors
   (skipped when the ``ko`` plugin is not installed).

Usage (defaults finish in a few minutes on 2 cores)::

    OMP_NUM_THREADS=1 python benchmarks/scale.py
    OMP_NUM_THREADS=1 python benchmarks/scale.py --dedup-n 1000000 --requests 800000   # the issue's sizes
    OMP_NUM_THREADS=1 python benchmarks/scale.py --only generation --requests 800000 --no-single-url
    OMP_NUM_THREADS=1 python benchmarks/scale.py --only dedup --dedup-n 1000000
    python benchmarks/scale.py --only dedup --dedup-n 60000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # sibling generators: similarity.py, korean_text.py


def _child(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command; its wall seconds, its own peak RSS in MiB (os.wait4), and its stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, out


def _dense_instructions(n: int, seed: int) -> list[str]:
    from factory.testing.synthetic import synthetic_instructions

    return synthetic_instructions(n, seed)


def _instruction_like(n: int, seed: int) -> list[str]:
    from similarity import synthesize

    return synthesize(n, seed=seed)


DEDUP_DATA = {
    "instructions": ("instruction-like English (benchmarks/similarity.py: long-tailed vocabulary, 12% edited copies)",
                     _instruction_like),
    "dense": ("English from 125 words (factory.testing.synthetic: a third edited copies; every word in ~10% of records)",
              _dense_instructions),
}


def bench_dedup(n: int, ray_cpus: int, workdir: Path, data: str = "instructions") -> list[str]:
    from factory.testing.synthetic import write_instruction_rows

    described, instructions = DEDUP_DATA[data]
    source = write_instruction_rows(workdir / "in.jsonl", instructions(n, seed=1))
    rows = []
    outputs = {}
    for name, extra in (("local", ["--workers", "1"]), ("ray", ["--executor", "ray", "--workers", str(ray_cpus)])):
        out = workdir / f"{name}.jsonl"
        wall, rss, stdout = _child([sys.executable, "-m", "factory", "dedup", str(source), "-o", str(out),
                                    "--language", "en", *extra])
        outputs[name] = out.read_bytes()
        rows.append((name, wall, rss, stdout.strip().split(";")[0]))
        print(f"dedup, {name}: {wall:.0f} s", file=sys.stderr, flush=True)
    same = outputs["local"] == outputs["ray"]
    lines = [f"### Dedup of {n:,} synthetic records, {described}; threshold 0.7", "",
             "| executor | wall (s) | driver peak RSS (MiB) | result |", "|---|---:|---:|---|"]
    lines += [f"| {name} | {wall:.1f} | {rss:.0f} | {result} |" for name, wall, rss, result in rows]
    lines += ["", f"ray / local wall: {rows[1][1] / rows[0][1]:.2f}x; outputs byte-identical: {same}", ""]
    if not same:
        raise SystemExit("the ray executor's output differs from the local one")
    return lines


def bench_generation(requests: int, endpoints: int, concurrency: int, latency: float,
                     single_url: bool = True) -> list[str]:
    started = time.perf_counter()
    pooled = _generation(requests, endpoints, concurrency, latency, pool=True)
    print(f"generation through the pool: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    single = _generation(requests, 1, endpoints * concurrency, latency, pool=False) if single_url else None
    limit = endpoints * concurrency / latency
    lines = [f"### Generation: {requests:,} requests, replies after {latency * 1000:.0f} ms", "",
             "| endpoints | in flight per endpoint | limit (req/s) | measured (req/s) | of the limit | "
             "answered server-side | peak in flight on one endpoint |", "|---|---:|---:|---:|---:|---:|---:|"]
    measured = [((f"{endpoints} (pool)", concurrency), pooled)]
    if single is not None:
        measured.append((("1 (one URL)", endpoints * concurrency), single))
    for (label, conc), (rate, answered, peak) in measured:
        lines.append(f"| {label} | {conc} | {limit:,.0f} | {rate:,.0f} | {rate / limit:.0%} | {answered:,} | {peak} |")
    return lines + [""]


def _generation(requests: int, endpoints: int, concurrency: int, latency: float, pool: bool) -> tuple[float, int, int]:
    from factory.teachers import RetryableTeacherError, TeacherRequest
    from factory_openai.loopback import LoopbackOpenAI
    from factory_openai.teacher import OpenAITeacher, OpenAITeacherOptions

    servers = [LoopbackOpenAI(latency_s=latency).start() for _ in range(endpoints)]
    try:
        urls = [s.base_url for s in servers]
        teacher = OpenAITeacher(OpenAITeacherOptions(model="m", api="completions",
                                                     base_url=urls if pool else urls[0],
                                                     endpoint_concurrency=concurrency))

        async def run() -> float:
            gate = asyncio.Semaphore(endpoints * concurrency)  # the core's teacher.concurrency

            async def one(i: int) -> None:
                async with gate:
                    for _ in range(20):
                        try:
                            await teacher.complete(TeacherRequest(prompt=f"task {i}", max_tokens=16))
                            return
                        except RetryableTeacherError:
                            await asyncio.sleep(0.01)

            started = time.perf_counter()
            try:
                await asyncio.gather(*(one(i) for i in range(requests)))
            finally:
                await teacher.aclose()
            return time.perf_counter() - started

        wall = asyncio.run(run())
        answered = sum(len(s.requests) for s in servers)
        peak = max(s.max_in_flight for s in servers)
    finally:
        for server in servers:
            server.stop()
    return requests / wall, answered, peak


def bench_korean(n: int, worker_counts: list[int], ray_cpus: int) -> list[str]:
    try:
        from factory.plugins import get_plugin

        korean = get_plugin("language", "ko")()
    except Exception as exc:  # noqa: BLE001 - the ko plugin (kiwipiepy) is optional
        return [f"### Korean analysis: skipped ({exc})", ""]
    import random

    from korean_text import sentence

    from factory.executors import LocalExecutor

    def texts_for(seed: int, count: int) -> list[str]:
        """Fresh texts per measurement: the ko plugin caches what it analysed (numbered, so all distinct)."""
        rng = random.Random(seed)
        return [f"{sentence(rng)} ({seed}-{i})" for i in range(count)]

    texts = texts_for(0, n)
    warm = texts_for(1, 3000)
    korean.tokenize_many(warm[:50])  # load Kiwi's model before timing
    rows = []
    started = time.perf_counter()
    korean.tokenize_many(texts)
    rows.append(("in-process", n / (time.perf_counter() - started)))
    for seed, workers in enumerate(worker_counts, start=2):
        texts = texts_for(seed, n)
        with LocalExecutor(workers=workers) as executor:
            executor.tokenize_many(korean, warm)  # start the workers and their analysers
            started = time.perf_counter()
            executor.tokenize_many(korean, texts)
            rows.append((f"local, {workers} worker(s)", n / (time.perf_counter() - started)))
    try:
        import ray

        from factory.default_plugins.ray_executor import RayExecutor

        ray.init(num_cpus=ray_cpus, include_dashboard=False, log_to_driver=False)
        texts = texts_for(100, n)
        with RayExecutor(workers=ray_cpus) as executor:
            executor.tokenize_many(korean, warm)
            started = time.perf_counter()
            executor.tokenize_many(korean, texts)
            rows.append((f"ray, {ray_cpus} actors", n / (time.perf_counter() - started)))
        ray.shutdown()
    except ImportError:
        pass
    base = rows[0][1]
    lines = [f"### Korean (Kiwi) tokenization of {n:,} instructions", "",
             "| where | records/s | vs in-process |", "|---|---:|---:|"]
    lines += [f"| {name} | {rate:,.0f} | {rate / base:.2f}x |" for name, rate in rows]
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["dedup", "generation", "korean"], action="append")
    parser.add_argument("--dedup-n", type=int, default=20_000, help="records to dedup (the issue: 1000000)")
    parser.add_argument("--dedup-data", choices=sorted(DEDUP_DATA), default="instructions",
                        help="what to dedup (module docstring)")
    parser.add_argument("--requests", type=int, default=5_000, help="generation requests (the issue: 800000)")
    parser.add_argument("--endpoints", type=int, default=4)
    parser.add_argument("--no-single-url", action="store_true",
                        help="measure the pool only, not one URL with the same total concurrency (halves the time)")
    parser.add_argument("--endpoint-concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per reply on every endpoint")
    parser.add_argument("--korean-n", type=int, default=20_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--ray-cpus", type=int, default=2)
    args = parser.parse_args(argv)
    parts = args.only or ["dedup", "generation", "korean"]
    lines = [f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}", ""]
    with tempfile.TemporaryDirectory() as tmp:
        if "dedup" in parts:
            lines += bench_dedup(args.dedup_n, args.ray_cpus, Path(tmp), args.dedup_data)
        if "generation" in parts:
            lines += bench_generation(args.requests, args.endpoints, args.endpoint_concurrency, args.latency,
                                      single_url=not args.no_single_url)
        if "korean" in parts:
            lines += bench_korean(args.korean_n, args.workers, args.ray_cpus)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
