"""Secret detection and scrubbing (factory.secrets_scan)."""

from __future__ import annotations

import pytest

from factory.secrets_scan import (
    REDACTED, is_secret_name, redact, scan_file, scan_paths, scan_text, scrub, secret_env_values)

OPENAI = "sk-proj-" + "A1b2C3d4" * 4
HF = "hf_" + "Zx9" * 12
DEEPL = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b" + ":fx"  # fake, assembled at run time
ENV_VALUE = "local-Secret-42-abcdef"


def test_known_shapes_assignments_and_env_values_are_found_with_line_numbers():
    env = {"MY_SERVICE_TOKEN": ENV_VALUE}
    text = "\n".join([
        "title: fine",
        f"openai: {OPENAI}",
        f'{{"note": "use {HF} here"}}',
        f"deepl_auth: {DEEPL}",
        'api_key: "abcDEF1234567890ghij"',
        f"url: https://x.invalid/?q={ENV_VALUE}",
        "PASSWORD=Tr0ub4dor-and-3-more",
    ])
    assert scan_text(text, env) == [(2, "openai-key"), (3, "hf-token"), (4, "deepl-key"), (5, "secret-assignment"),
                                    (6, "value of $MY_SERVICE_TOKEN"), (7, "secret-assignment")]


@pytest.mark.parametrize("line", [
    "prompt_tokens: 123456789012345678",
    "tokenizer: /models/ko/tokenizer-v2.model",
    "api_key_env: OPENAI_API_KEY",
    "id: 0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
    "max_tokens: 1024",
    "secret: short",
    "sk-learn is a library",
])
def test_ordinary_lines_are_not_secrets(line):
    assert scan_text(line, {}) == []


def test_findings_never_carry_the_value(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text(f"one\ntwo {OPENAI}\n", encoding="utf-8")
    findings = scan_paths([tmp_path], env_secrets={})
    assert findings == [(path, 2, "openai-key")]
    assert OPENAI not in str(findings[0]) and "notes.md:2" in str(findings[0])


def test_parquet_rows_are_decoded_before_scanning(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"output": ["안녕하세요", "no secret", f"키는 {ENV_VALUE} 입니다"]}), path)
    assert scan_file(path, {"APP_SECRET": ENV_VALUE}) == [(path, 3, "value of $APP_SECRET")]


def test_secret_env_values_pick_names_and_lengths():
    environ = {"OPENAI_API_KEY": "sk-long-enough", "HF_TOKEN": "short", "DB_PASSWORD": "p@ssw0rd!!",
               "HF_TOKEN_PATH": "/root/.cache/huggingface/token", "HOME": "/home/user-with-long-name",
               "MY_SECRET": "  padded-value  "}
    assert secret_env_values(environ) == {"OPENAI_API_KEY": "sk-long-enough", "DB_PASSWORD": "p@ssw0rd!!",
                                          "MY_SECRET": "padded-value"}


def test_secret_names():
    for name in ("api_key", "apiKey", "OPENAI_API_KEY", "hf_token", "client_secret", "password", "x-api-key"):
        assert is_secret_name(name), name
    for name in ("prompt_tokens", "max_tokens", "tokenizer", "api_key_env", "keep_meta", "monkey", "token_path"):
        assert not is_secret_name(name), name


def test_scrub_drops_secret_keys_and_redacts_values():
    env = {"SOME_TOKEN": ENV_VALUE}
    data = {"teacher": {"api_key": OPENAI, "api_key_env": "OPENAI_API_KEY", "model": "gpt-4o-mini",
                        "headers": {"Authorization": f"Bearer {HF}"}},
            "usage": {"prompt_tokens": 10, "completion_tokens": 5},
            "notes": [f"contains {ENV_VALUE}", 3]}
    assert scrub(data, env) == {
        "teacher": {"api_key_env": "OPENAI_API_KEY", "model": "gpt-4o-mini",
                    "headers": {"Authorization": f"Bearer {REDACTED}"}},
        "usage": {"prompt_tokens": 10, "completion_tokens": 5},
        "notes": [f"contains {REDACTED}", 3]}
    assert redact(f"token = {'Ab1' * 8}", {}) == f"token = {REDACTED}"


# ------------------------------------------------------------------ a key where its variable's name belongs

SECRET_RECIPE = """\
name: pasted-key
language: en
method:
  seeds: {seeds}
  target: 6
teacher:
  plugin: openai
  model: gpt-4o-mini
  api_key_env: {value}
"""


@pytest.mark.parametrize("value, how", [
    ("sk-" + "proj-abcdefghijklmnopqrstuvwxyz0123456789", "recipe"),
    ("hf_" + "abcdefghijklmnopqrstuvwxyz0123456789", "--set"),
    ("Zq8" + "xk2LmP0vRt7Yw4Nc6Bd9Fh1Jg3", "recipe"),  # a random-looking token of no known shape
    ("ENV_HELD_SECRET", "env"),  # the value of a secret variable of this environment
])
def test_a_secret_in_an_env_option_is_refused_without_echoing_it_and_nothing_is_written(tmp_path, value, how):
    from factory.testing.helpers import run_cli, write_seeds

    seeds = write_seeds(tmp_path / "seeds.jsonl")
    env = {}
    if how == "env":
        env = {"MY_SERVICE_TOKEN": "ENV_HELD_SECRET"}
    recipe = tmp_path / "r.yaml"
    recipe.write_text(SECRET_RECIPE.format(seeds=seeds, value="OPENAI_API_KEY" if how == "--set" else value))
    out = tmp_path / "run"
    args = ["run", str(recipe), "--out", str(out)] + (["--set", f"teacher.api_key_env={value}"] if how == "--set" else [])
    result = run_cli(*args, env=env)
    assert result.returncode == 2
    assert value not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "teacher.api_key_env" in lines[0] and "looks like a secret itself" in lines[0]
    assert ("--set teacher.api_key_env" in lines[0]) == (how == "--set")
    assert not out.exists()  # no run folder, so no recipe.yaml holding it


def test_env_options_take_variable_names_only():
    from factory.secrets_scan import env_name_problem
    from factory_openai.teacher import OpenAITeacher

    assert env_name_problem("OPENAI_API_KEY") is None and env_name_problem("my_key_2") is None
    assert "not the name of an environment variable" in env_name_problem("MY-KEY")
    with pytest.raises(Exception) as info:
        OpenAITeacher.options_model(model="m", api_key_env="sk-" + "abcdefghijklmnopqrstuvwxyz012345")
    assert "abcdefghijklmnop" not in str(info.value)


def test_the_run_folders_recipe_is_scrubbed(tmp_path):
    """Even a secret that reached the recipe data some other way is never written into RUN/recipe.yaml."""
    from factory.runfolder import RunFolder

    key = "sk-" + "proj-abcdefghijklmnopqrstuvwxyz0123456789"
    run = RunFolder(tmp_path / "run")
    run.open({"x": 1}, {"name": "r", "notes": f"key {key}", "teacher": {"api_key": key, "model": "m"}})
    text = (tmp_path / "run" / "recipe.yaml").read_text()
    assert key not in text and "model: m" in text
