"""The executor kind: the local executor, the sharded pool's exactness, the recipe section and the CLI flags."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from factory.default_plugins.english import English
from factory.errors import UserError
from factory.executors import LocalExecutor, build_executor, chunks
from factory.plugins import get_registry
from factory.rouge_pool import InProcessShards, LocalRougePool, ShardedRougePool, best_of
from factory.similarity import greedy_dedup
from factory.testing.synthetic import synthetic_instructions, write_synthetic_jsonl


def _tokens(n: int, seed: int) -> list[list[str]]:
    return English().tokenize_many(synthetic_instructions(n, seed=seed, duplicate_share=0.4))


def test_both_executors_are_registered_plugins():
    registry = get_registry()
    assert registry.names("executor") == ["local", "ray"]
    assert registry.get("executor", "local").obj is LocalExecutor
    assert build_executor(None).describe()["plugin"] == "local"


def test_an_unknown_executor_is_one_clear_line():
    with pytest.raises(UserError, match="no executor plugin named 'spark'.*installed: local, ray"):
        build_executor("spark")


def test_bad_executor_options_name_the_field():
    with pytest.raises(UserError, match="workers"):
        build_executor("local", {"workers": 0})


@pytest.mark.parametrize("shards,block", [(1, 1), (2, 7), (3, 64), (5, 1000)])
def test_sharded_pool_gives_the_local_greedy_answer(shards, block):
    tokens = _tokens(1500, seed=shards)
    against = _tokens(40, seed=99)
    expected = greedy_dedup(tokens, 0.7, against=against, keys=[f"k{i}" for i in range(len(tokens))],
                            against_keys=[f"a{j}" for j in range(len(against))])
    pool = ShardedRougePool(InProcessShards(shards), block=block)
    pool.add_many(against, [f"a{j}" for j in range(len(against))])
    got = pool.greedy(tokens, 0.7, [f"k{i}" for i in range(len(tokens))])
    assert got == expected  # decisions, float scores and most-similar keys
    assert sum(not kept for kept, _, _ in got) > 300  # the data really has near-duplicates


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from("a b c d e f".split()), max_size=6), max_size=40),
       st.integers(1, 4), st.integers(1, 9), st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]))
def test_sharded_pool_ties_and_empties_match_the_local_index(token_lists, shards, block, threshold):
    """Tiny vocabularies make equal scores everywhere: the earliest-added entry must still win."""
    expected = LocalRougePool().greedy(token_lists, threshold, list(range(len(token_lists))))
    got = ShardedRougePool(InProcessShards(shards), block=block).greedy(token_lists, threshold,
                                                                       list(range(len(token_lists))))
    assert got == expected


def test_best_of_takes_the_earliest_entry_among_equal_scores():
    assert best_of([(0.5, 7), (0.5, 3), (0.4, 1), (0.0, None)]) == (0.5, 3)
    assert best_of([(0.0, None), (0.0, None)]) == (0.0, None)


def test_chunks_keep_order_and_cover_everything():
    items = list(range(10_001))
    parts = chunks(items, 2)
    assert [x for part in parts for x in part] == items and len(parts) > 2


def test_local_workers_tokenize_in_worker_processes_with_the_same_result():
    texts = synthetic_instructions(4000, seed=3)
    language = English()
    with LocalExecutor(workers=2) as executor:
        assert executor.tokenize_many(language, texts) == language.tokenize_many(texts)
        assert executor._pool is not None  # really went through the process pool


def test_dedup_cli_local_workers_and_in_process_write_the_same_bytes(tmp_path, cli):
    source = write_synthetic_jsonl(tmp_path / "in.jsonl", 2500, seed=5)
    one = cli("dedup", str(source), "-o", str(tmp_path / "one.jsonl"), "--language", "en", "--workers", "1",
              "--rejected", str(tmp_path / "one.rej.jsonl"))
    two = cli("dedup", str(source), "-o", str(tmp_path / "two.jsonl"), "--language", "en", "--workers", "2",
              "--executor", "local", "--rejected", str(tmp_path / "two.rej.jsonl"))
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()
    assert (tmp_path / "one.rej.jsonl").read_bytes() == (tmp_path / "two.rej.jsonl").read_bytes()
    assert "kept" in one.stdout and (tmp_path / "one.rej.jsonl").read_text().count("\n") > 300


def test_dedup_cli_refuses_an_unknown_executor_in_one_line(tmp_path, cli):
    source = write_synthetic_jsonl(tmp_path / "in.jsonl", 10)
    result = cli("dedup", str(source), "-o", str(tmp_path / "o.jsonl"), "--language", "en", "--executor", "spark")
    assert result.returncode == 2
    assert "no executor plugin named 'spark'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o.jsonl").exists()


RECIPE = """\
name: exec-demo
language: en
method:
  seeds: {seeds}
  target: 3
