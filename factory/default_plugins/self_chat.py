"""The ``self-chat`` method (Baize): the teacher talks to itself, playing the user and the assistant in turn.

Each item starts from a seed question (the first user turn of a record in ``method.seeds``: seed tasks, Alpaca,
ShareGPT or messages rows; by default the language's seed set). Then, turn by turn:

- the assistant turn: the conversation so far, behind a system prompt that makes the teacher a helpful
  assistant writing in the recipe's language;
- the user turn: one request showing the transcript and asking the teacher to write what the user says next,
  or the stop marker when the user has what they need (the stop rule: the chat ends there);

up to ``max_turns`` user turns. Any chat teacher works: each call is an ordinary chat request, no transcript
format is needed. ``mode: transcript`` instead asks a strong teacher for the whole dialogue in one call (Baize's
original prompt style), labelled lines that are parsed back into turns.

A conversation with fewer than ``min_user_turns`` user turns is rejected (``chat_too_short``); an empty or
truncated turn rejects it too. Every request is fixed by the recipe seed, the item's position and the turns
before it, and the response cache keeps each reply as it arrives, so a resumed run pays no turn twice.
The prompts are worded by the language plugin (``Language.wordings["self-chat"]``, a :class:`SelfChatWording`);
without one, the English wording asks for the recipe's language. The wording is ours.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field

from factory.contracts import Options
from factory.hookspecs import hookimpl
from factory.methods import BatchResult, Method, MethodContext, MethodEstimate, item_id
from factory.records import Record, message
from factory.teachers import TeacherRequest


@dataclass(frozen=True)
class SelfChatWording:
    """The role prompts of self-chat in one language (``{language}``, ``{transcript}``, ``{stop}`` filled in)."""

    assistant_system: str
    user_prompt: str  # asks for the user's next message, or the stop marker
    transcript_prompt: str  # mode transcript: the whole dialogue at once ({question}, {turns}, labels)
    user_label: str
    assistant_label: str
    stop_marker: str = "[END]"


ENGLISH_SELF_CHAT = SelfChatWording(
    assistant_system=("You are a knowledgeable, careful assistant. Answer the user's latest message helpfully and "
                      "concretely, in {language}."),
    user_prompt=(
        "Below is a chat between a person and an AI assistant. You play the person. Write the person's next "
        "message: a natural follow-up that asks for more detail, a related case or a clarification, written in "
        "{language}, one message only and without a label. If the person has got what they needed and would end "
        "the chat, write only {stop}.\n\n{transcript}\n\nThe person's next message:"
    ),
    transcript_prompt=(
        "Write a realistic chat in {language} between a curious person and a helpful AI assistant, starting with "
        "the person's question below, with about {turns} messages from the person, each followed by the "
        "assistant's reply. Start every message on a new line with its label, {user_label} or {assistant_label}, "
        "and write nothing else. End the chat when the person has what they need.\n\nQuestion: {question}"
    ),
    user_label="[USER]",
    assistant_label="[AI]",
)


class SelfChatOptions(Options):
    max_turns: int = Field(4, ge=1, le=30, description="User turns at most in one conversation (the chat may stop "
                           "earlier: the stop rule).")
    min_user_turns: int = Field(2, ge=1, description="Reject conversations with fewer user turns than this.")
    mode: Literal["turns", "transcript"] = Field("turns", description="turns: one request per turn (any chat "
                                                 "teacher); transcript: the whole dialogue in one request.")
    temperature: float = Field(0.7, ge=0, le=2, description="Sampling temperature of every turn.")
    max_tokens: int = Field(1024, ge=16, description="Tokens one turn may take (transcript mode: the dialogue).")
    max_stalled_batches: int = Field(25, ge=1, description="Stop when this many batches in a row keep nothing.")


def seed_question(record: Record) -> str:
    return (record.turns("user") or [record.instruction])[0].strip()


def transcript(turns: list[dict[str, str]], wording: SelfChatWording) -> str:
    labels = {"user": wording.user_label, "assistant": wording.assistant_label}
    return "\n\n".join(f"{labels[m['role']]} {m['content']}" for m in turns)


class SelfChat(Method):
    """Baize's self-chat, one request per turn (or one per conversation in transcript mode)."""

    options_model: ClassVar[type[Options]] = SelfChatOptions
    reasons: ClassVar[dict[str, str]] = {
        "chat_too_short": "the conversation stopped before min_user_turns user turns",
        "empty_turn": "the teacher wrote an empty turn",
        "truncated": "a turn stopped on length",
        "bad_format": "a transcript-mode reply held no labelled turns",
    }

    @staticmethod
    def wording(language: Any) -> SelfChatWording:
        return language.wording("self-chat", ENGLISH_SELF_CHAT)

    def prepare(self, ctx: MethodContext) -> None:
        from factory.errors import UserError

        if not ctx.seeds:
            raise UserError("self-chat needs seed questions (method.seeds)")
        if self.options.min_user_turns > self.options.max_turns:
            raise UserError("method.min_user_turns is larger than method.max_turns: no conversation could be kept")

    def _seed(self, ctx: MethodContext, batch_no: int, index: int) -> tuple[int, Record]:
        position = batch_no * ctx.batch_size + index
        return position, ctx.seeds[position % len(ctx.seeds)]

    async def run_batch(self, ctx: MethodContext, batch_no: int) -> BatchResult:
        chat = self._transcript_chat if self.options.mode == "transcript" else self._turn_chat
        results = await asyncio.gather(*(chat(ctx, batch_no, index) for index in range(ctx.batch_size)))
        merged = BatchResult()
        for result in results:
            merged.extend(result)
        return merged

    def _record(self, batch_no: int, index: int, seed: Record, turns: list[dict[str, str]], stopped: bool) -> Record:
        return Record([message(m["role"], m["content"]) for m in turns], id=item_id(batch_no, index),
                      meta={"self_chat": {"seed": seed.id, "user_turns": sum(m["role"] == "user" for m in turns),
                                          "stopped": stopped, "mode": self.options.mode}})

    def _verdict(self, record: Record) -> BatchResult:
        users = len(record.turns("user"))
        if users < self.options.min_user_turns:
            return BatchResult(rejected=[(record, "chat_too_short", f"{users} user turns")])
        return BatchResult(records=[record])

    async def _turn_chat(self, ctx: MethodContext, batch_no: int, index: int) -> BatchResult:
        from factory.teaching import TeacherRequestFailed

        o = self.options
        w = self.wording(ctx.language)
        position, seed = self._seed(ctx, batch_no, index)
        turns = [message("user", seed_question(seed))]
        stopped = False
        system = w.assistant_system.format(language=ctx.language.name)
        for turn in range(o.max_turns):
            answer_request = TeacherRequest(messages=(("system", system), *((m["role"], m["content"]) for m in turns)),
                                            max_tokens=o.max_tokens, temperature=o.temperature,
                                            sample=f"self-chat:{position}:assistant:{turn}")
            try:
                answer = await ctx.teacher.complete(answer_request)
            except TeacherRequestFailed as exc:
                return BatchResult(failed=[(self._record(batch_no, index, seed, turns, False), "teacher_failed",
                                            str(exc)[:300])])
            problem = self._problem(answer)
            if problem:
                turns.append(message("assistant", answer.text.strip()))
                return BatchResult(rejected=[(self._record(batch_no, index, seed, turns, False), *problem)])
            turns.append(message("assistant", answer.text.strip()))
            if turn + 1 == o.max_turns:
                break
            user_request = TeacherRequest(
                messages=(("user", w.user_prompt.format(language=ctx.language.name, stop=w.stop_marker,
                                                        transcript=transcript(turns, w))),),
                max_tokens=o.max_tokens, temperature=o.temperature, sample=f"self-chat:{position}:user:{turn}")
            try:
                reply = await ctx.teacher.complete(user_request)
            except TeacherRequestFailed as exc:
                return BatchResult(failed=[(self._record(batch_no, index, seed, turns, False), "teacher_failed",
                                            str(exc)[:300])])
            text = self.clean_user(reply.text, w)
            if not text or w.stop_marker in text:  # the stop rule: the user ends the chat
                stopped = True
                break
            if reply.finish_reason == "length":
                return BatchResult(rejected=[(self._record(batch_no, index, seed, turns, False), "truncated",
                                              "a user turn stopped on length")])
            turns.append(message("user", text))
        return self._verdict(self._record(batch_no, index, seed, turns, stopped))

    @staticmethod
    def _problem(completion: Any) -> tuple[str, str] | None:
        if completion.finish_reason == "length":
            return "truncated", "an assistant turn stopped on length"
        if not completion.text.strip():
            return "empty_turn", "empty assistant turn"
        return None

    @staticmethod
    def clean_user(text: str, wording: SelfChatWording) -> str:
        """The user's message without a label the teacher repeated."""
        body = text.strip()
        for label in (wording.user_label, wording.user_label.strip("[]") + ":"):
            if body.startswith(label):
                body = body[len(label):].strip()
        return body

    async def _transcript_chat(self, ctx: MethodContext, batch_no: int, index: int) -> BatchResult:
        from factory.teaching import TeacherRequestFailed

        o = self.options
        w = self.wording(ctx.language)
        position, seed = self._seed(ctx, batch_no, index)
        question = seed_question(seed)
        prompt = w.transcript_prompt.format(language=ctx.language.name, turns=o.max_turns, question=question,
                                            user_label=w.user_label, assistant_label=w.assistant_label)
        request = TeacherRequest(messages=(("user", prompt),), max_tokens=o.max_tokens, temperature=o.temperature,
                                 sample=f"self-chat:{position}:transcript")
        try:
            reply = await ctx.teacher.complete(request)
        except TeacherRequestFailed as exc:
            return BatchResult(failed=[(self._record(batch_no, index, seed, [], False), "teacher_failed", str(exc)[:300])])
        turns = self.parse_transcript(reply.text, w)
        record = self._record(batch_no, index, seed, turns, True)
        if not turns:
            return BatchResult(rejected=[(record, "bad_format", reply.text.strip()[:120])])
        if reply.finish_reason == "length":  # the last turn may be cut: drop it, keep what is whole
            turns = turns[:-1]
        if turns and turns[-1]["role"] == "user":
            turns = turns[:-1]
        users = [i for i, m in enumerate(turns) if m["role"] == "user"]
        turns = turns[: users[o.max_turns]] if len(users) > o.max_turns else turns
        return self._verdict(self._record(batch_no, index, seed, turns, True))

    @staticmethod
    def parse_transcript(text: str, wording: SelfChatWording) -> list[dict[str, str]]:
        """Labelled lines back into alternating turns (consecutive pieces of one speaker joined)."""
        labels = {wording.user_label: "user", wording.assistant_label: "assistant"}
        pattern = re.compile("(" + "|".join(re.escape(label) for label in labels) + ")")
        pieces = pattern.split(text)
        turns: list[dict[str, str]] = []
        for label, content in zip(pieces[1::2], pieces[2::2]):
            content = content.strip()
            if not content:
                continue
            role = labels[label]
            if turns and turns[-1]["role"] == role:
                turns[-1]["content"] += "\n\n" + content
            elif turns or role == "user":
                turns.append(message(role, content))
        return turns

    # -- what the engine asks ---------------------------------------------------------------
    def max_stalled_batches(self) -> int | None:
        return self.options.max_stalled_batches

    def prompt_fingerprint(self, ctx: MethodContext) -> str:
        w = self.wording(ctx.language)
        text = "\x1f".join([w.assistant_system, w.user_prompt, w.transcript_prompt, w.stop_marker])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def estimate(self, ctx: MethodContext, remaining: int, keep_rate: float) -> MethodEstimate:
        o = self.options
        chats = math.ceil(remaining / max(keep_rate, 1e-6)) if remaining else 0
        per_chat = 1 if o.mode == "transcript" else 2 * o.max_turns - 1
        # every turn resends the conversation so far: prompts grow with the turn number
        turn_tokens = o.max_tokens / 4
        prompt = chats * sum(100 + turn_tokens * t for t in range(per_chat))
        return MethodEstimate(chats * per_chat, prompt, chats * per_chat * turn_tokens, chats * per_chat * o.max_tokens,
                              [("requests per conversation", f"at most {per_chat}")])


@hookimpl
def register_methods(register):
    register("self-chat", SelfChat)
