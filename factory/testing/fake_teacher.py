"""An in-process teacher for tests: the engine runs end to end with no server and no network.

Register it through the real hooks, like any plugin: set
``FACTORY_PLUGIN_MODULES=factory.testing.fake_teacher`` (a subprocess running
the real CLI) or call :func:`factory.testing.plugins.registered` in-process.
A recipe then says::

    teacher:
      plugin: fake
      responder: self-instruct      # a name in RESPONDERS, or module:function

Responders take the request as the OpenAI wire would carry it (``prompt`` or
``messages``, ``max_tokens``, ``stop``) and return the reply text, so the same
responders serve this teacher and the loopback OpenAI server.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any, Callable, ClassVar

from pydantic import Field

from factory.contracts import Options, runtime
from factory.hookspecs import hookimpl
from factory.teachers import Completion, FatalTeacherError, Teacher, TeacherDescription, TeacherRequest
from factory.teaching import estimate_prompt_tokens, estimate_text_tokens


def _echo(request: dict[str, Any]) -> str:
    return f"echo: {(request.get('messages') or [{}])[-1].get('content', request.get('prompt', ''))}"


def _responder(name: str) -> Callable[[dict[str, Any]], str]:
    from factory.testing.responders import self_instruct_responder

    known = {"self-instruct": self_instruct_responder, "echo": _echo}
    if name in known:
        return known[name]
    module, _, attribute = name.partition(":")
    if not attribute:
        raise FatalTeacherError(f"unknown responder {name!r} (known: {', '.join(known)}, or module:function)")
    return getattr(importlib.import_module(module), attribute)


class FakeTeacherOptions(Options):
    model: str = Field("fake-model", description="The model name the card shows.")
    responder: str = Field("self-instruct", description="self-instruct, echo, or module:function.")
    latency_s: float = runtime(0.0, ge=0, description="Seconds each request takes.")


class FakeTeacher(Teacher):
    """A deterministic in-process teacher (tests only)."""

    options_model: ClassVar[type[Options]] = FakeTeacherOptions
    #: every request body seen, in arrival order (per instance)
    requests: list[dict[str, Any]]

    def setup(self) -> None:
        self.requests = []
        self._respond = _responder(self.options.responder)

    @classmethod
    def describe_for(cls, options: FakeTeacherOptions) -> TeacherDescription:
        return TeacherDescription(model=options.model, endpoint_kind="in-process", endpoint="")

    async def complete(self, request: TeacherRequest) -> Completion:
        # extra body items (a sampling seed ...) reach the responder as they reach a server
        body: dict[str, Any] = {"max_tokens": request.max_tokens, "stop": list(request.stop), **dict(request.extra)}
        if request.messages is not None:
            body["messages"] = request.chat_messages()
        else:
            body["prompt"] = request.prompt
        self.requests.append(body)
        if self.options.latency_s:
            await asyncio.sleep(self.options.latency_s)
        text = self._respond(body)
        for stop in request.stop:  # what a server does with stop strings
            if stop and stop in text:
                text = text[: text.index(stop)]
        return Completion(text=text, finish_reason="stop", prompt_tokens=estimate_prompt_tokens(request),
                          completion_tokens=estimate_text_tokens(text))


@hookimpl
def register_teachers(register):
    register("fake", FakeTeacher)
