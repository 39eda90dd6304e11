"""The v2 contracts end to end: what the card says comes from the plugins, identities decide resume and
caches, a new method runs with no engine change, missing packages are one line before any request."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from factory.card import split_front_matter
from factory.manifest import RunManifest
from factory.testing.helpers import run_cli
from factory.testing.responders import self_instruct_responder

REPO = Path(__file__).resolve().parents[1]
ALPACA = REPO / "tests" / "data" / "alpaca_en_small.json"


def _card(run: Path) -> tuple[dict, str]:
    return split_front_matter((run / "data" / "README.md").read_text(encoding="utf-8"))


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "data" / "train.jsonl").read_text(encoding="utf-8").splitlines()]


# ---------------------------------------------------------------- the card names what the plugins describe


def test_an_openai_run_card_names_the_teacher_model_and_endpoint_kind(tmp_path, en_seeds):
    from factory_openai.loopback import LoopbackOpenAI

    recipe = tmp_path / "r.yaml"
    with LoopbackOpenAI(self_instruct_responder) as server:
        recipe.write_text(textwrap.dedent(f"""\
            name: card-openai
            language: en
            batch_size: 2
            method: {{seeds: {en_seeds}, target: 6}}
            teacher: {{plugin: openai, model: loopback-model, api: completions, base_url: {server.base_url}}}
            """))
        result = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "-q", env={"OPENAI_API_KEY": ""})
        host = server.base_url.split("//")[1].split("/")[0]
    assert result.returncode == 0, result.stderr
    manifest = RunManifest.load(tmp_path / "run" / "stats.json")
    teacher = manifest.provenance.teacher
    assert (teacher.plugin, teacher.model, teacher.endpoint_kind) == ("openai", "loopback-model", "completions")
    assert teacher.endpoint == host
    _, body = _card(tmp_path / "run")
    for line in (f"| teacher plugin | {teacher.plugin} |", f"| teacher model | {teacher.model} |",
                 f"| teacher endpoint kind | {teacher.endpoint_kind} |", f"| teacher endpoint | {teacher.endpoint} |"):
        assert line in body
    assert "unrecorded" not in body
    rows = _rows(tmp_path / "run")
    assert rows and all(r["messages"][0]["role"] == "user" and r["messages"][-1]["role"] == "assistant" for r in rows)


@pytest.mark.parametrize("engine", ["deepl", "llm"])
def test_a_translation_run_card_agrees_with_the_manifest(tmp_path, engine):
    from factory_deepl.loopback import LoopbackDeepL
    from factory_openai.loopback import LoopbackOpenAI

    def korean(request: dict) -> str:  # the llm translator's reply: every tagged item, "translated"
        import re

        items = re.findall(r"<t(\d+)>(.*?)</t\1>", request["messages"][-1]["content"], re.S)
        if not items:
            return "번역: " + request["messages"][-1]["content"]
        return "".join(f"<t{n}>번역: {text}</t{n}>" for n, text in items)

    with LoopbackDeepL() as deepl, LoopbackOpenAI(korean) as llm:
        section = (f"{{plugin: deepl, source_lang: en, server_url: {deepl.server_url}, formality: prefer_more}}"
                   if engine == "deepl" else
                   f"{{plugin: llm, source_lang: en, teacher: {{plugin: openai, model: mt-model, base_url: {llm.base_url}}}}}")
        recipe = tmp_path / "t.yaml"
        recipe.write_text(textwrap.dedent(f"""\
            name: card-{engine}
            language: ko
            source: {{path: {ALPACA}, limit: 6}}
            translate: {section}
            filters: {{similarity: {{enabled: false}}, script_check: false}}
            """))
        result = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "-q",
                         env={"DEEPL_AUTH_KEY": deepl.auth_key, "OPENAI_API_KEY": ""})
    assert result.returncode == 0, result.stderr
    translator = RunManifest.load(tmp_path / "run" / "stats.json").provenance.translator
    assert translator.plugin == engine and translator.engine and translator.server
    meta, body = _card(tmp_path / "run")
    assert "machine-translated" in meta["tags"]
    assert f"| translator | {translator.plugin} |" in body
    assert f"| translator engine | {translator.engine} |" in body
    assert f"| translator server | {translator.server} |" in body
    for key, value in translator.settings.items():
        assert f"| translator {key} | {value} |" in body


# ---------------------------------------------------------------- identity: resume and caches


DEEPL_RECIPE = """\
name: deepl-identity
language: ko
source: {{path: {source}, limit: 4}}
translate: {{plugin: deepl, source_lang: en, server_url: {url}, timeout_s: {timeout}, concurrency: {concurrency}}}
filters: {{similarity: {{enabled: false}}, script_check: false}}
export: {{enabled: false}}
"""


def _deepl_run(tmp_path, name: str, server, *, timeout: float = 30, concurrency: int = 4):
    recipe = tmp_path / f"{name}.yaml"
    recipe.write_text(DEEPL_RECIPE.format(source=ALPACA, url=server.server_url, timeout=timeout, concurrency=concurrency))
    return run_cli("run", str(recipe), "--out", str(tmp_path / name), "-q", env={"DEEPL_AUTH_KEY": server.auth_key})


def test_a_deepl_run_never_reuses_another_servers_translations(tmp_path):
    from factory_deepl.loopback import LoopbackDeepL

    with LoopbackDeepL() as first, LoopbackDeepL() as second:
        assert _deepl_run(tmp_path, "a", first).returncode == 0
        assert first.translate_requests()
        # the same texts against another server: nothing comes from the first server's answers
        assert _deepl_run(tmp_path, "b", second).returncode == 0
        assert second.translate_requests() and second.character_count == first.character_count > 0
        # back on the first server with other runtime settings: the cross-run cache answers everything
        sent = len(first.translate_requests())
        assert _deepl_run(tmp_path, "c", first, timeout=5, concurrency=1).returncode == 0
        assert len(first.translate_requests()) == sent
        stats = RunManifest.load(tmp_path / "c" / "stats.json")
        assert stats.totals.billed_characters == 0 and stats.totals.cached_characters > 0


def test_runtime_options_resume_and_identity_options_refuse_by_name(tmp_path):
    from factory_deepl.loopback import LoopbackDeepL

    with LoopbackDeepL() as server:
        assert _deepl_run(tmp_path, "run", server).returncode == 0
        again = _deepl_run(tmp_path, "run", server, timeout=7, concurrency=2)  # runtime: resumes
        assert again.returncode == 0, again.stderr
        recipe = tmp_path / "run.yaml"
        recipe.write_text(recipe.read_text().replace("server_url:", "formality: more, server_url:"))
        refused = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "-q",
                          env={"DEEPL_AUTH_KEY": server.auth_key})
    assert refused.returncode == 2
    assert "translate.formality" in refused.stderr and "Traceback" not in refused.stderr


# ---------------------------------------------------------------- a method the engine never heard of

ANSWER_METHOD = '''
"""A method written in a test: answer every seed question (the engine is not changed for it)."""
from typing import ClassVar

from pydantic import Field

from factory import hookimpl
from factory.contracts import Options
from factory.methods import BatchResult, MethodEstimate, PromptMethod, item_id
from factory.records import Record
from factory.teachers import TeacherRequest


class AnswerOptions(Options):
    max_tokens: int = Field(64, ge=1)


class AnswerSeeds(PromptMethod):
    options_model: ClassVar[type[Options]] = AnswerOptions
    needs_seeds: ClassVar[bool] = True

    def batch_count(self, ctx):
        return -(-len(ctx.seeds) // ctx.batch_size)

    def requests(self, ctx, batch_no):
        chunk = ctx.seeds[batch_no * ctx.batch_size:(batch_no + 1) * ctx.batch_size]
        return [TeacherRequest(messages=(("user", seed.instruction),), max_tokens=self.options.max_tokens)
                for seed in chunk]

    def parse(self, ctx, completion, batch_no, index):
        seed = ctx.seeds[batch_no * ctx.batch_size + index]
        return BatchResult([Record.from_alpaca(seed.instruction, "", completion.text.strip(),
                                               id=item_id(batch_no, index))])

    def estimate(self, ctx, remaining, keep_rate):
        return MethodEstimate(len(ctx.seeds), 20.0 * len(ctx.seeds), 30.0 * len(ctx.seeds), 64.0 * len(ctx.seeds))


@hookimpl
def register_methods(register):
    register("answer-seeds", AnswerSeeds)
'''


def test_a_second_method_plugin_runs_end_to_end_with_no_engine_change(tmp_path, en_seeds):
    (tmp_path / "answer_seeds_plugin.py").write_text(ANSWER_METHOD)
    recipe = tmp_path / "answer.yaml"
    recipe.write_text(textwrap.dedent(f"""\
        name: answers
        language: en
        batch_size: 2
        method: {{plugin: answer-seeds, seeds: {en_seeds}, target: 100, max_tokens: 32}}
        teacher: {{plugin: fake, responder: echo}}
        filters: {{similarity: {{enabled: false}}, min_instruction_words: 1}}
        """))
    env = {"FACTORY_PLUGIN_MODULES": "answer_seeds_plugin,factory.testing.fake_teacher",
           "PYTHONPATH": str(tmp_path)}
    estimate = run_cli("run", str(recipe), "--estimate", env=env)
    assert estimate.returncode == 0 and "requests" in estimate.stdout and "5" in estimate.stdout, estimate.stderr
    result = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "-q", env=env)
    assert result.returncode == 0, result.stderr
    rows = _rows(tmp_path / "run")
    seeds = [json.loads(line)["instruction"] for line in en_seeds.read_text().splitlines()]
    assert [r["instruction"] for r in rows] == seeds  # every seed answered once, in order
    assert all(r["output"] == f"echo: {r['instruction']}" for r in rows)
    manifest = RunManifest.load(tmp_path / "run" / "stats.json")
    assert manifest.status == "finished" and manifest.provenance.method == "answer-seeds"
    assert manifest.usage["generate"].requests == len(seeds)


# ---------------------------------------------------------------- requirements, hooks, debugging


def test_a_missing_package_is_one_line_before_any_request(tmp_path, en_seeds):
    from factory_openai.loopback import LoopbackOpenAI

    blocker = tmp_path / "sitecustomize.py"  # this interpreter cannot import `datasets`
    blocker.write_text("import sys\nsys.modules['datasets'] = None\n")
    with LoopbackOpenAI(self_instruct_responder) as server:
        recipe = tmp_path / "r.yaml"
        recipe.write_text(f"name: needs-datasets\nlanguage: en\nmethod: {{seeds: {en_seeds}, target: 4}}\n"
                          f"teacher: {{plugin: openai, model: m, base_url: {server.base_url}}}\n")
        env = {"PYTHONPATH": str(tmp_path), "OPENAI_API_KEY": ""}
        validate = run_cli("validate", str(recipe), env=env)
        run = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), env=env)
        assert server.requests == []
    for result in (validate, run):
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "'datasets'" in lines[0] and "pip install" in lines[0], lines
        assert "Traceback" not in result.stderr


def test_a_key_that_is_not_set_is_named_by_validate_and_stops_run_first(tmp_path, en_seeds):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: needs-key\nlanguage: en\nmethod: {{seeds: {en_seeds}, target: 4}}\n"
                      "teacher: {plugin: openai, model: gpt-4o-mini, api_key_env: MY_MISSING_KEY}\n")
    checked = run_cli("validate", str(recipe), env={"MY_MISSING_KEY": ""})
    assert checked.returncode == 0 and "note:" in checked.stderr and "MY_MISSING_KEY" in checked.stderr
    run = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), env={"MY_MISSING_KEY": ""})
    assert run.returncode == 2 and "MY_MISSING_KEY" in run.stderr and "not set" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_a_misspelt_hook_names_itself_and_debug_shows_the_traceback(tmp_path):
    (tmp_path / "typo_plugin.py").write_text(
        "from factory import hookimpl\n\n@hookimpl\ndef register_teacher(register):\n    pass\n")
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('this plugin is broken')\n")
    typo = run_cli("plugins", env={"FACTORY_PLUGIN_MODULES": "typo_plugin", "PYTHONPATH": str(tmp_path)})
    assert typo.returncode == 2 and "register_teacher" in typo.stderr and "Traceback" not in typo.stderr
    quiet = run_cli("plugins", env={"FACTORY_PLUGIN_MODULES": "broken_plugin", "PYTHONPATH": str(tmp_path)})
    assert quiet.returncode == 2 and "this plugin is broken" in quiet.stderr and "Traceback" not in quiet.stderr
    loud = run_cli("-v", "plugins", env={"FACTORY_PLUGIN_MODULES": "broken_plugin", "PYTHONPATH": str(tmp_path)})
    assert loud.returncode == 2 and "Traceback" in loud.stderr and "broken_plugin.py" in loud.stderr


def test_the_schema_offers_every_installed_plugins_keys(cli):
    result = cli("schema")
    schema = json.loads(result.stdout)
    teachers = {v["title"]: v for v in schema["properties"]["teacher"]["oneOf"]}
    assert {"openai", "transformers"} <= set(teachers)
    assert "extra_body" in teachers["openai"]["properties"] and "concurrency" in teachers["openai"]["properties"]
    translators = {v["title"]: v for v in schema["properties"]["translate"]["oneOf"]}
    assert "server_url" in translators["deepl"]["properties"] and "source_lang" in translators["deepl"]["properties"]
    llm_teacher = translators["llm"]["properties"]["teacher"]
    assert {v["title"] for v in llm_teacher["oneOf"]} >= {"openai"}
