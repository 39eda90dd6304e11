"""Measure the bundled gemma-3-270m teacher: first load (GGUF conversion), second load, tokens/s.

    FACTORY_CACHE_DIR=$(mktemp -d) OMP_NUM_THREADS=1 python plugins/transformers/bench_gemma.py --threads 1

Prints one JSON object. With an empty FACTORY_CACHE_DIR the first load
includes the one-time conversion; point it at a filled one to time loads only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from factory.teachers import TeacherRequest

from factory_transformers import TransformersTeacher

PROMPT = """아래에 다양한 작업 지시문 목록이 있습니다. 새로운 지시문을 이어서 작성하세요.

1. 지시문: 서울에서 부산까지 기차로 가는 방법을 설명해 주세요.
2. 지시문: 다음 문장을 존댓말로 바꾸세요. "밥 먹었어?"
3. 지시문: 건강한 아침 식사 메뉴 세 가지를 추천해 주세요.
4. 지시문:"""


async def _generate(teacher: TransformersTeacher, count: int, max_tokens: int) -> tuple[float, int]:
    requests = [TeacherRequest(prompt=PROMPT, max_tokens=max_tokens, temperature=0.7, top_p=0.95,
                               extra=(("repetition_penalty", 1.0 + i / 1000),))  # distinct requests
                for i in range(count)]
    started = time.perf_counter()
    results = await asyncio.gather(*(teacher.complete(r) for r in requests))
    return time.perf_counter() - started, sum(r.completion_tokens for r in results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    report: dict[str, object] = {"threads": args.threads}
    for label in ("first_load_s", "second_load_s"):
        started = time.perf_counter()
        teacher = TransformersTeacher(bundled="gemma3-270m", torch_threads=args.threads, batch_size=8,
                                      max_batch_wait_ms=50)
        report[label] = round(time.perf_counter() - started, 1)
        if teacher.source.converted_seconds is not None:
            report["conversion_s"] = round(teacher.source.converted_seconds, 1)
    asyncio.run(_generate(teacher, 1, 8))  # warm-up: first-call allocations are not generation speed
    for batch in (1, 8):
        seconds, tokens = asyncio.run(_generate(teacher, batch, args.max_tokens))
        report[f"batch{batch}_tokens"] = tokens
        report[f"batch{batch}_tokens_per_s"] = round(tokens / seconds, 1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
