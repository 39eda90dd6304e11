"""The ``transformers`` teacher on a tiny Llama built here (nothing downloaded).

A byte-level BPE tokenizer is trained on a small English/Korean corpus with
the ``tokenizers`` library, a 2-layer Llama (hidden size 32) is built from a
config, and both are saved to a temporary folder, so the teacher loads them
through the same ``from_pretrained`` path a real model takes. References are
computed with plain ``model.generate`` on the same weights.

The bundled gemma-3-270m test converts a 250 MB GGUF file the first time
(about a minute): it runs only with ``FACTORY_TEST_GEMMA=1``.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

from factory.costs import Usage  # noqa: E402
from factory.errors import UserError  # noqa: E402
from factory.teachers import TeacherRequest  # noqa: E402
from factory.testing.conformance import TeacherConformance, Together  # noqa: E402
from factory.teaching import ResponseCache, TeacherClient, TeacherSettings  # noqa: E402

from factory_transformers import TransformersTeacher  # noqa: E402

CORPUS = [
    "Name three colors of the rainbow.", "Red, orange and green are colors of the rainbow.",
    "Write a short poem about the sea.", "Waves roll in and out under the moon.",
    "Explain why the sky is blue.", "Air scatters blue light more than red light.",
    "List two uses of a paper clip.", "Holding papers together and opening a small slot.",
    "한국의 수도는 어디인가요?", "한국의 수도는 서울입니다.",
    "김치찌개를 끓이는 방법을 알려 주세요.", "김치와 돼지고기를 넣고 물을 부어 끓입니다.",
    "다음 문장을 존댓말로 바꾸세요.", "밥 먹었어? 는 진지 드셨어요? 가 됩니다.",
    "건강한 아침 식사 메뉴를 추천해 주세요.", "현미밥, 달걀, 나물, 과일을 추천합니다.",
    "1. 지시문: 2. 입력: 3. 출력: ###",
]
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)
PROMPTS = ["한국의 수도는", "Name three", "김치찌개를 끓이는 방법을 알려 주세요. 그리고", "Waves", "건강한 아침", "1. 지시문:"]


def _train_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(unk_token=None))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator(CORPUS * 3, trainer)
    bos = backend.token_to_id("<s>")
    backend.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>", unk_token="<unk>")


def _build_model(tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, initializer_range=0.2,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # never pick a special token greedily, so "length" tests are deterministic
        for token_id in (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id):
            model.lm_head.weight[token_id].zero_()
    return model


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """Folders ``plain`` (no chat template) and ``chat`` holding the same tiny model and tokenizer."""
    tokenizer = _train_tokenizer()
    model = _build_model(tokenizer)
    root = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(root / "plain")
    tokenizer.save_pretrained(root / "plain")
    model.save_pretrained(root / "chat")
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(root / "chat")
    tokenizer.chat_template = None
    return {"root": root, "plain": root / "plain", "chat": root / "chat", "model": model, "tokenizer": tokenizer}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FACTORY_CACHE_DIR", str(tmp_path / "cache"))


def make_teacher(folder: Path, **options) -> TransformersTeacher:
    options.setdefault("torch_threads", 1)
    return TransformersTeacher(model=str(folder), **options)


def count_generate_calls(teacher: TransformersTeacher) -> list[int]:
    """Wraps the loaded model's ``generate``; returns a list whose items are the batch sizes of the calls."""
    model = teacher.loaded.model
    original = model.generate
    calls: list[int] = []

    def counting(*args, **kwargs):
        calls.append(int(kwargs["input_ids"].shape[0]))
        return original(*args, **kwargs)

    model.generate = counting
    return calls


def reference_greedy(tiny, prompt_ids: list[int], max_new_tokens: int) -> list[int]:
    """Plain transformers greedy decoding of one unpadded prompt."""
    with torch.no_grad():
        out = tiny["model"].generate(input_ids=torch.tensor([prompt_ids]), attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
                                     max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tiny["tokenizer"].pad_token_id)
    return out[0, len(prompt_ids):].tolist()


