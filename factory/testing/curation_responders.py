"""A deterministic teacher for the curation methods and the judge: Evol-Instruct, the original self-instruct and
the quality rubric, in every installed language's wording.

``curation_responder(request)`` answers a request as the loopback OpenAI server (or the in-process fake teacher)
receives it. It recognises each prompt by the wording the language plugins register (so English and Korean
runs both work) and answers in that prompt's format; the answers vary with the prompt's hash, so every
elimination rule and every rejection reason gets real cases:

- an evolving prompt gets the instruction with one more requirement (sometimes a reply that copies the
  evolving prompt's words: rule 4); an in-breadth prompt a new task;
- the same-task question gets ``{"same": false}`` (``true`` for one in ten: rule 1);
- a bare instruction (an evolved one) gets an answer, or for one in ten a short refusal (rule 2);
- the original self-instruct's three prompts get new tasks, yes/no, and instances in the order asked;
- the judge gets ``{"score": ..., "reason": ...}``: a refusal scores 1, other answers 2 to 5 by their hash.

Anything else goes to :func:`factory.testing.responders.self_instruct_responder`.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Iterator

from factory.testing.responders import _EN_OBJECTS, _EN_TOPICS, _KO_OBJECTS, _KO_TOPICS, self_instruct_responder

_HANGUL = re.compile(r"[가-힣]")
_EN_CONSTRAINTS = [  # 10 to 20 words, as the evolving prompt asks
    "Answer in exactly three sentences, and make the last sentence a practical recommendation for a beginner.",
    "Include one concrete example with real numbers, and explain how the result would change if they doubled.",
    "Compare two different approaches side by side, list one risk of each, and recommend one of them.",
    "Explain each step of your reasoning in a numbered list before you state the final conclusion.",
    "Keep the whole answer under eighty words, avoid technical jargon, and address a curious teenager.",
    "Finish with a short summary table that has one row for every option you discussed.",
]
_KO_CONSTRAINTS = [
    "정확히 세 문장으로 답하고, 마지막 문장은 처음 시작하는 사람을 위한 실용적인 조언으로 쓰세요.",
    "실제 숫자가 들어간 구체적인 예를 하나 들고, 그 숫자가 두 배가 되면 결과가 어떻게 바뀌는지 설명하세요.",
    "서로 다른 두 가지 방법을 나란히 비교하고, 각각의 위험을 하나씩 든 뒤 하나를 추천하세요.",
    "결론을 말하기 전에 추론 과정을 번호를 붙인 목록으로 한 단계씩 설명하세요.",
    "전문 용어를 쓰지 말고, 호기심 많은 중학생에게 말하듯이 80단어 이내로 답하세요.",
    "논의한 선택지마다 한 줄씩 들어가는 짧은 요약 표로 답을 마무리하세요.",
]


_EN_CLASSIFY = ["Classify the sentiment of a customer review about {topic} as positive or negative.",
                "Decide whether a short comment on {topic} sounds positive or negative.",
                "Label the attitude of this forum post about {topic}: positive or negative?",
                "Is the feedback our team received on {topic} positive or negative? Classify it."]
_KO_CLASSIFY = ["{topic}에 대한 고객 후기의 감정을 긍정 또는 부정으로 분류하세요.",
                "{topic}에 관한 짧은 댓글이 긍정적인지 부정적인지 판단해 주세요.",
                "{topic}을 다룬 게시글의 태도를 긍정과 부정 중 하나로 분류하세요.",
                "우리 팀이 받은 {topic} 관련 의견은 긍정인가요, 부정인가요? 분류해 주세요."]


def _text(request: dict[str, Any]) -> str:
    prompt = request.get("prompt")
    if prompt is not None:
        return str(prompt)
    return str((request.get("messages") or [{}])[-1].get("content", ""))


def _number(text: str, salt: str = "") -> int:
    return int(hashlib.sha256((salt + text).encode("utf-8")).hexdigest()[:8], 16)


def _wordings(key: str, english: Any) -> Iterator[Any]:
    yield english
    from factory.plugins import get_registry

    for entry in get_registry().entries("language"):
        found = getattr(entry.obj, "wordings", {}).get(key)
        if found is not None:
            yield found


def _between(text: str, template: str) -> str | None:
    """The ``{prompt}`` part of ``text`` built from ``template`` (its last paragraph before the prompt, and after)."""
    before, after = template.split("{prompt}")
    marker = before.split("\n\n")[-1]
    if not marker or marker not in text or after.strip() not in text:
        return None
    end = text.rindex(after.rstrip("\n"))
    start = text.rindex(marker, 0, end) + len(marker) if marker in text[:end] else 0
    return text[start:end].strip()


def _judge(text: str) -> str | None:
    from factory.quality_judge import ENGLISH_RUBRIC

    for rubric in _wordings("judge", ENGLISH_RUBRIC):
        if rubric.reply_format in text:
            label = f"\n{rubric.response_label}:\n"
            response = text[text.rindex(label) + len(label):text.rindex(rubric.reply_format)].strip()
            if re.search(r"sorry|죄송|cannot|할 수 없", response, re.IGNORECASE) or not response:
                return json.dumps({"score": 1, "reason": "The response does not answer the instruction."})
            score = [5, 4.5, 4.5, 4, 3, 2][_number(response, "judge") % 6]
            return json.dumps({"score": score, "reason": f"Rated {score} for accuracy and completeness."})
    return None


def _evol(text: str) -> str | None:
    from factory.default_plugins.evol_instruct import ENGLISH_EVOL

    for wording in _wordings("evol-instruct", ENGLISH_EVOL):
        head = wording.same_task.split("{first}")[0]
        if head and text.startswith(head):
            return json.dumps({"same": _number(text, "same") % 10 == 0})
        for template, breadth in ((wording.in_depth, False), (wording.in_breadth, True)):
            fixed = template.split("{rule}")[0].split("{prompt}")[0][:60]
            if not text.startswith(fixed):
                continue
            original = _between(text, template) or ""
            korean = bool(_HANGUL.search(original or text))
            n = _number(text, "evol")
            if n % 12 == 0:  # what a weak teacher does: it talks about the rewriting (rule 4)
                return ("다음은 더 어려운 과제입니다: " if korean else "Here is the harder task: ") + original
            if breadth:
                topic = (_KO_TOPICS if korean else _EN_TOPICS)[n % 15]
                if korean:
                    return f"{topic}에 관한 {_KO_OBJECTS[n % len(_KO_OBJECTS)]} 자세히 설명해 주세요."
                return f"Describe {_EN_OBJECTS[n % len(_EN_OBJECTS)]} {topic} in detail."
            constraint = (_KO_CONSTRAINTS if korean else _EN_CONSTRAINTS)[n % 6]
            return f"{original} {constraint}"
    return None


def _original(text: str) -> str | None:
    from factory.default_plugins.self_instruct_original import ENGLISH_ORIGINAL

    for w in _wordings("self-instruct-original", ENGLISH_ORIGINAL):
        korean = w.task_label != ENGLISH_ORIGINAL.task_label
        n = _number(text, "original")
        stripped = text.rstrip()
        if text.startswith(w.generate_header[:40]):
            first = int(re.findall(rf"{re.escape(w.task_label)} (\d+):", text)[-1])
            tasks = []
            for i in range(4):
                topic = (_KO_TOPICS if korean else _EN_TOPICS)[(n + 5 * i) % 15]
                if (n + i) % 3 == 0:
                    kind = (n // 7 + i) % len(_KO_CLASSIFY)
                    tasks.append(_KO_CLASSIFY[kind].format(topic=topic) if korean else
                                 _EN_CLASSIFY[kind].format(topic=topic))
                else:
                    objects = _KO_OBJECTS if korean else _EN_OBJECTS
                    tasks.append(f"{topic}에 관한 {objects[(n + i) % len(objects)]} 정리해 주세요." if korean else
                                 f"Summarize {objects[(n + i) % len(objects)]} {topic}.")
            return "".join((f" {t}" if i == 0 else f"\n{w.task_label} {first + i}: {t}") for i, t in enumerate(tasks))
        if text.startswith(w.classify_header[:40]) and stripped.endswith(w.classify_question):
            last = stripped.splitlines()[-2]
            return f" {w.yes[0] if re.search('Classify|분류', last) else w.no[0]}"
        if text.startswith(w.output_first_header[:30]) and stripped.endswith(f"{w.class_label}:"):
            positive = n % 2 == 0
            label = ("긍정" if positive else "부정") if korean else ("Positive" if positive else "Negative")
            review = (("정말 만족스러웠고 다음에도 또 이용하고 싶어요." if positive else "기대보다 훨씬 실망스러웠고 다시는 안 갈 거예요.")
                      if korean else ("It was wonderful and I would gladly go again." if positive
                                      else "It was a big disappointment and I will not go back."))
            return f" {label}\n{w.input_label}: {review}"
        if text.startswith(w.input_first_header[:30]) and stripped.endswith(f"{w.input_label}:"):
            task = stripped.splitlines()[-2].split(":", 1)[-1].strip()
            if n % 3 == 0:
                input_text = w.noinput
            else:
                input_text = "팀 회의에서 나온 의견을 모은 메모입니다." if korean else "Notes from a team meeting about it."
            output = (f"{task[:30]}에 대한 답: 일정, 비용, 참여자 만족도를 차례로 살펴보면 됩니다." if korean else
                      f"For this task ({task[:40]}), look at timing, cost and who takes part, in that order.")
            return f" {input_text}\n{w.output_label}: {output}"
    return None


def _answer(text: str) -> str:
    korean = bool(_HANGUL.search(text))
    if _number(text, "answer") % 10 == 0:
        return "죄송하지만 그 요청은 도와드릴 수 없습니다." if korean else "Sorry, I cannot help with that request."
    topic = " ".join(text.split()[:4])
    if korean:
        return (f"'{topic}'에 대한 답입니다. 먼저 목표를 분명히 하고, 필요한 비용과 일정을 따져 본 뒤, "
                "참여하는 사람들의 의견을 모아 가장 현실적인 방안을 고르는 것이 좋습니다.")
    return (f"About '{topic}': first make the goal clear, then weigh the cost and the schedule, and finally "
            "ask the people involved before choosing the most practical option.")


def curation_responder(request: dict[str, Any]) -> str:
    """Answer any prompt of the curation methods or the judge (see the module docstring)."""
    text = _text(request)
    for handler in (_judge, _evol, _original):
        reply = handler(text)
        if reply is not None:
            return reply
    if request.get("messages") is not None and not re.search(r"(?m)^\d+\.\s*\S+[:：]\s*$", text.strip()):
        return _answer(text)
    return self_instruct_responder(request)
