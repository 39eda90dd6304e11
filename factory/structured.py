"""Structured outputs: ask a teacher for JSON that follows a schema, and keep only replies that do.

Why: methods that parse JSON (judges, graders, rubric scorers) cannot trust a
model to write valid JSON, and not every server can constrain decoding to a
schema. So the schema travels with the request (:class:`~factory.teachers.ResponseSchema`
in ``TeacherRequest.response_schema``): a teacher whose server supports it
sends it (the ``openai`` teacher as ``response_format``; see its
``structured_outputs`` option), and every reply, constrained or not, is read
by a tolerant extractor (code fences, prose around the JSON) and validated
against the pydantic model. A reply that does not validate is asked for
again, with a fresh cache key per attempt (so a resumed run replays the same
attempts from the cache and pays for none of them twice), a bounded number
of times, then rejected with a reason.

The prompt should still say what JSON is wanted (servers without schema
support only see the prompt); :func:`schema_text` gives the schema to quote.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Generic, Iterator, TypeVar

import pydantic

from factory.teachers import Completion, ResponseSchema, TeacherRequest

M = TypeVar("M", bound=pydantic.BaseModel)

#: the reason code of a reply that never matched the schema
SCHEMA_INVALID = "schema_invalid"
_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n(.*?)```", re.DOTALL)
_NAME = re.compile(r"[^A-Za-z0-9_-]")
_MAX_STARTS = 64  # opening brackets tried before giving up on a long, JSON-less reply


def response_schema(model: type[pydantic.BaseModel], name: str | None = None) -> ResponseSchema:
    """The schema of ``model`` for a request; strict (every field required, nothing extra) when the model allows it."""
    schema = model.model_json_schema()
    label = _NAME.sub("_", name or model.__name__)[:64] or "reply"
    return ResponseSchema(name=label, schema=json.dumps(schema, sort_keys=True, ensure_ascii=False),
                          strict=_strict_compatible(schema))


def schema_text(model: type[pydantic.BaseModel]) -> str:
    """The JSON schema of ``model`` as compact text, to quote in a prompt."""
    return json.dumps(model.model_json_schema(), ensure_ascii=False, separators=(",", ":"))


def _strict_compatible(schema: Any) -> bool:
    """OpenAI's strict mode needs every object closed (``additionalProperties: false``) with all properties required."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            properties = schema.get("properties", {})
            if schema.get("additionalProperties", True) is not False or set(schema.get("required", [])) != set(properties):
                return False
        return all(_strict_compatible(value) for value in schema.values())
    if isinstance(schema, list):
        return all(_strict_compatible(value) for value in schema)
    return True


def json_values(text: str) -> Iterator[Any]:
    """Every JSON value a reply holds, most likely first: the whole text, fenced blocks, then each ``{``/``[`` onward."""
    stripped = text.strip().lstrip("\ufeff")
    seen: set[str] = set()
    candidates = [stripped] + [block.strip() for block in _FENCE.findall(stripped)]
    for candidate in candidates:
        if candidate in seen:
            continue
        seen.add(candidate)
        try:
            yield json.loads(candidate)
        except ValueError:
            pass
    decoder = json.JSONDecoder()
    starts = [m.start() for m in re.finditer(r"[{\[]", stripped)][:_MAX_STARTS]
    for start in starts:
        try:
            value, _ = decoder.raw_decode(stripped, start)
        except ValueError:
            continue
        yield value


class StructuredReplyError(ValueError):
    """A reply that holds no JSON value matching the schema; ``str()`` says why."""


def parse_reply(text: str, model: type[M]) -> M:
    """The first JSON value in ``text`` that validates as ``model``; StructuredReplyError naming the problem otherwise."""
    first_error: str | None = None
    for value in json_values(text):
        try:
            return model.model_validate(value)
        except pydantic.ValidationError as exc:
            if first_error is None:
                first_error = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
                                        for e in exc.errors()[:3])
    if first_error is not None:
        raise StructuredReplyError(f"JSON does not match {model.__name__}: {first_error}")
    raise StructuredReplyError("no JSON value in the reply")


@dataclass(frozen=True)
class StructuredResult(Generic[M]):
    """The outcome of :func:`complete_structured`: ``value`` when a reply validated, else ``reason``."""

    value: M | None
    completion: Completion | None  # the last reply
    attempts: int
    reason: str | None = None  # "schema_invalid: ..." when every attempt failed

    @property
    def ok(self) -> bool:
        return self.value is not None


async def complete_structured(client: Any, request: TeacherRequest, model: type[M], attempts: int = 3
                              ) -> StructuredResult[M]:
    """Ask ``client`` (a :class:`~factory.teaching.TeacherClient`) until a reply validates as ``model``, at most ``attempts`` times.

    Attempt ``i`` (from 0) is ``request`` with the schema attached and, after
    the first, ``sample`` extended by ``#structured-i``: its own cache key, so
    a retry is a new sample and a rerun finds every attempt in the cache.
    :class:`~factory.teaching.TeacherRequestFailed` and stops propagate as
    from ``client.complete``.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    base = replace(request, response_schema=response_schema(model))
    completion: Completion | None = None
    problem = ""
    for attempt in range(attempts):
        current = base if attempt == 0 else replace(base, sample=f"{request.sample}#structured-{attempt}")
        completion = await client.complete(current)
        try:
            return StructuredResult(parse_reply(completion.text, model), completion, attempt + 1)
        except StructuredReplyError as exc:
            problem = str(exc)
            if completion.finish_reason == "length":
                problem += " (the reply was cut at max_tokens)"
    return StructuredResult(None, completion, attempts, f"{SCHEMA_INVALID}: {problem} (after {attempts} attempt(s))")