def run(coro):
    return asyncio.run(coro)


# -- the teacher contract ----------------------------------------------------------------
class TestTransformersTeacherConformance(TeacherConformance):
    """The suite every teacher plugin runs, on the tiny Llama (no chat template: completion prompts)."""

    plugin = TransformersTeacher
    options = {"model": "org/some-model"}
    identity_changes = {"model": "org/other-model", "gguf_file": "model-q4.gguf", "prompt_style": "chat",
                        "dtype": "bfloat16", "seed": 3, "top_k": 40, "repetition_penalty": 1.1,
                        "bundled": Together(bundled="gemma3-270m", model=None)}
    runtime_changes = {"device": "cpu", "batch_size": 2, "max_batch_wait_ms": 50.0, "torch_threads": 1}

    @pytest.fixture
    def make_teacher(self, tiny):
        return lambda: make_teacher(tiny["plain"])


def test_greedy_completion_matches_plain_generate_with_exact_token_counts(tiny):
    teacher = make_teacher(tiny["plain"])
    prompt = "한국의 수도는"
    completion = run(teacher.complete(TeacherRequest(prompt=prompt, max_tokens=12, temperature=0.0)))
    prompt_ids = tiny["tokenizer"](prompt).input_ids
    expected_ids = reference_greedy(tiny, prompt_ids, 12)
    assert completion.finish_reason == "length"
    assert completion.text == tiny["tokenizer"].decode(expected_ids, skip_special_tokens=True)
    assert completion.text.strip()
    assert completion.prompt_tokens == len(prompt_ids) == len(tiny["tokenizer"].tokenize(prompt)) + 1  # + <s>
    assert completion.completion_tokens == 12
    assert completion.cached is False


def test_stop_string_cuts_the_text_at_its_first_occurrence(tiny):
    teacher = make_teacher(tiny["plain"])
    free = run(teacher.complete(TeacherRequest(prompt="Name three", max_tokens=20, temperature=0.0)))
    stop = free.text[6:9]
    cut = free.text.find(stop)
    assert cut > 0 and len(stop) == 3
    stopped = run(teacher.complete(TeacherRequest(prompt="Name three", max_tokens=20, temperature=0.0,
                                                  stop=("never-appears", stop))))
    assert stopped.finish_reason == "stop"
    assert stopped.text == free.text[:cut]
    assert stopped.completion_tokens < 20  # generation ended at the stop string, not at the limit
    assert stopped.prompt_tokens == free.prompt_tokens


def test_end_of_sequence_token_ends_a_row_with_finish_reason_stop(tiny, tmp_path):
    tokenizer = tiny["tokenizer"]
    prompt_ids = tokenizer("Waves").input_ids
    free_ids = reference_greedy(tiny, prompt_ids, 10)
    position = next(i for i in range(2, 10) if free_ids[i] not in free_ids[:i])  # a token's first occurrence
    eos = free_ids[position]
    folder = tmp_path / "eos-model"
    tiny["model"].save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "generation_config.json").write_text(f'{{"eos_token_id": {eos}, "pad_token_id": 0}}')
    teacher = make_teacher(folder)
    completion = run(teacher.complete(TeacherRequest(prompt="Waves", max_tokens=10, temperature=0.0)))
    assert completion.finish_reason == "stop"
    assert completion.completion_tokens == position + 1  # the end-of-sequence token counts
    assert completion.text == tokenizer.decode(free_ids[:position], skip_special_tokens=True)


# -- batching ----------------------------------------------------------------------------
def _mixed_requests() -> list[TeacherRequest]:
    requests = []
    for i, prompt in enumerate(PROMPTS):
        greedy = i % 2 == 0
        requests.append(TeacherRequest(prompt=prompt, max_tokens=6 + i, temperature=0.0 if greedy else 0.9,
                                       top_p=1.0 if greedy else 0.8))
    return requests


