"""The Korean language (``ko``) on Kiwi morphemes.

Korean glues particles (을/를, 은/는) and verb endings (-세요, -해 주십시오)
onto words, so whitespace words ("문장을" vs "문장은") make paraphrases look
different, and rouge_score's default tokenizer (``[a-z0-9]`` only) sees no
tokens at all. Near-duplicate filtering therefore compares Kiwi morphemes.
Which morphemes to drop was chosen on a labelled set of 222 pairs; see
docs/korean.md and ``python -m factory_ko.evaluate``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar, Sequence

from pydantic import Field

from factory.chat_formats import ChatFormat
from factory.contracts import Options
from factory.languages import Language, PromptTemplate, PromptWording
from factory.paths import packaged_seeds

from factory_ko.kiwi import analyze
from factory_ko.templates import KOALPACA_CHAT, KOALPACA_TEMPLATE
from factory_ko.verb_object import verb_object
from factory_ko.wordings import WORDINGS

#: seeds/ko/seed_tasks.jsonl, package data of factory_ko (in the repository, seeds/ko links to the top-level seeds/)
_SEEDS = packaged_seeds("factory_ko", "ko")
#: Hangul syllables, jamo, compatibility jamo and the extended jamo blocks.
HANGUL = r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\ud7b0-\ud7ff]"
#: Symbol tags that are letters or numbers, kept (lowercased) even when symbols are dropped.
_KEPT_SYMBOL_TAGS = ("SL", "SN", "SH")
#: Function morphemes left out of decontamination n-grams: particles, endings, attached codas, symbols.
_FUNCTION_TAGS = ("J", "E", "Z", "S")
#: A whitespace-separated word holding a letter or digit ([^\W_]: exactly what str.isalnum() accepts),
#: matched only from a word's start ((?<!\S)), so a long run of symbols is one pass, not quadratic.
_WORD = re.compile(r"(?<!\S)\S*?[^\W_]\S*")


class KoreanOptions(Options):
    """Options of the similarity tokenizer (defaults measured in docs/korean.md)."""

    drop_particles: bool = Field(False, description="Drop particles (J*: 을, 는, 에게...).")
    drop_endings: bool = Field(True, description="Drop verb endings and pre-endings (E*: -세요, -시-, -ㄴ) and attached codas (Z*).")
    drop_symbols: bool = Field(True, description="Drop punctuation and other symbols (S*), keeping Latin (SL), numbers (SN) and Hanja (SH).")


class Korean(Language):
    code: ClassVar[str] = "ko"
    name: ClassVar[str] = "Korean"
    script_pattern: ClassVar[str] = HANGUL
    #: Share of words (eojeols) that must contain Hangul; see ``is_in_language``.
    script_min_share: ClassVar[float] = 0.5
    prompt: ClassVar[PromptWording] = PromptWording(
        header=(
            "언어 모델이 지시를 잘 따르도록 학습시킬 과제 모음을 만들고 있습니다. "
            "서로 다른 새 과제 {count}개를 작성해 주세요. 규칙은 다음과 같습니다.\n"
            "1. 지시문마다 중심이 되는 동사를 바꾸고, 같은 종류의 과제를 두 번 내지 마세요.\n"
            "2. 열린 질문, 분류, 고쳐 쓰기, 정보 추출, 아이디어 내기, 단계적 추론, 계산, "
            "코드 설명 등 여러 유형을 고루 섞으세요.\n"
            "3. 묻는 문장과 요청하는 문장을 섞어 쓰고, 지시문은 한두 문장으로 쓰세요.\n"
            "4. 모든 과제는 글만 다루는 모델이 해낼 수 있어야 합니다. 그림, 소리, 파일, "
            "인터넷 검색, 현실에서의 행동이 필요한 과제는 내지 마세요.\n"
            "5. 입력이 필요한 과제에는 짧은 문단, 목록, 문장, 코드 조각처럼 구체적이고 "
            "현실적인 입력을 100단어 이내로 주고, 필요 없으면 \"<noinput>\"이라고 쓰세요.\n"
            "6. 출력은 정확하고 도움이 되게, 100단어 미만으로 쓰세요.\n"
            "7. 지시문, 입력, 출력은 모두 자연스러운 한국어로 쓰세요.\n\n"
            "과제 목록:\n"
        ),
        instruction_label="지시문",
        input_label="입력",
        output_label="출력",
        noinput="<noinput>",
        noinput_aliases=("<입력 없음>", "입력 없음", "<없음>"),
    )
    #: Eojeols (space-separated words); keeps "다음 문장을 요약하세요." (3), drops "요약해 주세요" (2).
    min_instruction_words: ClassVar[int] = 3
    max_instruction_words: ClassVar[int] = 125
    #: Tasks a text model cannot do, matched on Kiwi morphemes (nouns; verbs in 다-form),
    #: so "이미지를" matches 이미지 but 그림자, 파일럿 and 지도하다 (to coach) do not.
    blacklist: ClassVar[tuple[str, ...]] = (
        "이미지", "그림", "사진", "그래프", "차트", "파일", "지도", "동영상", "영상", "음성",
        "오디오", "음악", "녹음", "도표", "다이어그램", "순서도", "흐름도", "그리다",
    )
    #: A "write a program" task: one of these objects with one of these predicates.
    program_objects: ClassVar[tuple[str, ...]] = ("프로그램", "코드", "스크립트")
    program_verbs: ClassVar[tuple[str, ...]] = ("작성하다", "만들다", "짜다", "구현하다", "개발하다", "코딩하다")
    templates: ClassVar[dict[str, PromptTemplate]] = {**Language.templates, KOALPACA_TEMPLATE.name: KOALPACA_TEMPLATE}
    default_template: ClassVar[str] = KOALPACA_TEMPLATE.name
    chat_formats: ClassVar[dict[str, ChatFormat]] = {**Language.chat_formats, KOALPACA_CHAT.name: KOALPACA_CHAT}
    default_chat_format: ClassVar[str] = KOALPACA_CHAT.name
    #: koreanize-matplotlib ships NanumGothic (Hangul, kana and CJK ideographs) for report figures
    report_fonts: ClassVar[tuple[tuple[str, str, tuple[str, ...]], ...]] = (
        ("koreanize_matplotlib", "fonts", ("NanumGothic.ttf", "NanumGothicBold.ttf")),
    )
    default_seeds: ClassVar[Path | None] = _SEEDS
    #: Korean wording of Evol-Instruct, the original self-instruct and the judge rubric and the pairwise comparison (factory_ko.wordings).
    wordings: ClassVar[dict] = WORDINGS
    #: Templates Korean instructions and benchmarks share (the decontaminate filter's built-in allow-list).
    instruction_templates: ClassVar[tuple[str, ...]] = (
        "다음 글을 읽고 물음에 답하시오.",
        "다음 글을 읽고 질문에 알맞은 답을 고르시오.",
        "다음 중 옳은 것을 고르시오.",
        "다음 중 옳지 않은 것을 고르시오.",
        "다음 보기 중에서 가장 알맞은 답을 하나 고르세요.",
        "다음 질문에 대한 답을 보기에서 고르고 그 이유를 설명하세요.",
        "다음 문장을 읽고 빈칸에 들어갈 알맞은 말을 고르시오.",
        "단계별로 생각한 다음 마지막 줄에 최종 답을 쓰세요.",
        "정답의 번호만 답하세요.",
    )

    options_model: ClassVar[type[Options]] = KoreanOptions

    def setup(self) -> None:
        o = self.options
        dropped: list[str] = []
        if o.drop_particles:
            dropped.append("J")
        if o.drop_endings:
            dropped += ["E", "Z"]
        if o.drop_symbols:
            dropped.append("S")
        self._dropped_tags = tuple(dropped)

    # -- similarity -------------------------------------------------------
    def _keep(self, tag: str) -> bool:
        return tag in _KEPT_SYMBOL_TAGS or not tag.startswith(self._dropped_tags)

    def tokenize(self, text: str) -> list[str]:
        if not text.strip():
            return []
        return [m.form.lower() for m in analyze([text])[0] if self._keep(m.tag)]

    def tokenize_many(self, texts: Sequence[str]) -> list[list[str]]:
        return [[m.form.lower() for m in morphemes if self._keep(m.tag)] for morphemes in analyze(texts)]

    def ngram_tokens_many(self, texts: Sequence[str]) -> list[list[str]]:
        """Content morphemes for decontamination: particles, endings and symbols dropped whatever the similarity
        options say, so "조선을 건국한 왕은" and "조선이 건국한 왕이" share every n-gram."""
        return [[m.form.lower() for m in morphemes if m.tag in _KEPT_SYMBOL_TAGS or not m.tag.startswith(_FUNCTION_TAGS)]
                for morphemes in analyze(texts)]

    # -- length filters ---------------------------------------------------
    def count_words(self, text: str) -> int:
        """Eojeols holding a letter or digit (a stray "-" is not a word); one regex pass, as the report
        counts every field of every record."""
        return len(_WORD.findall(text))

    # -- script check -----------------------------------------------------
    def is_in_language(self, text: str) -> bool:
        """True when at least half of the words with letters contain Hangul.

        Counted per eojeol, not per letter: Korean attaches its particles to
        borrowed words ("Python에서", "SQL을"), so a Korean instruction full of
        English terms is still mostly Hangul eojeols, while one Hangul syllable
        packs two or three letters' worth of sound and a letter count would
        unfairly favour Latin.
        """
        words = [word for word in text.split() if any(ch.isalpha() for ch in word)]
        if not words:
            return False
        korean = sum(1 for word in words if re.search(self.script_pattern, word))
        return korean / len(words) >= self.script_min_share

    # -- task filters -----------------------------------------------------
    def blacklisted(self, instruction: str) -> str | None:
        morphemes = analyze([instruction])[0] if instruction.strip() else []
        for i, m in enumerate(morphemes):
            following = morphemes[i + 1].tag if i + 1 < len(morphemes) else ""
            if m.tag.startswith("NN") and following not in ("XSV", "XSA") and m.form in self.blacklist:
                return m.form  # a noun, not a 하다-verb: 지도를 보다, not 지도하다
            if m.tag.startswith("VV") and m.form + "다" in self.blacklist:
                return m.form + "다"
        return None

    def is_program_task(self, instruction: str) -> bool:
        verb, obj = self.verb_objects([instruction])[0]
        return verb in self.program_verbs and obj in self.program_objects

    # -- report -----------------------------------------------------------
    def verb_objects(self, texts: Sequence[str]) -> list[tuple[str | None, str | None]]:
        return [verb_object(morphemes) for morphemes in analyze(texts)]
