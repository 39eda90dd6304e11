"""A small, finished Korean run folder for export, card and publishing tests.

The records, stats and recipe have the shapes the engine writes (see
:mod:`factory.runfolder` and :mod:`factory.stats`), with meta values of every
kind the exporter must handle: strings, floats, integers, booleans, lists and
keys present in only some records.
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

SAMPLE_RECIPE: dict[str, Any] = {
    "name": "ko-sample",
    "description": "한국어 지시문 데이터 예시 (test fixture).",
    "language": "ko",
    "seed": 7,
    "method": {"plugin": "self-instruct", "target": 12},
    "teacher": {"plugin": "openai", "model": "gpt-4o-mini", "api_key_env": "OPENAI_API_KEY"},
    "filters": {"similarity": {"enabled": True, "threshold": 0.7}},
    "export": {"test_size": 0.0},
}


def sample_records() -> list[dict[str, Any]]:
    """Accepted records in the engine's Record shape, with mixed meta kinds."""
    records = []
    for i, (instruction, input_text, output) in enumerate(KOREAN_TASKS):
        meta: dict[str, Any] = {"source": "seed" if i < 2 else "generated", "rouge_max": round(0.1 + i * 0.03, 3),
                                "batch": i // 4, "regenerated": i % 3 == 0}
        if i % 2:
            meta["most_similar"] = [f"seed_task_{i}", f"seed_task_{i + 1}"]  # a list: stored JSON-encoded
        if i % 5 == 0:
            meta["note"] = 3 if i == 0 else "짧음"  # mixed int and str: JSON-encoded too
        records.append({"id": f"ko-{i:04d}", "instruction": instruction, "input": input_text, "output": output,
                        "meta": meta})
    return records


def sample_stats(accepted: int) -> dict[str, Any]:
    """A finished run's stats.json with every provenance key the card shows."""
    return {
        "recipe": "ko-sample",
        "language": "ko",
        "status": "finished",
        "started_at": "2025-03-01T09:00:00Z",
        "finished_at": "2025-03-01T09:12:34Z",
        "accepted": accepted,
        "rejected": 9,
        "stages": {"seed": {"seconds": 0.01},
                   "generate": {"accepted": accepted, "rejected": 9, "batches": 3, "seconds": 741.2}},
        "rejections": {"too_similar": 5, "blacklist": 2, "too_short": 1, "script": 1},
        "usage": {"generate": {"requests": 6, "prompt_tokens": 12345, "completion_tokens": 6789,
                               "billed_characters": 0, "cost_usd": 0.0059}},
        "totals": {"requests": 6, "prompt_tokens": 12345, "completion_tokens": 6789, "billed_characters": 0,
                   "cost_usd": 0.0059},
        "provenance": {
            "method": "self-instruct",
            "teacher": {"plugin": "openai", "model": "gpt-4o-mini", "endpoint_kind": "chat"},
            "translator": None,
            "seed_set": {"path": "seeds/ko/seed_tasks.jsonl", "sha256": "ab" * 32, "count": 20},
            "prompt_sha256": "cd" * 32,
            "filters": {"similarity": {"enabled": True, "threshold": 0.7, "field": "instruction"},
                        "min_instruction_words": 2, "max_instruction_words": 150, "blacklist": True},
            "factory_version": "0.1.0",
        },
    }


def write_sample_run(run_dir: str | Path, *, extra_stats: dict[str, Any] | None = None,
                     extra_recipe: dict[str, Any] | None = None) -> Path:
    """Write recipe.yaml, accepted.jsonl, rejected.jsonl and stats.json into ``run_dir``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    records = sample_records()
    with (run_dir / "accepted.jsonl").open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    rejected = {"id": "ko-r0", "instruction": "그림을 그려 주세요.", "input": "", "output": "", "meta": {},
                "reason": "blacklist"}
    (run_dir / "rejected.jsonl").write_text(json.dumps(rejected, ensure_ascii=False) + "\n", encoding="utf-8")
    stats = sample_stats(len(records))
    stats.update(extra_stats or {})
    (run_dir / "stats.json").write_text(json.dumps(stats, ensure_ascii=False, indent=2), encoding="utf-8")
    recipe = {**SAMPLE_RECIPE, **(extra_recipe or {})}
    (run_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe, allow_unicode=True, sort_keys=False),
                                         encoding="utf-8")
    return run_dir