def test_concurrent_requests_share_generate_calls_and_match_unbatched_output(tiny):
    requests = _mixed_requests()
    single = make_teacher(tiny["plain"], batch_size=1)
    single_calls = count_generate_calls(single)
    alone = [run(single.complete(r)) for r in requests]
    assert single_calls == [1] * len(requests)

    batched = make_teacher(tiny["plain"], batch_size=4, max_batch_wait_ms=200)
    batched_calls = count_generate_calls(batched)

    async def all_at_once():
        return await asyncio.gather(*(batched.complete(r) for r in requests))

    together = run(all_at_once())
    assert batched_calls == [4, 2]  # six requests, batches of at most four
    assert batched.batches_run == 2
    for request, a, b in zip(requests, alone, together):
        assert (b.text, b.finish_reason, b.prompt_tokens, b.completion_tokens) == \
               (a.text, a.finish_reason, a.prompt_tokens, a.completion_tokens), request.prompt
        assert b.completion_tokens == request.max_tokens


def test_seed_makes_sampling_repeatable_and_changes_it(tiny):
    request = TeacherRequest(prompt="1. 지시문:", max_tokens=24, temperature=1.0)
    first = make_teacher(tiny["plain"], seed=7)
    again = make_teacher(tiny["plain"], seed=7)
    other = make_teacher(tiny["plain"], seed=8)
    texts = [run(t.complete(request)).text for t in (first, first, again, other)]
    assert texts[0] == texts[1] == texts[2]
    assert texts[3] != texts[0]
    greedy = run(first.complete(TeacherRequest(prompt="1. 지시문:", max_tokens=24, temperature=0.0))).text
    assert texts[0] != greedy  # it really sampled


def test_row_sampling_follows_temperature_top_p_and_top_k():
    from collections import Counter

    from factory_transformers.rows import RowSpec
    from factory_transformers.sampling import choose_token

    scores = torch.tensor([0.0, 1.0, 2.0, -1.0, -30.0])
    none = torch.tensor([], dtype=torch.long)
    generator = torch.Generator().manual_seed(3)

    def frequencies(spec: RowSpec, draws: int = 4000) -> dict[int, float]:
        counts = Counter(choose_token(scores.clone(), spec, none, generator) for _ in range(draws))
        return {token: counts[token] / draws for token in range(len(scores))}

    full = frequencies(RowSpec((1,), 1, temperature=1.0))
    for token, p in enumerate(torch.softmax(scores, 0).tolist()):
        assert abs(full[token] - p) < 0.03, (token, full[token], p)
    nucleus = frequencies(RowSpec((1,), 1, temperature=1.0, top_p=0.7))  # {2: .64} < .7, so token 1 joins
    assert set(t for t, f in nucleus.items() if f) == {1, 2}
    assert abs(nucleus[2] - 0.6439 / (0.6439 + 0.2369)) < 0.03
    hot = frequencies(RowSpec((1,), 1, temperature=5.0, top_k=3))
    assert set(t for t, f in hot.items() if f) == {0, 1, 2} and hot[0] > 0.2  # flattened, cut to 3
    assert choose_token(scores.clone(), RowSpec((1,), 1, temperature=0.0), none, None) == 2
    penalized = RowSpec((1,), 1, temperature=0.0, repetition_penalty=10.0)
    assert choose_token(scores.clone(), penalized, torch.tensor([2, 2]), None) == 1  # 2.0 / 10 < 1.0


