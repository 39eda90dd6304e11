"""The Japanese language (``ja``) on SudachiPy morphemes.

Japanese is written without spaces, so whitespace words do not exist and
rouge_score's default tokenizer (``[a-z0-9]`` only) sees no tokens at all.
Near-duplicate filtering therefore compares Sudachi morphemes, with the
function morphemes that paraphrases change (particles, politeness and
tense auxiliaries, punctuation) dropped and spelling variants normalized.
The defaults were chosen on 218 labelled pairs: docs/japanese.md and
``python -m factory_ja.evaluate``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, Literal, Sequence

from pydantic import Field

from factory.contracts import Options

from factory.languages import ALPACA_TEMPLATE, Language, PromptTemplate, PromptWording
from factory.paths import packaged_seeds

from factory_ja.analyzer import SPLIT_MODES, Morpheme, analyze
from factory_ja.tokens import similarity_tokens, word_count
from factory_ja.verb_object import verb_object

#: seeds/ja/seed_tasks.jsonl, package data of factory_ja (in the repository, seeds/ja links to the top-level seeds/)
_SEEDS = packaged_seeds("factory_ja", "ja")
KANA = "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff"
KANJI = "\u3005\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_KANA_RE = re.compile(f"[{KANA}]")
_FOREIGN_WORD_RE = re.compile(f"[^\\W\\d_{KANA}{KANJI}ー]+")
#: Units of analysis for filters and reports: C keeps words such as 書き換える and 写真家 whole.
_FILTER_MODE = "C"

#: The Japanese rendering of Alpaca's format that Japanese instruction-tuned models
#: (llm-jp-3 instruct and others) are trained and served with.
ALPACA_JA_TEMPLATE = PromptTemplate(
    name="alpaca-ja",
    with_input=(
        "以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。\n\n"
        "### 指示:\n{instruction}\n\n### 入力:\n{input}\n\n### 応答:\n"
    ),
    without_input=(
        "以下は、タスクを説明する指示です。要求を適切に満たす応答を書きなさい。\n\n"
        "### 指示:\n{instruction}\n\n### 応答:\n"
    ),
    description="Alpaca's format in Japanese, as used by Japanese instruction-tuned models such as llm-jp-3.",
)


@lru_cache(maxsize=8192)
def _analyzed(text: str, mode: str) -> tuple[Morpheme, ...]:
    """One analysis per text and mode: the filter stage asks for length, blacklist and tokens in turn."""
    return tuple(analyze(text, mode))


class JapaneseOptions(Options):
    """Options of the similarity tokenizer (defaults measured in docs/japanese.md)."""

    split_mode: Literal["A", "B", "C"] = Field("A", description="Sudachi's unit size, A (shortest) to C (longest).")
    drop_particles: bool = Field(True, description="Drop particles (助詞: を, は, の, って...).")
    drop_auxiliaries: bool = Field(True, description="Drop auxiliaries (です, ます, ください, なさい, the light verb of 要約する...).")
    drop_symbols: bool = Field(True, description="Drop punctuation and symbols (Latin words and digits are nouns and stay).")
    normalize: bool = Field(True, description="Compare Sudachi's normalized forms (下さい = ください, 子供 = 子ども).")


class Japanese(Language):
    code: ClassVar[str] = "ja"
    name: ClassVar[str] = "Japanese"
    #: Hiragana, katakana and kanji (with 々 and 〇).
    script_pattern: ClassVar[str] = f"[{KANA}{KANJI}]"
    #: Share of Japanese characters among Japanese characters and weighted foreign words; see ``is_in_language``.
    script_min_share: ClassVar[float] = 0.5
    #: A foreign (Latin, Hangul...) word weighs as much as this many Japanese characters.
    foreign_word_weight: ClassVar[int] = 2
    prompt: ClassVar[PromptWording] = PromptWording(
        header=(
            "言語モデルが指示に従えるように学習させるため、さまざまなタスクを集めています。"
            "新しいタスクを{count}個作ってください。決まりは次のとおりです。\n"
            "1. 指示ごとに中心となる動詞を変え、同じ種類のタスクを二度出さないでください。\n"
            "2. 自由に答える質問、分類、書き換え、情報の抜き出し、アイデア出し、順を追った推論、計算、"
            "コードの説明など、いろいろな種類を混ぜてください。\n"
            "3. 質問する文と依頼する文の両方を使い、指示は一文か二文に収めてください。\n"
            "4. どのタスクも、文字だけを扱うモデルがこなせるものにしてください。画像や音、ファイル、"
            "ウェブの閲覧、現実の世界での行動が必要なタスクは出さないでください。\n"
            "5. 入力が必要なタスクには、短い段落、リスト、文、コードの一部など、具体的で現実的な入力を"
            "250字以内で付けてください。入力が要らないときは「<noinput>」と書いてください。\n"
            "6. 出力は正確で役に立つ内容にし、250字未満で書いてください。\n"
            "7. 指示、入力、出力はすべて自然な日本語で書いてください。\n\n"
            "タスク一覧:\n"
        ),
        instruction_label="指示",
        input_label="入力",
        output_label="出力",
        noinput="<noinput>",
        noinput_aliases=("<入力なし>", "入力なし", "<なし>", "(なし)", "（なし）"),
    )
    #: Morphemes without punctuation (split mode A). English keeps 4 to 150 words; on 40 instructions
    #: written in both languages a Japanese one has 1.45 such morphemes per English word (docs/japanese.md),
    #: so 6 keeps 短い詩を書いてください (6) and drops 詩を書いてください (5), like "Write a poem." in English.
    min_instruction_words: ClassVar[int] = 6
    max_instruction_words: ClassVar[int] = 220
    #: Tasks a text model cannot do, matched on whole morphemes (split mode C), so 図書館, 意図,
    #: 写真家 and 絵本 do not match 図, 写真 and 絵.
    blacklist: ClassVar[tuple[str, ...]] = (
        "画像", "写真", "図", "絵", "イラスト", "グラフ", "チャート", "図表", "図解", "作図", "ファイル",
        "地図", "動画", "映像", "ビデオ", "音声", "音楽", "録音", "撮影", "ダイアグラム", "フローチャート",
        "描く",
    )
    #: A "write a program" task: one of these objects (or a phrase ending in one) with one of these verbs.
    program_objects: ClassVar[tuple[str, ...]] = ("プログラム", "コード", "スクリプト")
    program_verbs: ClassVar[tuple[str, ...]] = (
        "書く", "作る", "作成する", "実装する", "開発する", "組む", "生成する", "コーディングする",
    )
    templates: ClassVar[dict[str, PromptTemplate]] = {"alpaca": ALPACA_TEMPLATE, "alpaca-ja": ALPACA_JA_TEMPLATE}
    default_template: ClassVar[str] = "alpaca-ja"
    #: koreanize-matplotlib ships NanumGothic (Hangul, kana and CJK ideographs) for report figures
    report_fonts: ClassVar[tuple[tuple[str, str, tuple[str, ...]], ...]] = (
        ("koreanize_matplotlib", "fonts", ("NanumGothic.ttf", "NanumGothicBold.ttf")),
    )
    default_seeds: ClassVar[Path | None] = _SEEDS

    options_model: ClassVar[type[Options]] = JapaneseOptions

    def setup(self) -> None:
        self._mode = self.options.split_mode
        self._token_options = self.options.model_dump(exclude={"split_mode"})

    # -- similarity -------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        return similarity_tokens(_analyzed(text, self._mode), **self._token_options)

    def tokenize_many(self, texts: Sequence[str]) -> list[list[str]]:
        return [self.tokenize(text) for text in texts]

    # -- length filters ---------------------------------------------------
    def count_words(self, text: str) -> int:
        """Morphemes (split mode A) that are not punctuation or symbols: Japanese has no spaces."""
        return word_count(_analyzed(text, "A"))

    # -- script check -----------------------------------------------------
    def is_in_language(self, text: str) -> bool:
        """True when the text has kana and Japanese characters outweigh foreign words.

        Kana are required because Chinese is written in kanji alone, while
        nearly every Japanese sentence needs hiragana for its particles and
        endings. Foreign words are counted as words, each weighing two
        Japanese characters, not letter by letter: "Pythonのlist comprehensionを
        使う例を示してください" is a Japanese request even though most of its
        letters are Latin, while "Translate 'ありがとう' into English" is not.
        """
        text = unicodedata.normalize("NFKC", text)
        if not _KANA_RE.search(text):
            return False
        japanese = len(re.findall(self.script_pattern, text))
        foreign = len(_FOREIGN_WORD_RE.findall(text))
        return japanese / (japanese + self.foreign_word_weight * foreign) >= self.script_min_share

    # -- task filters -----------------------------------------------------
    def blacklisted(self, instruction: str) -> str | None:
        for m in _analyzed(instruction, _FILTER_MODE):
            if m.pos[0] == "名詞" and m.surface in self.blacklist:
                return m.surface
            if m.pos[0] == "動詞" and m.base in self.blacklist:
                return m.base
        return None

    def is_program_task(self, instruction: str) -> bool:
        verb, obj = verb_object(_analyzed(instruction, _FILTER_MODE))
        return verb in self.program_verbs and obj is not None and obj.endswith(self.program_objects)

    # -- report -----------------------------------------------------------
    def verb_objects(self, texts: Sequence[str]) -> list[tuple[str | None, str | None]]:
        return [verb_object(_analyzed(text, _FILTER_MODE)) for text in texts]
