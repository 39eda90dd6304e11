"""A small, finished Korean run folder for export, card, report and publishing tests.

It is made the way users make one: the engine runs a recipe end to end, with
an in-process teacher (:mod:`factory.testing.fake_teacher`) registered
through the real hooks. Its manifest, journal and recipe are therefore exactly
what the engine writes; no test hand-writes the schema the card reads.

The teacher answers every self-instruct prompt with tasks from
:data:`KOREAN_TASKS` (and a few near-duplicates of them, so the filter has
something to reject).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

KOREAN_TASKS: tuple[tuple[str, str, str], ...] = (
    ("다음 문장을 존댓말로 바꾸세요.", "밥 먹었어?", "식사하셨어요?"),
    ("서울에서 부산까지 기차로 가는 방법을 간단히 설명하세요.", "", "서울역에서 KTX를 타면 약 2시간 반 만에 부산역에 도착합니다."),
    ("주어진 숫자들의 평균을 구하세요.", "4, 8, 15, 16, 23, 42", "평균은 18입니다."),
    ("봄에 어울리는 짧은 시를 한 편 지어 주세요.", "", "벚꽃 잎 흩날리는 길 위로\n따스한 바람이 인사를 건넨다."),
    ("다음 글의 주제를 한 문장으로 요약하세요.", "규칙적인 운동은 심장을 튼튼하게 하고 기분을 좋게 만든다.", "규칙적인 운동은 몸과 마음 모두에 이롭다."),
    ("김치찌개를 끓이는 순서를 세 단계로 알려 주세요.", "", "1. 김치와 돼지고기를 볶는다. 2. 물을 붓고 끓인다. 3. 두부와 파를 넣는다."),
    ("다음 단어의 반대말을 쓰세요.", "뜨겁다", "차갑다"),
    ("이메일 제목을 더 정중하게 고쳐 주세요.", "자료 빨리 보내", "자료를 보내 주시면 감사하겠습니다"),
    ("한국의 사계절을 각각 한 단어로 표현하세요.", "", "봄: 새싹, 여름: 장마, 가을: 단풍, 겨울: 눈"),
    ("주어진 문장이 긍정인지 부정인지 분류하세요.", "이 영화는 정말 지루했다.", "부정"),
    ("물이 끓는 온도를 섭씨와 화씨로 알려 주세요.", "", "해수면 기준으로 섭씨 100도, 화씨 212도입니다."),
    ("다음 문장에서 맞춤법이 틀린 부분을 고치세요.", "어의없는 일이 생겼다.", "어이없는 일이 생겼다."),
)

#: tasks the filters reject: a near-duplicate of the first task, and one too short to be a task
REJECTED_TASKS: tuple[tuple[str, str, str], ...] = (
    ("다음 문장을 존댓말로 바꾸세요.", "밥 먹었니?", "식사하셨나요?"),
    ("요약.", "", "짧다."),
)

#: seed tasks of the sample recipe (Korean, written for these tests)
SAMPLE_SEEDS: tuple[str, ...] = (
    "다음 문장을 영어로 번역하세요.",
    "주어진 목록에서 가장 큰 수를 찾으세요.",
    "친구에게 보낼 생일 축하 메시지를 써 주세요.",
    "다음 단락의 핵심 내용을 세 줄로 정리하세요.",
)

SAMPLE_RECIPE: dict[str, Any] = {
    "name": "ko-sample",
    "description": "한국어 지시문 데이터 예시 (test fixture).",
    "language": "ko",
    "seed": 7,
    "batch_size": 2,
    "method": {"plugin": "self-instruct", "target": len(KOREAN_TASKS), "num_prompt_instructions": 2, "num_tasks": 8},
    # one request at a time: the responder hands out KOREAN_TASKS in the order it is asked
    "teacher": {"plugin": "fake", "model": "ko-sample-teacher", "responder": "factory.testing.sample_run:korean_tasks",
                "concurrency": 1, "price": {"input_per_1m": 0.15, "output_per_1m": 0.60}},
    "filters": {"similarity": {"enabled": True, "threshold": 0.7}},
    "export": {"enabled": False},
}


def korean_tasks(request: dict[str, Any]) -> str:
    """Continue a self-instruct prompt with the next tasks of :data:`KOREAN_TASKS`, in prompt order.

    Replies are chosen by how many tasks earlier replies gave, so every task appears once, in order,
    with two the filters reject mixed in (:data:`REJECTED_TASKS`).
    """
    import re

    prompt = request.get("prompt") or str((request.get("messages") or [{}])[-1].get("content", ""))
    first = int(re.findall(r"(\d+)\s*\.\s*[^\n:：]+[:：]\s*$", prompt.strip())[-1])
    state = _STATE.setdefault("next", 0)
    parts = []
    stream = list(KOREAN_TASKS[:2]) + list(REJECTED_TASKS) + list(KOREAN_TASKS[2:])
    for offset in range(3):
        index = state + offset
        instruction, input_text, output = stream[index % len(stream)]
        number = first + offset
        head = f" {instruction}" if offset == 0 else f"{number}. 지시문: {instruction}"
        parts.append(f"{head}\n{number}. 입력:\n{input_text or '<noinput>'}\n{number}. 출력:\n{output}\n###\n")
    _STATE["next"] = state + 3
    return "".join(parts)


_STATE: dict[str, int] = {}


def write_sample_run(run_dir: str | Path, *, recipe: dict[str, Any] | None = None) -> Path:
    """Run the sample recipe (or ``recipe`` merged over it) into ``run_dir`` with the in-process teacher."""
    from factory.engine import run_recipe
    from factory.recipe import load_recipe
    from factory.testing import fake_teacher
    from factory.testing.plugins import registered

    run_dir = Path(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    work = run_dir.parent / f".{run_dir.name}-recipe"
    work.mkdir(exist_ok=True)
    seeds = work / "seed_tasks.jsonl"
    seeds.write_text("".join(json.dumps({"id": f"ko_seed_{i}", "name": f"seed_{i}", "instruction": text,
                                         "instances": [{"input": "", "output": "예시 답변입니다."}],
                                         "is_classification": False}, ensure_ascii=False) + "\n"
                             for i, text in enumerate(SAMPLE_SEEDS)), encoding="utf-8")
    data = _merge({**SAMPLE_RECIPE, "method": {**SAMPLE_RECIPE["method"], "seeds": str(seeds)}}, recipe or {})
    path = work / "recipe.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    _STATE.clear()
    with registered(fake_teacher):
        run_recipe(load_recipe(path), run_dir, quiet=True)
    return run_dir


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return {k: v for k, v in merged.items() if v is not None}


def sample_records(run_dir: str | Path) -> list[dict[str, Any]]:
    """The accepted journal lines of a sample run."""
    text = (Path(run_dir) / "accepted.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def sample_manifest(run_dir: str | Path):
    """The sample run's manifest, as the engine wrote it."""
    from factory.manifest import RunManifest

    return RunManifest.load(Path(run_dir) / "stats.json")