def test_batcher_skips_callers_that_gave_up_and_fails_a_whole_batch_together():
    import threading

    from factory_transformers.batcher import MicroBatcher

    seen: list[list[str]] = []
    release = threading.Event()

    def run_batch(items, should_stop):
        seen.append(list(items))
        if "boom" in items:
            raise ValueError("bad batch")
        release.wait(5)
        return [item.upper() for item in items]

    batcher = MicroBatcher(run_batch, batch_size=2, max_wait_s=0.05)

    async def scenario():
        first = asyncio.ensure_future(batcher.submit("a"))
        await asyncio.sleep(0.2)  # "a" runs alone (the wait expired) and blocks in the worker
        queued = [asyncio.ensure_future(batcher.submit(x)) for x in ("b", "c", "d")]
        await asyncio.sleep(0.01)
        queued[0].cancel()  # "b" gives up (a timeout) before its batch starts
        release.set()
        results = await asyncio.gather(first, *queued[1:])
        failing = await asyncio.gather(batcher.submit("boom"), batcher.submit("e"), return_exceptions=True)
        return results, failing

    results, failing = run(scenario())
    batcher.close()
    assert results == ["A", "C", "D"]
    assert seen[:2] == [["a"], ["c", "d"]]  # "b" was dropped before its batch was formed
    assert [type(f) for f in failing] == [ValueError, ValueError] and seen[2] == ["boom", "e"]
    assert batcher.batches_run == 2  # successful generate calls


def test_an_abandoned_batch_stops_at_the_next_step_and_is_never_returned(tiny):
    from factory.teachers import RetryableTeacherError

    from factory_transformers.generate_batch import generate_batch

    teacher = make_teacher(tiny["plain"])
    rows = [teacher.row_for(TeacherRequest(prompt=p, max_tokens=200, temperature=0.0)) for p in PROMPTS[:2]]
    checks = []

    def should_stop() -> bool:
        checks.append(1)
        return len(checks) >= 3  # every caller gave up after the third token

    with pytest.raises(RetryableTeacherError, match="abandoned"):
        generate_batch(teacher.loaded, rows, should_stop)
    assert len(checks) == 3  # generate ended right there, not after 200 tokens
    assert [r.completion_tokens for r in generate_batch(teacher.loaded, rows)] == [200, 200]


# -- through the core's TeacherClient ------------------------------------------------------
def test_teacher_client_caches_responses_and_batches_concurrent_requests(tiny, tmp_path):
    teacher = make_teacher(tiny["plain"], batch_size=4, max_batch_wait_ms=200)
    calls = count_generate_calls(teacher)
    usage = Usage()
    cache = ResponseCache(tmp_path / "teacher.sqlite")
    client = TeacherClient(teacher, TeacherSettings(concurrency=4), cache=cache, usage=usage, budget=None)
    requests = [TeacherRequest(prompt=p, max_tokens=5, temperature=0.0) for p in PROMPTS[:4]]

    async def scenario():
        first = await client.complete_many(requests)
        again = await client.complete(requests[2])
        await client.aclose()
        return first, again

    first, again = run(scenario())
    assert calls == [4]  # the client's four concurrent requests went out as one batch
    assert all(not c.cached for c in first)
    assert again.cached is True
    assert (again.text, again.finish_reason, again.prompt_tokens, again.completion_tokens) == \
           (first[2].text, first[2].finish_reason, first[2].prompt_tokens, first[2].completion_tokens)
    assert calls == [4]  # the cache hit made no generate call
    assert usage.requests == 4 and usage.cached_requests == 1
    assert usage.completion_tokens == 20
    assert usage.prompt_tokens == sum(len(tiny["tokenizer"](r.prompt).input_ids) for r in requests)
    assert len(cache) == 4
    cache.close()