teacher:
  plugin: openai
  model: m
  base_url: http://127.0.0.1:9/v1
  api_key_env: NOPE
executor:
{executor}
"""


def test_the_executor_section_is_validated_with_file_line_and_field(tmp_path, cli, en_seeds):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(seeds=en_seeds, executor="  plugin: ray\n  num_cpus: 0\n  adress: x"))
    result = cli("validate", str(recipe))
    assert result.returncode != 0
    assert "r.yaml:14" in result.stderr and "num_cpus" in result.stderr
    assert "adress" in result.stderr and "Traceback" not in result.stderr
    recipe.write_text(RECIPE.format(seeds=en_seeds, executor="  plugin: spark"))
    result = cli("validate", str(recipe))
    assert result.returncode != 0 and "no executor plugin named 'spark'" in result.stderr


def test_the_executor_section_is_in_the_schema_and_not_in_the_run_identity(tmp_path, en_seeds):
    from factory.plan import fingerprint
    from factory.recipe import load_recipe, recipe_json_schema

    schema = recipe_json_schema()
    titles = [v["title"] for v in schema["properties"]["executor"]["oneOf"]]
    assert titles == ["local", "ray"]
    ray_branch = schema["properties"]["executor"]["oneOf"][1]["properties"]
    assert {"address", "num_cpus", "workers"} <= set(ray_branch)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(seeds=en_seeds, executor="  plugin: ray\n  num_cpus: 2"))
    with_ray = load_recipe(recipe)
    assert with_ray.plugins["executor"].name == "ray" and with_ray.plugins["executor"].options.num_cpus == 2
    recipe.write_text(RECIPE.format(seeds=en_seeds, executor="  plugin: local"))
    assert fingerprint(with_ray, None) == fingerprint(load_recipe(recipe), None)


def test_executor_for_prefers_the_flag_and_keeps_the_sections_options(tmp_path, en_seeds):
    from factory.executors import executor_for
    from factory.recipe import load_recipe

    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(seeds=en_seeds, executor="  plugin: local\n  workers: 3"))
    loaded = load_recipe(recipe)
    assert executor_for(loaded).describe() == {"plugin": "local", "workers": 3}
    assert executor_for(loaded, workers=1).describe() == {"plugin": "local", "workers": 1}
    assert executor_for(loaded, "ray").options.workers is None  # another plugin: the section's options don't apply


def test_minhash_blocking_prints_its_recall_and_every_drop_is_a_real_near_duplicate(tmp_path, cli):
    from factory.similarity import rouge_l_f

    source = write_synthetic_jsonl(tmp_path / "in.jsonl", 3000, seed=21)
    exact = cli("dedup", str(source), "-o", str(tmp_path / "exact.jsonl"), "--language", "en")
    blocked = cli("dedup", str(source), "-o", str(tmp_path / "mh.jsonl"), "--language", "en", "--blocking",
                  "minhash", "--blocking-sample", "1000", "--rejected", str(tmp_path / "mh.rej.jsonl"))
    assert exact.returncode == 0 and blocked.returncode == 0, exact.stderr + blocked.stderr
    line = [x for x in blocked.stdout.splitlines() if x.startswith("blocking minhash: recall")]
    assert line and "sample of 1000 records" in line[0]
    recall = float(line[0].split("recall ")[1].split()[0])
    assert 0.8 <= recall <= 1.0
    english = English()
    kept_ids = {json.loads(x)["id"]: json.loads(x)["instruction"] for x in (tmp_path / "mh.jsonl").read_text().splitlines()}
    for row in map(json.loads, (tmp_path / "mh.rej.jsonl").read_text().splitlines()):
        other = kept_ids[row["most_similar"]]
        score = rouge_l_f(english.tokenize(row["instruction"]), english.tokenize(other))
        assert score == row["max_rouge_l"] and score > 0.7
    exact_kept = (tmp_path / "exact.jsonl").read_text().count("\n")
    assert exact_kept <= (tmp_path / "mh.jsonl").read_text().count("\n") <= exact_kept * 1.1


def test_run_refuses_an_unknown_executor_before_anything_is_sent(tmp_path, cli, en_seeds):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(seeds=en_seeds, executor="  plugin: local"))
    result = cli("run", str(recipe), "--out", str(tmp_path / "run"), "--executor", "spark", "-q",
                 env={"NOPE": "sk-unused"})
    assert result.returncode == 2, result.stderr
    assert "no executor plugin named 'spark'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "accepted.jsonl").exists()
