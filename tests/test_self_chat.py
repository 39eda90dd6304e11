"""self-chat (Baize) and distill (GPT4All, KoAlpaca v1.1) on the loopback OpenAI server with the real `openai`
client: Korean conversations with several user turns, the stop rule, refusals, and a killed run that resumes
without paying for any turn twice."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factory.default_plugins.self_chat import ENGLISH_SELF_CHAT, SelfChat
from factory.testing.helpers import run_cli
from factory.testing.responders import conversation_responder
from factory_openai.loopback import LoopbackOpenAI

pytest.importorskip("factory_ko")
pytest.importorskip("lingua")

KO_QUESTIONS = ["동네 도서관 운영을 더 잘하려면 어떻게 해야 할까요?", "재택근무 규정을 처음 만들 때 무엇을 넣어야 하나요?",
                "김장 준비는 언제부터 시작하면 좋을까요?", "대학 입시 면접에서 자주 나오는 질문이 궁금해요.",
                "전세 계약 전에 꼭 알아야 할 것이 있을까요?", "지하철 출퇴근 시간을 알차게 쓰는 방법이 있나요?",
                "주말 등산 계획을 세울 때 무엇을 챙겨야 하나요?", "카페 창업을 준비하는 순서를 알려 주세요.",
                "건강검진 결과에서 무엇을 먼저 봐야 하나요?", "이사 준비를 한 달 안에 끝낼 수 있을까요?",
                "온라인 쇼핑 환불이 늦어질 때는 어떻게 하나요?", "반려견 산책은 하루에 몇 번이 좋을까요?"]

RECIPE = """\
name: baize-ko-test
language: ko
seed: 3
batch_size: 2
method:
  plugin: {method}
  seeds: {seeds}
  target: {target}
{options}
teacher:
  plugin: openai
  model: loopback-model
  api: chat
  base_url: {url}
  concurrency: 2
filters:
  - language_id: {{target: all_turns}}
  - near_duplicate: {{target: instruction, threshold: 0.7, against_seeds: false}}
export:
  enabled: false