# -- prompt styles -----------------------------------------------------------------------
def test_chat_template_renders_messages_once_with_a_single_bos(tiny):
    tokenizer = tiny["tokenizer"]
    messages = (("system", "짧게 답하세요."), ("user", "한국의 수도는 어디인가요?"))
    rendered = "<s>system: 짧게 답하세요.\nuser: 한국의 수도는 어디인가요?\nassistant:"
    expected_prompt = tokenizer(rendered, add_special_tokens=False).input_ids
    assert expected_prompt.count(tokenizer.bos_token_id) == 1

    chat = make_teacher(tiny["chat"], prompt_style="auto")
    completion = run(chat.complete(TeacherRequest(messages=messages, max_tokens=8, temperature=0.0)))
    assert chat.prompt_text(TeacherRequest(messages=messages)) == rendered
    assert completion.prompt_tokens == len(expected_prompt)
    expected_ids = reference_greedy(tiny, expected_prompt, 8)
    assert completion.text == tokenizer.decode(expected_ids, skip_special_tokens=True)

    # auto with a plain prompt, and completion style, feed the raw text (with the tokenizer's <s>)
    raw = run(chat.complete(TeacherRequest(prompt="한국의 수도는", max_tokens=4, temperature=0.0)))
    assert raw.prompt_tokens == len(tokenizer("한국의 수도는").input_ids)
    base = make_teacher(tiny["chat"], prompt_style="completion")
    joined = run(base.complete(TeacherRequest(messages=messages, max_tokens=4, temperature=0.0)))
    assert joined.prompt_tokens == len(tokenizer("짧게 답하세요.\n\n한국의 수도는 어디인가요?").input_ids)


def test_chat_style_without_a_template_is_a_user_error(tiny):
    with pytest.raises(UserError, match="no chat template"):
        make_teacher(tiny["plain"], prompt_style="chat")


# -- user mistakes -----------------------------------------------------------------------
def test_bad_model_sources_are_one_line_user_errors(tiny, tmp_path):
    with pytest.raises(UserError, match="no such model folder") as missing:
        make_teacher(tmp_path / "does-not-exist")
    assert "\n" not in str(missing.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="cannot load folder") as broken:
        make_teacher(empty)
    assert "\n" not in str(broken.value)
    with pytest.raises(UserError, match="exactly one of model"):
        TransformersTeacher(model=str(tiny["plain"]), bundled="gemma3-270m")
    with pytest.raises(UserError, match="teacher.temperature"):
        TransformersTeacher(model=str(tiny["plain"]), temperature=0.5)
    with pytest.raises(UserError, match="no such GGUF file"):
        TransformersTeacher(model=str(tmp_path / "missing.gguf"))
    with pytest.raises(UserError, match="no file nothing.gguf"):
        TransformersTeacher(model=str(tiny["plain"]), gguf_file="nothing.gguf")


def test_registered_as_the_transformers_teacher_without_importing_torch_at_listing():
    import subprocess
    import sys

    code = ("import sys; from factory.plugins import get_registry; e = get_registry().get('teacher', 'transformers'); "
            "print(e.distribution, e.obj.__name__, 'torch' in sys.modules, 'transformers' in sys.modules)")
    env = {**os.environ, "FACTORY_PLUGINS": "koalpaca-factory-transformers"}  # other plugins may import torch themselves
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout.split()
    assert out == ["koalpaca-factory-transformers", "TransformersTeacher", "False", "False"]


