"""The ``translation_qa`` filter: translated records the engine did not really translate.

::

    filters:
      - translation_qa: {back_translation: {plugin: openai, model: gpt-4o-mini}, min_back_translation: 0.3}

It judges records that went through the translate stage (``meta.translation``) and leaves others alone:

- ``untranslated``: a field came back as it was sent although it had prose
  (``meta.translation.unchanged``, recorded by :func:`factory.translation.translate_records`): the engine
  did not recognise the source language, or the text was already in the target language;
- ``wrong_output_language``: the output is not in the recipe's language by lingua (a regenerated
  answer in English, a translation that kept the source language);
- ``back_translation_low`` (optional): the ``llm`` translator, with the teacher named in
  ``back_translation``, translates the chosen fields back into the source language, and the ROUGE-L F
  of that against the source text (on the source language plugin's tokens) is in
  ``meta.translation.back_translation``; below ``min_back_translation`` the record is dropped.
  Back-translations go through the translation service: protected spans, the cross-run translation
  cache, the run's usage and budget.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Sequence

from pydantic import Field

from factory.contracts import Options
from factory.filtering import Filter, FilterContext, Verdict
from factory.hookspecs import hookimpl
from factory.records import Record
from factory.teacher_factory import TeacherField

Field_ = Literal["instruction", "input", "output"]



class TranslationQAOptions(Options):
    fields: list[Field_] = Field(default_factory=lambda: ["instruction", "input", "output"],
                                 description="Fields whose unchanged translation drops the record (untranslated).")
    check_output_language: bool = Field(True, description="Drop a record whose output is not in the recipe's "
                                        "language (lingua).")
    min_confidence: float = Field(0.5, ge=0, le=1, description="Least lingua probability for the output's language.")
    min_letters: int = Field(10, ge=0, description="Outputs with fewer letters outside code, URLs and numbers are not "
                             "language-checked: too short to identify (a name, a label).")
    back_translation: TeacherField | None = Field(None, description="A teacher for back-translation through the llm "
                                                  "translator; none: no back-translation.")
    back_translate: list[Field_] = Field(default_factory=lambda: ["instruction"],
                                         description="Fields translated back and scored.")
    min_back_translation: float | None = Field(None, ge=0, le=1, description="Drop a record whose back-translation "
                                               "ROUGE-L F is below this; none: score only.")


class TranslationQA(Filter):
    """Untranslated fields, an output in the wrong language, and an optional back-translation score."""

    options_model: ClassVar[type[Options]] = TranslationQAOptions
    default_target: ClassVar[str] = "output"
    reasons: ClassVar[dict[str, str]] = {
        "untranslated": "a translated field came back unchanged from the engine",
        "wrong_output_language": "the output of a translated record is not in the recipe's language",
        "back_translation_low": "the back-translation is too far from the source text",
    }

    @property
    def target(self) -> str:
        """The output only when it is judged: otherwise the filter runs before outputs are regenerated (KoAlpaca),
        so no answer is paid for a record it drops."""
        o = self.options
        judged_output = o.check_output_language or "output" in o.fields or (
            o.back_translation is not None and "output" in o.back_translate)
        return "output" if judged_output else "instruction"

    @classmethod
    def requirements_for(cls, options: TranslationQAOptions) -> list:
        from factory.langid import REQUIREMENT

        found = [REQUIREMENT] if options.check_output_language else []
        return found + (options.back_translation.requirements() if options.back_translation is not None else [])

    def prepare(self, ctx: FilterContext) -> None:
        self.ctx = ctx
        self.language = ctx.language
        self.sources = {r.id: r for r in ctx.inputs}
        self.identifier = None

    def _identifier(self) -> Any:
        if self.identifier is None:
            from factory.langid import identifier

            self.identifier = identifier(self.language.code)
        return self.identifier

    async def judge_async(self, records: Sequence[Record]) -> list[Verdict | None]:
        import asyncio

        verdicts: list[Verdict | None] = await asyncio.to_thread(self.judge, list(records))
        if self.options.back_translation is not None:
            pending = [r for r, v in zip(records, verdicts) if v is None and isinstance(r.meta.get("translation"), dict)]
            scores = await self._back_translate(pending)
            for record, score in zip(pending, scores):
                record.meta["translation"]["back_translation"] = score
            floor = self.options.min_back_translation
            if floor is not None:
                low = {id(r): s for r, s in zip(pending, scores) if s and min(s.values()) < floor}
                verdicts = [("back_translation_low", f"rouge_l={min(low[id(r)].values()):.3f} < {floor:g}")
                            if id(r) in low else v for r, v in zip(records, verdicts)]
        return verdicts

    def judge(self, records: Sequence[Record]) -> list[Verdict | None]:
        verdicts: list[Verdict | None] = []
        for record in records:
            meta = record.meta.get("translation")
            if not isinstance(meta, dict):
                verdicts.append(None)  # not a translated record
                continue
            unchanged = [f for f in meta.get("unchanged", []) if f in self.options.fields]
            if unchanged:
                verdicts.append(("untranslated", f"{', '.join(unchanged)} came back as sent"))
                continue
            verdicts.append(self._output_language(record))
        return verdicts

    def _output_language(self, record: Record) -> Verdict | None:
        if not self.options.check_output_language:
            return None
        from factory.protect import mask

        prose = mask(record.output).prose  # code, URLs and numbers have no language
        if sum(ch.isalpha() for ch in prose) < max(1, self.options.min_letters):
            return None  # too short to identify (a name, a label, "Good morning.")
        found = self._identifier().detect(prose)
        record.meta["translation"]["output_language"] = {"language": found.language, "confidence": found.confidence}
        if found.is_(self.language.code, self.options.min_confidence):
            return None
        return "wrong_output_language", f"{found.language or 'no language'} ({found.confidence:.2f})"

    async def _back_translate(self, records: Sequence[Record]) -> list[dict[str, float]]:
        """ROUGE-L F of each chosen field's back-translation against its source text, per record."""
        if not records:
            return []
        from factory.default_plugins.llm_translator import LLMTranslator
        from factory.plugins import get_registry
        from factory.translation import TranslationCache, TranslationService

        client = self.ctx.client_for(self.options.back_translation)  # the run's usage and budget for this stage
        service = TranslationService(LLMTranslator(teacher=self.options.back_translation), cache=TranslationCache(),
                                     usage=client.usage, budget=client.budget, close_cache=True)
        await client.aclose()
        by_pair: dict[tuple[str, str], list[tuple[int, str, str, str]]] = {}
        for index, record in enumerate(records):
            meta = record.meta["translation"]
            source = self.sources.get(meta.get("source_id", record.id))
            if source is None:
                continue
            pair = (str(meta.get("target_language")), str(meta.get("source_language")))
            for name in self.options.back_translate:
                if getattr(record, name).strip() and getattr(source, name).strip():
                    by_pair.setdefault(pair, []).append((index, name, getattr(record, name), getattr(source, name)))
        scores: list[dict[str, float]] = [{} for _ in records]
        registry = get_registry()
        try:
            for (target, source_lang), jobs in by_pair.items():
                back = await service.translate_texts([text for _, _, text, _ in jobs], target, source_lang)
                code = source_lang.lower().split("-")[0]
                language = registry.get("language", code if registry.has("language", code) else "en").obj()
                for (index, name, _, original), text in zip(jobs, back):
                    if text is not None:
                        scores[index][name] = back_translation_score(original, text, language)
        finally:
            await service.aclose()
        return scores


def back_translation_score(source: str, back: str, language: Any) -> float:
    """ROUGE-L F of a back-translation against the source text, on the source language's similarity tokens.

    A lexical score: a faithful paraphrase ("Recommend a name for a cafe" for "Suggest a name for a coffee shop")
    scores low too, so the default only records it (docs/curation.md has the measured precision)."""
    from factory.similarity import rouge_l_f

    tokens = language.tokenize_many([source, back])
    return round(float(rouge_l_f(tokens[0], tokens[1])), 4)


@hookimpl
def register_filters(register):
    register("translation_qa", TranslationQA)