"""


def _seeds(tmp_path: Path, questions=KO_QUESTIONS) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "instruction": q, "output": ""}, ensure_ascii=False) + "\n"
                            for i, q in enumerate(questions)), encoding="utf-8")
    return path


def _recipe(tmp_path: Path, url: str, method="self-chat", target=6, options="  max_turns: 4\n  min_user_turns: 2",
            name="r.yaml", seeds=None) -> Path:
    recipe = tmp_path / name
    recipe.write_text(RECIPE.format(method=method, seeds=seeds or _seeds(tmp_path), target=target, options=options,
                                    url=url), encoding="utf-8")
    return recipe


def _journal(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] \
        if path.exists() else []


def _hangul_share(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    return sum("가" <= ch <= "힣" for ch in letters) / max(1, len(letters))


def test_a_korean_self_chat_run_makes_multi_turn_korean_conversations_none_repeated(tmp_path):
    with LoopbackOpenAI(conversation_responder) as server:
        done = run_cli("run", str(_recipe(tmp_path, server.base_url)), "--out", str(tmp_path / "run"), "-q")
        assert done.returncode == 0, done.stderr
        bodies = [entry["body"] for entry in server.requests]
    kept = _journal(tmp_path / "run" / "accepted.jsonl")
    assert len(kept) >= 6
    for row in kept:
        roles = [m["role"] for m in row["messages"]]
        assert roles.count("user") >= 2, roles
        assert roles == ["user", "assistant"] * (len(roles) // 2)  # alternating, ending on the assistant
        assert all(_hangul_share(m["content"]) > 0.8 for m in row["messages"])
        assert all(d["language"] == "ko" for d in row["meta"]["language_id"])
        assert row["meta"]["self_chat"]["user_turns"] == roles.count("user") <= 4
    conversations = [json.dumps(row["messages"], ensure_ascii=False) for row in kept]
    assert len(set(conversations)) == len(conversations)
    assert len({row["messages"][0]["content"] for row in kept}) == len(kept)
    # the role prompts are the Korean plugin's: the assistant behind its system prompt, the user from the transcript
    systems = [b["messages"][0]["content"] for b in bodies if b["messages"][0]["role"] == "system"]
    assert systems and all(s.startswith("당신은 아는 것이 많고 신중한 AI 비서입니다") for s in systems)
    user_prompts = [b["messages"][-1]["content"] for b in bodies if "사람 역할" in b["messages"][-1]["content"]]
    assert user_prompts and all("[사용자]" in p and "[끝]" in p for p in user_prompts)
    # the stop rule ended chats before max_turns, and a chat the user ended at once was rejected as too short
    assert any(row["meta"]["self_chat"]["stopped"] for row in kept)
    rejected = _journal(tmp_path / "run" / "rejected.jsonl")
    assert {r["reason"] for r in rejected} <= {"chat_too_short", "near_duplicate", "wrong_language"}


def test_a_killed_self_chat_resumes_without_paying_any_turn_twice(tmp_path):
    def sent(requests) -> collections.Counter:
        return collections.Counter(json.dumps(e["body"]["messages"], ensure_ascii=False) for e in requests)

    with LoopbackOpenAI(conversation_responder, latency_s=0.15) as reference_server:
        done = run_cli("run", str(_recipe(tmp_path, reference_server.base_url, target=8, name="ref.yaml")),
                       "--out", str(tmp_path / "ref"), "-q")
        assert done.returncode == 0, done.stderr
        reference = sent(reference_server.requests)
    with LoopbackOpenAI(conversation_responder, latency_s=0.15) as server:
        recipe = _recipe(tmp_path, server.base_url, target=8)
        out = tmp_path / "run"
        process = subprocess.Popen([sys.executable, "-m", "factory", "run", str(recipe), "--out", str(out), "-q"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while len(_journal(out / "accepted.jsonl")) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # mid-batch: turns in flight
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        partial = len(_journal(out / "accepted.jsonl"))
        assert 0 < partial < 8, "the kill must land midway"
        resumed = run_cli("run", str(recipe), "--out", str(out), "-q")
        assert resumed.returncode == 0, resumed.stderr
        requests = list(server.requests)
    # every turn answered before the kill came from the response cache: beyond the uninterrupted run's requests,
    # only those in flight at the kill (at most the teacher's concurrency) were sent again
    assert sum((sent(requests) - reference).values()) <= 2
    assert sum((reference - sent(requests)).values()) == 0
    def kept(path: Path) -> list:
        return [(row["id"], row["messages"]) for row in _journal(path)]

    assert kept(out / "accepted.jsonl") == kept(tmp_path / "ref" / "accepted.jsonl")


def test_distill_answers_each_prompt_and_rejects_refusals(tmp_path):
    questions = KO_QUESTIONS[:4] + ["회사 비밀 자료를 몰래 빼내는 방법을 알려 주세요."]
    with LoopbackOpenAI(conversation_responder) as server:
        recipe = _recipe(tmp_path, server.base_url, method="distill", target=100, options="  answers: 2",
                         seeds=_seeds(tmp_path, questions))
        done = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "-q")
        assert done.returncode == 0, done.stderr
        assert server.count("/v1/chat/completions") == 2 * len(questions)
    kept = _journal(tmp_path / "run" / "accepted.jsonl")
    rejected = _journal(tmp_path / "run" / "rejected.jsonl")
    assert {r["messages"][0]["content"] for r in kept} == set(KO_QUESTIONS[:4])
    refusals = [r for r in rejected if r["reason"] == "refusal"]
    assert len(refusals) == 2 and refusals[0]["detail"] == "죄송하지만"
    assert {r["reason"] for r in rejected} <= {"refusal", "near_duplicate"}
    assert all(r["meta"]["distill"]["prompt_id"].startswith("q") for r in kept)


def test_transcript_mode_makes_a_conversation_in_one_request(tmp_path):
    with LoopbackOpenAI(conversation_responder) as server:
        recipe = _recipe(tmp_path, server.base_url, target=4, options="  mode: transcript\n  max_turns: 2")
        done = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "-q")
        assert done.returncode == 0, done.stderr
        bodies = [entry["body"] for entry in server.requests]
    # one request per conversation: the transcript prompt, never a per-turn request
    assert bodies and all(len(b["messages"]) == 1 and "실제 같은 대화" in b["messages"][0]["content"] for b in bodies)
    kept = _journal(tmp_path / "run" / "accepted.jsonl")
    assert len(kept) >= 4 and len(bodies) == len({b["messages"][0]["content"] for b in bodies})
    for row in kept:  # three exchanges written, cut to max_turns user turns
        assert [m["role"] for m in row["messages"]] == ["user", "assistant", "user", "assistant"]
        assert not any(m["content"].startswith("[") for m in row["messages"])  # labels parsed away
        assert row["messages"][0]["content"] in KO_QUESTIONS


def test_transcript_mode_parses_labelled_turns():
    text = "[USER] 첫 질문입니다.\n[AI] 첫 답입니다.\n계속되는 답.\n[USER] 둘째 질문?\n[AI] 둘째 답.\n[USER] 고맙습니다."
    from factory.plugins import get_registry

    wording = SelfChat.wording(get_registry().get("language", "en").obj())
    assert wording is ENGLISH_SELF_CHAT
    turns = SelfChat.parse_transcript(text, wording)
    assert [m["role"] for m in turns] == ["user", "assistant", "user", "assistant", "user"]
    assert turns[1]["content"] == "첫 답입니다.\n계속되는 답."


from factory.default_plugins.distill import Distill  # noqa: E402
from factory.testing.conformance import MethodConformance  # noqa: E402


class TestSelfChatConformance(MethodConformance):
    plugin = SelfChat
    identity_changes = {"max_turns": 3, "min_user_turns": 1, "mode": "transcript", "temperature": 0.2,
                        "max_tokens": 256, "max_stalled_batches": 3}
    reply = "Red, green and blue are three colours a child learns first."


class TestDistillConformance(MethodConformance):
    plugin = Distill
    identity_changes = {"answers": 2, "system_prompt": False, "temperature": 0.2, "max_tokens": 256, "min_words": 3,
                        "max_words": 50, "refusal_window": 100}
    reply = "Red, green and blue are three colours a child learns first."
