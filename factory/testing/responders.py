"""Deterministic fake teachers for tests: they answer a self-instruct prompt in its own format.

A responder takes the request JSON (as the loopback OpenAI server receives it)
and returns the continuation text. The tasks are composed from small word
banks seeded by the prompt's hash, so the same prompt always gets the same
answer, different prompts get different answers, and some tasks repeat with
small changes: the near-duplicate filter has real work to do.
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any

_EN_VERBS = ["Summarize", "Explain", "Classify", "Rewrite", "List", "Compare", "Translate", "Describe", "Suggest",
             "Evaluate", "Outline", "Identify", "Convert", "Estimate", "Recommend", "Correct", "Name", "Rank"]
_EN_OBJECTS = ["the main argument of", "three risks of", "the tone of", "two advantages of", "the key steps of",
               "a short title for", "the difference between tea and coffee in", "common mistakes in",
               "the budget of", "the history of", "a polite reply to", "the grammar errors in"]
_EN_TOPICS = ["a city bicycle program", "remote work policies", "a bakery's weekly menu", "a school science fair",
              "solar panels for apartments", "a museum membership plan", "a hiking trip in autumn", "a job interview",
              "a customer complaint about late delivery", "learning a second language", "a neighborhood library",
              "saving money on groceries", "a mobile banking app", "a community garden", "a volunteer schedule"]

_KO_VERBS = ["요약해 주세요", "설명해 주세요", "분류해 주세요", "다시 써 주세요", "나열해 주세요", "비교해 주세요",
             "추천해 주세요", "평가해 주세요", "정리해 주세요", "고쳐 주세요", "제안해 주세요", "분석해 주세요"]
_KO_OBJECTS = ["핵심 내용을", "장점과 단점을", "주요 위험을", "필요한 준비물을", "예상 비용을", "좋은 제목을",
               "자주 하는 실수를", "적절한 답장을", "중요한 단계를", "문법 오류를"]
_KO_TOPICS = ["동네 도서관 운영", "재택근무 규정", "김장 준비", "대학 입시 면접", "전세 계약", "지하철 출퇴근",
              "주말 등산 계획", "카페 창업", "건강검진 결과", "이사 준비", "온라인 쇼핑 환불", "회사 회식 문화",
              "명절 선물 고르기", "반려견 산책", "학교 축제 기획"]


def _next_number(prompt: str) -> int:
    found = re.findall(r"(\d+)\s*\.\s*[^\n:：]+[:：]\s*$", prompt.strip())
    if found:
        return int(found[-1])
    numbers = re.findall(r"(?m)^(\d+)\s*\.", prompt)
    return int(numbers[-1]) + 1 if numbers else 1


def _labels(prompt: str) -> tuple[str, str, str]:
    tail = prompt.strip().splitlines()[-1]
    instruction_label = re.sub(r"^\d+\s*\.\s*", "", tail).rstrip(":：").strip() or "Instruction"
    labels = re.findall(r"(?m)^1\.\s*([^\n:：]+)[:：]", prompt)
    if len(labels) >= 3:
        return labels[0].strip(), labels[1].strip(), labels[2].strip()
    return instruction_label, "Input", "Output"


def self_instruct_responder(request: dict[str, Any], tasks: int = 20) -> str:
    """Continue a numbered self-instruct prompt with tasks up to number ``tasks`` (the stop sequence cuts there)."""
    prompt = request.get("prompt")
    if prompt is None:
        prompt = str((request.get("messages") or [{}])[-1].get("content", ""))
    rng = random.Random(hashlib.sha256(prompt.encode("utf-8")).hexdigest())
    korean = bool(re.search(r"[가-힣]", prompt.split("###")[0]))
    first = _next_number(prompt)
    label_i, label_in, label_out = _labels(prompt)
    parts: list[str] = []
    for number in range(first, tasks + 1):
        if korean:
            topic = rng.choice(_KO_TOPICS)
            instruction = f"{topic}에 관한 {rng.choice(_KO_OBJECTS)} {rng.choice(_KO_VERBS)}."
            input_text = f"{topic}에 대해 팀에서 나온 의견을 모은 메모입니다." if rng.random() < 0.4 else "<noinput>"
            output = f"{topic}의 요점은 일정, 비용, 참여자의 만족도입니다."
        else:
            topic = rng.choice(_EN_TOPICS)
            instruction = f"{rng.choice(_EN_VERBS)} {rng.choice(_EN_OBJECTS)} {topic}."
            input_text = f"Notes from a meeting about {topic}." if rng.random() < 0.4 else "<noinput>"
            output = f"The key points about {topic} are cost, timing and who takes part."
        head = f" {instruction}" if number == first else f"{number}. {label_i}: {instruction}"
        parts.append(f"{head}\n{number}. {label_in}:\n{input_text}\n{number}. {label_out}:\n{output}\n###\n")
    return "".join(parts)


def copying_responder(request: dict[str, Any]) -> str:
    """:func:`self_instruct_responder`, except that the first new task answers with the first demonstration's
    output, verbatim (what a small teacher does with a few-shot prompt): for testing the copy filter."""
    prompt = request.get("prompt")
    if prompt is None:
        prompt = str((request.get("messages") or [{}])[-1].get("content", ""))
    text = self_instruct_responder(request)
    _, _, label_out = _labels(prompt)
    shown = re.findall(rf"(?ms)^\d+\.\s*{re.escape(label_out)}\s*[:：][ \t]*\n(.*?)\n###", prompt)
    if not shown:
        return text
    first = _next_number(prompt)
    pattern = re.compile(rf"(?ms)^({first}\.\s*{re.escape(label_out)}\s*[:：][ \t]*\n)(.*?)(\n###)")
    return pattern.sub(lambda m: m.group(1) + shown[0] + m.group(3), text, count=1)


# ---------------------------------------------------------------- preference methods (ai-feedback, pairwise-judge)

_EN_SENTENCES = ["Start by stating the goal in one line", "Then list what it costs in time and money",
                 "Next ask the people involved what they need", "Finally pick the option that is simplest to keep up"]
_KO_SENTENCES = ["먼저 목표를 한 줄로 정리합니다", "그다음 시간과 비용이 얼마나 드는지 따져 봅니다",
                 "이어서 관련된 사람들에게 무엇이 필요한지 묻습니다", "마지막으로 꾸준히 하기 가장 쉬운 방법을 고릅니다"]

_EN_OPENERS = ["Here is a plan", "One way to do it", "A simple approach", "My suggestion"]
_KO_OPENERS = ["이렇게 해 보세요", "한 가지 방법은 다음과 같습니다", "간단한 접근법", "제 제안"]


def preference_hash(text: str, salt: str = "") -> int:
    return int(hashlib.sha256((salt + text.strip()).encode("utf-8")).hexdigest()[:8], 16)


class PreferenceTeacher:
    """A deterministic answerer and judge for the preference methods, in every installed language's wording.

    - an answer request (a chat whose body carries ``seed`` k) gets an answer of 1 to 4 sentences, the count
      fixed by the prompt and k; prompts whose hash is 0 mod 5 get the same count for every k (a tie), 1 mod 5
      counts 3 or 4 only (a margin of at most one point);
    - the rubric judge (:mod:`factory.quality_judge`) scores an answer one point per sentence plus one (2-5);
      it never replies JSON for the first answer (k=0) of prompts whose hash is 3 mod 7 (judge_unparsed), and
      replies prose once, then JSON, for the second answer of prompts whose hash is 0 mod 3 (retried);
    - the pairwise judge prefers the answer with more sentences, says tie for equal counts, for prompts
      whose hash is 0 mod 4 always picks answer A (a position-biased judge), and for other prompts whose hash
      is 5 mod 11 never replies JSON (judge_unparsed).

    Stateful only in counting the times it saw each request body (for the reply-once-invalid case), so one
    instance serves one server.
    """

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    # -- what each prompt gets ----------------------------------------------------------
    @staticmethod
    def sentences(prompt: str, k: int) -> int:
        h = preference_hash(prompt, "pref")
        if h % 5 == 0:
            return 1 + h % 4
        if h % 5 == 1:
            return 3 + (preference_hash(prompt, f"k{k}") % 2)
        return 1 + preference_hash(prompt, f"k{k}") % 4

    @staticmethod
    def answer(prompt: str, k: int) -> str:
        korean = bool(re.search(r"[가-힣]", prompt))
        bank = _KO_SENTENCES if korean else _EN_SENTENCES
        opener = (_KO_OPENERS if korean else _EN_OPENERS)[k % 4]
        return f"{opener}: " + " ".join(f"{s}." for s in bank[:PreferenceTeacher.sentences(prompt, k)])

    @staticmethod
    def quality(answer: str) -> int:
        return answer.count(".") + 1

    # -- the wire ---------------------------------------------------------------------------
    def __call__(self, request: dict[str, Any]) -> str:
        messages = request.get("messages") or [{"content": request.get("prompt", "")}]
        text = str(messages[-1].get("content", ""))
        key = hashlib.sha256(repr(sorted((k, str(v)) for k, v in request.items())).encode()).hexdigest()
        self.seen[key] = self.seen.get(key, 0) + 1
        for handler in (self._rubric, self._pairwise):
            reply = handler(text, self.seen[key])
            if reply is not None:
                return reply
        return self.answer(text, int(request.get("seed", 0) or 0))

    def _rubric(self, text: str, times: int) -> str | None:
        import json

        from factory.quality_judge import ENGLISH_RUBRIC
        from factory.testing.curation_responders import _wordings

        for rubric in _wordings("judge", ENGLISH_RUBRIC):
            head, tail = f"\n{rubric.instruction_label}:\n", f"\n{rubric.response_label}:\n"
            if rubric.reply_format not in text or head not in text or tail not in text:
                continue
            prompt = text[text.index(head) + len(head):text.rindex(tail)].strip()
            answer = text[text.rindex(tail) + len(tail):text.rindex(rubric.reply_format)].strip()
            h = preference_hash(prompt, "pref")
            first = answer == self.answer(prompt, 0)
            second = answer == self.answer(prompt, 1) and not first
            if (h % 7 == 3 and first) or (h % 3 == 0 and second and times == 1):
                return "I would rate this answer as quite good overall."
            score = self.quality(answer)
            return json.dumps({"score": score, "reason": f"{score - 1} useful step(s)."})
        return None

    def _pairwise(self, text: str, times: int) -> str | None:
        import json

        from factory.default_plugins.pairwise_judge import ENGLISH_PAIRWISE
        from factory.testing.curation_responders import _wordings

        for wording in _wordings("pairwise-judge", ENGLISH_PAIRWISE):
            before, rest = wording.template.split("{prompt}")
            label_a, rest = rest.split("{first}")
            label_b = rest.split("{second}")[0]
            opening = before.split("\n\n")[-1]
            if opening not in text or label_a not in text or label_b not in text:
                continue
            prompt = text[text.index(opening) + len(opening):text.index(label_a)].strip()
            first = text[text.index(label_a) + len(label_a):text.index(label_b)].strip()
            second = text[text.index(label_b) + len(label_b):].split("\n\n")[0].strip()
            h = preference_hash(prompt, "pref")
            if h % 4 != 0 and h % 11 == 5:
                return "Both responses have merits; the first is a little clearer."
            if h % 4 == 0:
                winner = "A"
            else:
                a, b = self.quality(first), self.quality(second)
                winner = "tie" if a == b else ("A" if a > b else "B")
            return json.dumps({"winner": winner, "reason": "More useful steps." if winner != "tie" else "Equal."})
        return None


#: one instance for ``--responder factory.testing.responders:preference_responder`` (a loopback subprocess)
preference_responder = PreferenceTeacher()


# -- conversations: self-chat and distill ---------------------------------------------------------------
_KO_FOLLOW_UPS = ["그렇다면 {topic}을 처음 해 보는 사람은 무엇부터 준비하면 좋을까요?",
                  "{topic}에서 사람들이 가장 자주 하는 실수는 무엇인가요?",
                  "비용을 아끼면서 {topic}을 하려면 어떤 방법이 있을까요?",
                  "{topic}과 관련해서 꼭 피해야 할 일이 있나요?",
                  "예를 하나 들어서 {topic}을 다시 설명해 주실 수 있나요?"]
_KO_ANSWERS = ["{topic}은 먼저 목표를 정하고 일정과 예산을 나누어 계획하면 훨씬 수월합니다.",
               "{topic}에서는 작은 부분부터 시작해 조금씩 범위를 넓히는 방법이 가장 안전합니다.",
               "{topic}의 핵심은 미리 확인할 목록을 만들고 하나씩 점검하는 습관입니다.",
               "{topic}을 할 때는 경험자의 조언을 듣고 기록을 남기면 실수를 줄일 수 있습니다."]
_EN_FOLLOW_UPS = ["Then what should someone new to {topic} prepare first?",
                  "What is the most common mistake people make with {topic}?",
                  "How can I keep the cost of {topic} down?"]
_EN_ANSWERS = ["With {topic}, set a goal first and split the plan into a schedule and a budget.",
               "For {topic}, start small and widen the scope step by step."]


def _digest(*parts: str) -> random.Random:
    return random.Random(hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest())


def _topic(text: str, korean: bool) -> str:
    bank = _KO_TOPICS if korean else _EN_TOPICS
    return next((t for t in bank if t in text), _digest(text).choice(bank))


def conversation_responder(request: dict[str, Any], stop_after: int = 3) -> str:
    """Plays both roles of a self-chat and answers distill prompts, in the language of the request.

    - a user-role prompt (the transcript and "write the person's next message") gets a follow-up question on the
      conversation's topic, or the stop marker once the transcript holds ``stop_after`` user turns (and, for one
      chat in eight, after the first: the stop rule and ``chat_too_short`` get real cases);
    - a transcript-mode prompt gets a whole labelled dialogue of three exchanges on the question's topic;
    - any other chat request gets an answer to its last user message (one in ten distill prompts that mention
      "비밀" / "secret" get a refusal).
    """
    messages = request.get("messages") or [{"role": "user", "content": str(request.get("prompt", ""))}]
    last = str(messages[-1].get("content", ""))
    korean = bool(re.search(r"[가-힣]", last))
    if "사람 역할" in last or "You play the person" in last:
        user_label = "[사용자]" if korean else "[USER]"
        stop = "[끝]" if korean else "[END]"
        body = last.split("\n\n", 1)[1] if "\n\n" in last else last
        users = body.count(user_label)
        first = body.split(user_label, 1)[1].split("\n", 1)[0] if user_label in body else body
        if users >= stop_after or (users == 1 and _digest(first).random() < 0.125):
            return stop
        rng = _digest(first, str(users))
        topic = _topic(first, korean)
        bank = _KO_FOLLOW_UPS if korean else _EN_FOLLOW_UPS
        return bank[(users + rng.randrange(len(bank))) % len(bank)].format(topic=topic)
    if "실제 같은 대화" in last or "Write a realistic chat" in last:  # transcript mode: the whole dialogue
        question = last.rsplit("질문: " if korean else "Question: ", 1)[-1].strip()
        labels = ("[사용자]", "[AI]") if korean else ("[USER]", "[AI]")
        topic = _topic(question, korean)
        follow = _KO_FOLLOW_UPS if korean else _EN_FOLLOW_UPS
        answers = _KO_ANSWERS if korean else _EN_ANSWERS
        lines = [f"{labels[0]} {question}", f"{labels[1]} {answers[0].format(topic=topic)}"]
        for n in range(2):
            lines += [f"{labels[0]} {follow[n].format(topic=topic)}", f"{labels[1]} {answers[n + 1].format(topic=topic)}"]
        return "\n".join(lines)
    if ("비밀" in last or "secret" in last.lower()) and len(messages) <= 2:
        return "죄송하지만 그 질문에는 답변드릴 수 없습니다." if korean else "I'm sorry, I cannot help with that."
    rng = _digest(last)
    topic = _topic(last, korean)
    bank = _KO_ANSWERS if korean else _EN_ANSWERS
    detail = f" ({last[:40]}에 대한 답변)" if korean else f" (about: {last[:40]})"
    return bank[rng.randrange(len(bank))].format(topic=topic) + detail
