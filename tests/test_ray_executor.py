"""The ray executor on one shared 2-CPU local cluster: the same bytes as the local executor."""

from __future__ import annotations

import json

import pytest

from factory.cli import main
from factory.default_plugins.ray_executor import RayExecutor
from factory.errors import UserError
from factory.testing.conformance import ExecutorConformance
from factory.testing.helpers import write_seeds
from factory.testing.synthetic import write_synthetic_jsonl

pytestmark = pytest.mark.timeout(300)


def _dedup(*args: str) -> None:
    """The real CLI in this process (so it finds the session's cluster instead of starting its own)."""
    try:
        main(["dedup", *args])
    except SystemExit as exc:
        assert exc.code in (0, None)


def test_dedup_with_ray_writes_the_local_bytes(tmp_path, ray_cluster, capsys):
    source = write_synthetic_jsonl(tmp_path / "in.jsonl", 3000, seed=11)
    against = write_synthetic_jsonl(tmp_path / "against.jsonl", 50, seed=12)
    common = [str(source), "--language", "en", "--against", str(against)]
    _dedup(*common, "-o", str(tmp_path / "local.jsonl"), "--rejected", str(tmp_path / "local.rej.jsonl"))
    _dedup(*common, "-o", str(tmp_path / "ray.jsonl"), "--rejected", str(tmp_path / "ray.rej.jsonl"),
           "--executor", "ray", "--workers", "2")
    local, remote = (tmp_path / "local.jsonl").read_bytes(), (tmp_path / "ray.jsonl").read_bytes()
    assert local == remote
    assert (tmp_path / "local.rej.jsonl").read_bytes() == (tmp_path / "ray.rej.jsonl").read_bytes()
    assert 500 < local.count(b"\n") < 3000  # a real mix of kept and dropped
    assert ray_cluster.is_initialized()  # the executor left the session's cluster running


def test_ray_pool_really_spreads_entries_over_shard_actors(ray_cluster):
    from factory.default_plugins.english import English
    from factory.executors import build_executor
    from factory.testing.synthetic import synthetic_instructions

    tokens = English().tokenize_many(synthetic_instructions(600, seed=2))
    with build_executor("ray", {"workers": 2, "block": 50}) as executor:
        pool = executor.rouge_pool()
        decisions = pool.greedy(tokens, 0.7, list(range(len(tokens))))
        sizes = ray_cluster.get([actor.size.remote() for actor in pool.backend.actors])
    kept = sum(k for k, _, _ in decisions)
    assert sum(sizes) == kept and min(sizes) >= kept // 2 - 1


class TestRayExecutorConformance(ExecutorConformance):
    plugin = RayExecutor
    options = {"workers": 2, "block": 64}
    runtime_changes = {"workers": 1, "block": 8, "address": "127.0.0.1:6379", "num_cpus": 2}

    @pytest.fixture(autouse=True)
    def _cluster(self, ray_cluster):
        return ray_cluster


def test_ray_executor_without_ray_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    executor = RayExecutor(workers=1)
    with pytest.raises(UserError, match=r"pip install 'koalpaca-factory\[ray\]'"):
        executor.rouge_pool()


RECIPE = """\
name: ray-gen
language: en
batch_size: 4
method:
  seeds: {seeds}
  target: 200
teacher:
  plugin: openai
  model: gpt-4o-mini
  api: completions
  base_url:
    - {a}
    - {b}
  api_key_env: LOOPBACK_KEY
  concurrency: 8
  endpoint_concurrency: 4
filters:
  similarity: {{threshold: 0.9}}
export:
  enabled: false
"""


def test_a_generation_run_with_ray_keeps_the_local_bytes(tmp_path, ray_cluster, monkeypatch):
    from factory.engine import RunOptions, run_recipe
    from factory.recipe import load_recipe
    from factory.testing.responders import self_instruct_responder
    from factory_openai.loopback import LoopbackOpenAI

    key = "sk-" + "loopback-ray-0001"
    monkeypatch.setenv("LOOPBACK_KEY", key)
    with LoopbackOpenAI(self_instruct_responder, api_key=key, latency_s=0.01) as a, \
            LoopbackOpenAI(self_instruct_responder, api_key=key, latency_s=0.01) as b:
        recipe = tmp_path / "r.yaml"
        recipe.write_text(RECIPE.format(seeds=write_seeds(tmp_path / "seeds.jsonl"), a=a.base_url, b=b.base_url))
        outs = {}
        for name in ("local", "ray"):
            outs[name] = tmp_path / name
            outcome = run_recipe(load_recipe(recipe), outs[name],
                                 options=RunOptions(quiet=True, executor=name, workers=2))
            assert outcome.ctx.run.state.accepted >= 200
        assert a.requests and b.requests  # both endpoints served each run
    accepted = [(outs[n] / "accepted.jsonl").read_bytes() for n in ("local", "ray")]
    assert accepted[0] == accepted[1] and accepted[0].count(b"\n") >= 200
    assert (outs["local"] / "rejected.jsonl").read_bytes() == (outs["ray"] / "rejected.jsonl").read_bytes()
    assert b"near_duplicate" in (outs["local"] / "rejected.jsonl").read_bytes()
    executors = {n: json.loads((outs[n] / "stats.json").read_text())["executor"] for n in outs}
    assert executors["local"] == {"plugin": "local", "workers": 2}
    assert executors["ray"]["plugin"] == "ray" and executors["ray"]["workers"] == 2
    assert executors["ray"]["cluster_cpus"] == 2  # the executor did reach the cluster
