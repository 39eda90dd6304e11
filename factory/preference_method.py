"""What the preference-making methods (``ai-feedback``, ``pairwise-judge``) share: prompts walked in batches,
answering teachers plus a judge, an identity that holds the prompts' contents, and the run summary."""

from __future__ import annotations

from typing import Any, ClassVar

from factory.contracts import identity_of
from factory.methods import Method, MethodContext


class PreferenceMethod(Method):
    """Base of methods whose items are prompts (a file, a run folder or the seed tasks) judged into pairs."""

    seeds_in_pool: ClassVar[bool] = False  # the seeds are the prompts: each pair would near-duplicate its own seed
    #: Extra identity entries: the version of the judge's wording, so a reworded judge refuses an old run's resume.
    wording_identity: ClassVar[dict[str, str]] = {}

    @classmethod
    def identity_for(cls, options: Any) -> dict[str, Any]:
        from factory.preferences import prompts_digest

        # the prompts' contents, not their path, are part of the identity (a moved file keeps the run resumable)
        return {**identity_of(options), "prompts_sha256": prompts_digest(options.prompts), **cls.wording_identity}

    @classmethod
    def answerer_roles(cls, options: Any) -> dict[str, Any]:
        """Role name -> TeacherSpec of the answering teachers besides the recipe's."""
        return {}

    @classmethod
    def teachers_for(cls, options: Any) -> dict[str, Any]:
        judge = {"judge": options.judge} if options.judge is not None else {}
        return {**cls.answerer_roles(options), **judge}

    def prepare(self, ctx: MethodContext) -> None:
        from factory.preferences import load_prompts

        self.prompts = load_prompts(self, ctx)

    def prompts_for(self, ctx: MethodContext) -> list:
        if not hasattr(self, "prompts"):
            self.prepare(ctx)
        return self.prompts

    def prompts_needed(self, ctx: MethodContext, remaining: int, keep_rate: float) -> int:
        """Prompts an estimate expects to judge before ``remaining`` pairs are kept (all of them at the most)."""
        import math

        self.prepare(ctx)  # an estimate reads the prompts as they are now
        return min(len(self.prompts), math.ceil(remaining / max(keep_rate, 1e-6))) if remaining else 0

    def batch_count(self, ctx: MethodContext) -> int | None:
        from factory.preferences import batch_total

        return batch_total(self.prompts_for(ctx), ctx.batch_size)

    @classmethod
    def run_summary(cls, run_dir: Any) -> dict[str, Any] | None:
        from factory.preferences import run_summary

        return run_summary(run_dir)