# -- GGUF conversion cache -----------------------------------------------------------------
def _permute_for_gguf(weight, heads: int):
    """llama.cpp stores Llama's q/k rows interleaved per head (rotary halves); the loader undoes it."""
    return weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def write_tiny_gguf(tiny, path: Path) -> Path:
    """The tiny Llama and its byte-level BPE tokenizer as an F32 GGUF file, written with the gguf package."""
    import json

    import gguf

    model, tokenizer = tiny["model"], tiny["tokenizer"]
    cfg = model.config
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_rope_freq_base(cfg.rope_parameters["rope_theta"])
    writer.add_vocab_size(cfg.vocab_size)
    writer.add_tokenizer_model("gpt2")
    vocab = tokenizer.get_vocab()
    tokens = sorted(vocab, key=vocab.get)
    writer.add_token_list(tokens)
    writer.add_token_types([3 if token in SPECIALS else 1 for token in tokens])  # 3: control, 1: normal
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    writer.add_token_merges([" ".join(m) if isinstance(m, list) else m for m in merges])
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_add_bos_token(True)
    sd = {name: tensor.float().numpy() for name, tensor in model.state_dict().items()}
    writer.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"])
    writer.add_tensor("output_norm.weight", sd["model.norm.weight"])
    writer.add_tensor("output.weight", sd["lm_head.weight"])
    plain = {"attn_norm": "input_layernorm", "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
             "ffn_norm": "post_attention_layernorm", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
             "ffn_down": "mlp.down_proj"}
    for layer in range(cfg.num_hidden_layers):
        prefix = f"model.layers.{layer}."
        for gguf_name, hf_name in plain.items():
            writer.add_tensor(f"blk.{layer}.{gguf_name}.weight", sd[prefix + hf_name + ".weight"])
        writer.add_tensor(f"blk.{layer}.attn_q.weight",
                          _permute_for_gguf(sd[prefix + "self_attn.q_proj.weight"], cfg.num_attention_heads))
        writer.add_tensor(f"blk.{layer}.attn_k.weight",
                          _permute_for_gguf(sd[prefix + "self_attn.k_proj.weight"], cfg.num_key_value_heads))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_gguf_file_is_converted_once_into_the_cache_and_reloaded_from_it(tiny, tmp_path):
    from transformers import AutoModelForCausalLM

    gguf_dir = tmp_path / "gguf"
    gguf_dir.mkdir()
    path = write_tiny_gguf(tiny, gguf_dir / "tiny.gguf")
    request = TeacherRequest(prompt="김치찌개를 끓이는", max_tokens=8, temperature=0.0)

    first = TransformersTeacher(model=str(gguf_dir), gguf_file="tiny.gguf", torch_threads=1)
    assert first.source.converted_seconds is not None
    converted = Path(first.source.path)
    assert converted.parent == tmp_path / "cache" / "models" and converted.name.startswith("tiny-")
    weights = AutoModelForCausalLM.from_pretrained(converted).state_dict()  # plain folder, no quantizer left
    for name, tensor in tiny["model"].state_dict().items():
        assert torch.equal(weights[name], tensor), name
    from_gguf = run(first.complete(request))
    from_folder = run(make_teacher(tiny["plain"]).complete(request))
    assert (from_gguf.text, from_gguf.prompt_tokens, from_gguf.completion_tokens) == \
           (from_folder.text, from_folder.prompt_tokens, from_folder.completion_tokens)

    again = TransformersTeacher(model=str(path), torch_threads=1)  # the file path itself works too
    assert again.source.converted_seconds is None and again.source.path == str(converted)
    assert run(again.complete(request)).text == from_gguf.text

    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # a changed file is converted again
    changed = TransformersTeacher(model=str(path), torch_threads=1)
    assert changed.source.converted_seconds is not None and changed.source.path != str(converted)


@pytest.mark.skipif(os.environ.get("FACTORY_TEST_GEMMA") != "1",
                    reason="converts a 250 MB GGUF on first use (about a minute); set FACTORY_TEST_GEMMA=1")
def test_bundled_gemma_converts_once_then_loads_from_the_cache(monkeypatch):
    shared = os.environ.get("FACTORY_TEST_GEMMA_CACHE")  # reuse a converted copy across runs if given
    if shared:
        monkeypatch.setenv("FACTORY_CACHE_DIR", shared)
    teacher = TransformersTeacher(bundled="gemma3-270m", torch_threads=1)
    prompt = "1. 지시문: 김치찌개 끓이는 방법을 알려 주세요.\n2. 지시문:"
    completion = run(teacher.complete(TeacherRequest(prompt=prompt, max_tokens=16, temperature=0.0, stop=("\n",))))
    assert completion.prompt_tokens == len(teacher.loaded.tokenizer(prompt).input_ids)
    assert completion.text.strip()
    assert completion.finish_reason in ("stop", "length")
    started = time.monotonic()
    second = TransformersTeacher(bundled="gemma3-270m", torch_threads=1)
    assert second.source.converted_seconds is None  # loaded from the cache, not converted again
    assert time.monotonic() - started < 60
    assert second.identity == teacher.identity
    assert run(second.complete(TeacherRequest(prompt=prompt, max_tokens=16, temperature=0.0, stop=("\n",)))).text == completion.text
