"""Tiny LLaMA and GPT-NeoX backbones built offline, for tests and benchmarks.

Nothing is downloaded: tokenizers are trained here with the ``tokenizers``
library on a small English/Korean corpus (a sentencepiece-like BPE with
``<unk>``/``<s>``/``</s>`` that adds BOS, like LLaMA's; a byte-level BPE with
only ``<|endoftext|>``, like GPT-NeoX/Polyglot's; neither has a PAD token),
and models are built from configs and saved, so callers load them through
the same ``from_pretrained`` path a real run uses.
"""

from __future__ import annotations

from pathlib import Path

import torch

CORPUS = [
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.",
    "Below is an instruction that describes a task, paired with an input that provides further context.",
    "### Instruction:", "### Input:", "### Response:", "### 질문:", "### 맥락:", "### 답변:",
    "Name three primary colors.", "Red, yellow and blue are the primary colors of paint.",
    "Translate the sentence into Korean.", "The cat sleeps on the warm floor.",
    "Add the two numbers and give the sum.", "Four plus five is nine.",
    "Give a synonym for the word happy.", "Glad is a synonym of happy.",
    "한국의 수도는 어디인가요?", "한국의 수도는 서울입니다.",
    "사과와 배의 차이를 설명해 주세요.", "사과는 새콤달콤하고 배는 시원하고 달아요.",
    "다음 문장을 영어로 번역하세요.", "고양이가 따뜻한 바닥에서 잠을 잡니다.",
    "좋은 아침 습관 세 가지를 알려 주세요.", "일찍 일어나기, 물 마시기, 가볍게 운동하기.",
    "Summarize the paragraph in one sentence.", "Rivers carry water from mountains to the sea.",
    "### Instruction:\nName a color.\n\n### Response:\nBlue.", "### 질문: 수도는?\n\n### 답변: 서울.",
    # the chat formats' cues (factory.chat_formats), so conversations tokenize into real pieces
    "This is a conversation between a person and an AI assistant.", "USER: Name a color. ASSISTANT: Blue.",
    "The assistant answers accurately, helpfully and politely.", "<|im_start|>user", "<|im_start|>assistant",
]


def train_bpe(special: list[str], byte_level: bool):
    """A 400-token BPE trained on CORPUS (Korean included, newlines included)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if byte_level:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=400, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        )
    else:  # sentencepiece-like: metaspace pieces, unknown characters map to <unk>
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=special)
    tok.train_from_iterator(CORPUS, trainer=trainer)
    return tok


def save_tiny_llama(path: Path, hidden: int = 32, layers: int = 2) -> None:
    save_llama(path, hidden=hidden, layers=layers, intermediate=2 * hidden, heads=4, kv_heads=2, init_range=0.3)


def save_llama(path: Path, *, hidden: int, layers: int, intermediate: int, heads: int, kv_heads: int,
               vocab_size: int | None = None, max_positions: int = 256, init_range: float = 0.02,
               dtype: torch.dtype = torch.float32) -> None:
    """A randomly initialised LLaMA of any size with the offline tokenizer (benchmarks/gpu_check.sh builds ~1B).

    ``vocab_size`` above the tokenizer's 400 pieces sizes the embeddings like a real model's.
    """
    from tokenizers import processors
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = train_bpe(["<unk>", "<s>", "</s>"], byte_level=False)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    config = LlamaConfig(
        vocab_size=vocab_size or tok.get_vocab_size(), hidden_size=hidden, intermediate_size=intermediate,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
        max_position_embeddings=max_positions, initializer_range=init_range,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=None,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).to(dtype).save_pretrained(path)
    tokenizer.save_pretrained(path)


def save_tiny_neox(path: Path, hidden: int = 32, layers: int = 2) -> None:
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, PreTrainedTokenizerFast

    tok = train_bpe(["<|endoftext|>"], byte_level=True)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>"
    )
    config = GPTNeoXConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, max_position_embeddings=256, rotary_pct=0.5, initializer_range=0.3,
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    GPTNeoXForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
