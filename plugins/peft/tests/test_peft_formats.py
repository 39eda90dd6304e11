"""Training formats on TRL: exact masks for single-turn templates and every turn of a conversation.

Each test builds the real run (``prepare_run``: TRL tokenizes, masks and
limits) on the tiny offline models and checks the prepared rows against an
independent rendering: the masked prefix of every reply must be exactly the
serving prompt, and the learned span exactly the reply and its end token.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import torch

from factory.errors import UserError
from factory.records import Record

from factory_peft.lengths import IGNORE_INDEX
from factory_peft.modeling import ensure_pad_token, fit_embeddings
from factory_peft.run import prepare_run
from factory_peft.testing import CONVERSATIONS, TRAIN_RECORDS, job_for, write_jsonl


def prepared(base: Path, data: Path, out: Path, language=None, **options):
    return prepare_run(job_for(base, data, out, language=language, max_steps=1, **options))


def learned_spans(labels: list[int]) -> list[tuple[int, int]]:
    """(start, end) of each run of tokens in the loss."""
    spans, start = [], None
    for index, label in enumerate(labels + [IGNORE_INDEX]):
        if label != IGNORE_INDEX and start is None:
            start = index
        elif label == IGNORE_INDEX and start is not None:
            spans.append((start, index))
            start = None
    return spans


# -- single-turn prompt templates ------------------------------------------------------------


@pytest.mark.parametrize("arch", ["llama", "neox"])
@pytest.mark.parametrize("template", ["alpaca", "koalpaca"])
def test_single_turn_templates_mask_the_prompt_exactly_and_learn_eos(arch, template, llama_dir, neox_dir, data_file,
                                                                      korean, tmp_path):
    base = llama_dir if arch == "llama" else neox_dir
    run = prepared(base, data_file, tmp_path / "out", language=korean, template=template)
    tokenizer, rows = run.tokenizer, run.trainer.train_dataset
    assert len(rows) == len(TRAIN_RECORDS) and run.stats.truncated == 0
    fmt = run.format.prompt_template
    for raw, row in zip(TRAIN_RECORDS, rows):
        record = Record.from_alpaca(raw["instruction"], raw["input"], raw["output"])
        prompt_ids = tokenizer(fmt.render(record.instruction, record.input))["input_ids"]
        n = len(prompt_ids)
        ids, labels = row["input_ids"], row["labels"]
        assert ids[:n] == prompt_ids  # the prompt tokens are the serving-time tokens
        assert labels[:n] == [IGNORE_INDEX] * n and IGNORE_INDEX not in labels[n:] and labels[n:] == ids[n:]
        assert ids[-1] == labels[-1] == tokenizer.eos_token_id  # EOS is learned
        assert tokenizer.eos_token_id not in ids[:-1]
        assert tokenizer.decode(ids[n:-1]).strip() == record.output
    if arch == "neox":  # byte-level BPE round-trips exactly: the trained text is the published format
        text = tokenizer.decode(rows[2]["input_ids"])
        if template == "koalpaca":
            assert text == "### 질문: 한국의 수도는 어디인가요?\n\n### 답변: 한국의 수도는 서울입니다.<|endoftext|>"
        else:
            assert text.endswith("### Instruction:\n한국의 수도는 어디인가요?\n\n### Response:\n한국의 수도는 서울입니다.<|endoftext|>")
    inputs_too = prepared(base, data_file, tmp_path / "all", language=korean, template=template, train_on_inputs=True)
    assert all(row["labels"] == row["input_ids"] for row in inputs_too.trainer.train_dataset)


# -- conversations ---------------------------------------------------------------------------


@pytest.mark.parametrize(("arch", "chat_format"), [("llama", "vicuna-v1.1"), ("neox", "vicuna-v1.1"),
                                                   ("neox", "koalpaca-chat"), ("llama", "koalpaca-chat"),
                                                   ("llama", "chatml")])
def test_every_assistant_turn_is_learned_and_nothing_else(arch, chat_format, llama_dir, neox_dir, conversations_file,
                                                          korean, tmp_path):
    base = llama_dir if arch == "llama" else neox_dir
    from transformers import AutoTokenizer

    assert not AutoTokenizer.from_pretrained(base).chat_template  # a base model: the format is injected
    run = prepared(base, conversations_file, tmp_path / "out", language=korean, template=chat_format)
    tokenizer, fmt = run.tokenizer, run.format
    assert tokenizer.chat_template == korean.chat_format(chat_format).jinja(bos=arch == "llama")
    stop_id = tokenizer.convert_tokens_to_ids(fmt.stop_token)
    assert stop_id != tokenizer.pad_token_id
    rows = run.trainer.train_dataset
    assert len(rows) == len(CONVERSATIONS)
    for messages, row in zip(CONVERSATIONS, rows):
        ids, labels = row["input_ids"], row["labels"]
        replies = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
        spans = learned_spans(labels)
        assert len(spans) == len(replies)  # one learned span per assistant turn, none elsewhere
        for turn, (start, end) in zip(replies, spans):
            serving = tokenizer.apply_chat_template(messages[:turn], tokenize=False, add_generation_prompt=True)
            # everything before the reply is masked and is exactly what a server sends for this turn
            assert ids[:start] == tokenizer(serving, add_special_tokens=False)["input_ids"]
            assert labels[start:end] == ids[start:end] and ids[end - 1] == stop_id  # the reply and its end token
            assert tokenizer.decode(ids[start:end - 1]).strip() == messages[turn]["content"]
        for message in messages:
            if message["role"] != "assistant":
                assert message["content"] not in tokenizer.decode([i for i, l in zip(ids, labels) if l != IGNORE_INDEX])
    run.trainer.save_model(str(tmp_path / "saved"))
    run.tokenizer.save_pretrained(str(tmp_path / "saved"))
    assert AutoTokenizer.from_pretrained(tmp_path / "saved").chat_template == tokenizer.chat_template  # served as trained


@pytest.mark.parametrize("arch", ["llama", "neox"])
def test_koalpaca_chat_trains_a_single_turn_record_exactly_like_the_koalpaca_template(arch, llama_dir, neox_dir,
                                                                                      korean, tmp_path):
    base = llama_dir if arch == "llama" else neox_dir
    no_input = write_jsonl(tmp_path / "d.jsonl", [r for r in TRAIN_RECORDS if not r["input"]])
    chat = prepared(base, no_input, tmp_path / "chat", language=korean, template="koalpaca-chat").trainer.train_dataset
    single = prepared(base, no_input, tmp_path / "one", language=korean, template="koalpaca").trainer.train_dataset
    assert chat["input_ids"] == single["input_ids"] and chat["labels"] == single["labels"]


def test_chatml_adds_its_markers_and_trains_their_embeddings(llama_dir, conversations_file, tmp_path):
    run = prepare_run(job_for(llama_dir, conversations_file, tmp_path / "out", template="chatml", max_steps=3))
    tokenizer = run.tokenizer
    added = [tokenizer.convert_tokens_to_ids(t) for t in ("<|im_start|>", "<|im_end|>")]
    assert run.format.added_tokens == ["<|im_start|>", "<|im_end|>"] and all(i >= 400 for i in added)
    assert run.model.peft_config["default"].trainable_token_indices  # their embedding rows train with the adapter
    before = run.model.get_input_embeddings()(torch.tensor(added)).detach().clone()
    run.execute()
    after = run.model.get_input_embeddings()(torch.tensor(added)).detach()
    assert not torch.allclose(before, after)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert im_end in run.model.generation_config.eos_token_id  # generation stops there...
    from factory_peft.export import load_trained

    reloaded, _ = load_trained(tmp_path / "out" / "model")
    assert im_end in reloaded.generation_config.eos_token_id  # ...also after a reload of the adapter


def test_a_token_spanning_the_prompt_boundary_is_masked_with_the_prompt(llama_dir, tmp_path):
    from factory.languages import Language, PromptTemplate

    class Cut(Language):
        code = "cut"
        templates = {"cut": PromptTemplate(name="cut", with_input="{instruction}", without_input="### Instruc")}
        default_template = "cut"

    data = write_jsonl(tmp_path / "d.jsonl", [{"instruction": "x", "input": "", "output": "tion:"}])
    run = prepared(llama_dir, data, tmp_path / "out", language=Cut())  # the prompt ends mid-word
    tokenizer, row = run.tokenizer, run.trainer.train_dataset[0]
    full, alone = tokenizer("### Instruction:")["input_ids"], tokenizer("### Instruc")["input_ids"]
    assert row["input_ids"] == full + [tokenizer.eos_token_id]
    shared = next(i for i, (a, b) in enumerate(zip(full, alone)) if a != b)
    # the merged token is learned, never shifted into the prompt: the common prefix is masked
    assert row["labels"] == [IGNORE_INDEX] * shared + full[shared:] + [tokenizer.eos_token_id]


def test_a_tokenizer_template_without_generation_markers(llama_dir, data_file, conversations_file, tmp_path):
    base = tmp_path / "chat-llama"
    shutil.copytree(llama_dir, base)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    tokenizer.chat_template = (
        "{% for m in messages %}{{ '### ' + m['role'] + ':\n' + m['content'] + '\n' }}"
        "{% if m['role'] == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '### assistant:\n' }}{% endif %}"
    )
    tokenizer.save_pretrained(base)
    # single-turn records still work: the user turn and the generation cue are the masked prompt
    run = prepared(base, data_file, tmp_path / "out", template="chat_template")
    row, raw = run.trainer.train_dataset[0], TRAIN_RECORDS[0]
    serving = run.tokenizer.apply_chat_template([{"role": "user", "content": raw["instruction"]}], tokenize=False,
                                                add_generation_prompt=True)
    n = len(run.tokenizer(serving, add_special_tokens=False)["input_ids"])
    assert row["labels"][:n] == [IGNORE_INDEX] * n and IGNORE_INDEX not in row["labels"][n:]
    assert row["input_ids"].count(run.tokenizer.eos_token_id) == 1 and row["labels"][-1] == run.tokenizer.eos_token_id
    # conversations cannot be masked turn by turn with it: one line naming the fix, before the model loads
    with pytest.raises(UserError, match="no \\{% generation %\\} markers") as caught:
        prepared(base, conversations_file, tmp_path / "conv", template="chat_template")
    assert "\n" not in str(caught.value) and "vicuna-v1.1" in str(caught.value)


def test_format_errors_are_one_line_before_any_model_loads(llama_dir, data_file, conversations_file, tmp_path,
                                                           monkeypatch):
    import factory_peft.run as run_module

    def must_not_load(*args, **kwargs):
        raise AssertionError("loaded a model for a recipe that should have been rejected")

    monkeypatch.setattr(run_module, "load_tokenizer", must_not_load)
    monkeypatch.setattr(run_module, "load_model", must_not_load)
    with pytest.raises(UserError, match="'alpaca' is a single-turn prompt template but 3 record") as caught:
        prepare_run(job_for(llama_dir, conversations_file, tmp_path, template="alpaca"))
    assert "vicuna-v1.1" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(UserError, match="unknown prompt template 'koalpaca' for language 'en'"):
        prepare_run(job_for(llama_dir, data_file, tmp_path, template="koalpaca"))  # KoAlpaca is the Korean plugin's
    with pytest.raises(UserError, match="objective dpo: 6 of 6 record"):
        prepare_run(job_for(llama_dir, data_file, tmp_path, objective="dpo"))


def test_conversations_default_to_the_languages_chat_format(neox_dir, conversations_file, korean, tmp_path):
    assert prepared(neox_dir, conversations_file, tmp_path / "en").format.name == "vicuna-v1.1"
    assert prepared(neox_dir, conversations_file, tmp_path / "ko", language=korean).format.name == "koalpaca-chat"


# -- PAD, packing ------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["llama", "neox"])
def test_pad_is_distinct_from_eos_and_new_rows_are_the_mean(arch, llama_dir, neox_dir, data_file, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = llama_dir if arch == "llama" else neox_dir
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.pad_token = tokenizer.eos_token  # the popular mistake: PAD == EOS
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    rows = model.get_input_embeddings().weight.shape[0]
    assert ensure_pad_token(tokenizer) is True
    assert tokenizer.pad_token_id is not None and tokenizer.pad_token_id != tokenizer.eos_token_id
    assert fit_embeddings(model, tokenizer) is True
    weight = model.get_input_embeddings().weight
    assert weight.shape[0] == len(tokenizer) == rows + 1 and model.config.pad_token_id == tokenizer.pad_token_id
    assert torch.allclose(weight[rows], weight[:rows].mean(dim=0))
    assert ensure_pad_token(tokenizer) is False  # idempotent

    run = prepared(model_dir, data_file, tmp_path / "out")  # TRL's collator pads with our PAD
    batch = run.trainer.data_collator([run.trainer.train_dataset[i] for i in range(2)])
    short = 0 if len(run.trainer.train_dataset[0]["input_ids"]) < len(run.trainer.train_dataset[1]["input_ids"]) else 1
    padded = batch["attention_mask"][short] == 0
    assert padded.any() and (batch["input_ids"][short][padded] == run.tokenizer.pad_token_id).all()
    assert (batch["labels"][short][padded] == IGNORE_INDEX).all()
    assert int((batch["labels"] == run.tokenizer.eos_token_id).sum()) == 2  # PAD never masks an EOS label
    assert run.padding.pad_tokens == int(padded.sum())  # the padding meter saw the same batch


def test_packing_saves_padding_without_mixing_examples(llama_dir, tmp_path):
    varied = TRAIN_RECORDS + [{**r, "output": " ".join([r["output"]] * k)} for k in (2, 4) for r in TRAIN_RECORDS]
    data = write_jsonl(tmp_path / "varied.jsonl", varied)
    plain = prepared(llama_dir, data, tmp_path / "plain", micro_batch_size=6, batch_size=6)
    packed = prepared(llama_dir, data, tmp_path / "packed", packing=True, micro_batch_size=6, batch_size=6)
    rows = packed.trainer.train_dataset
    assert len(rows) < len(plain.trainer.train_dataset) and all(len(r["input_ids"]) <= 256 for r in rows)
    assert sorted(t for r in rows for t in r["input_ids"]) == sorted(
        t for r in plain.trainer.train_dataset for t in r["input_ids"])  # every token, once
    for run in (plain, packed):
        for batch in run.trainer.get_train_dataloader():
            pass
    assert packed.padding.padding_fraction() < plain.padding.padding_fraction()
    model = packed.model.eval()
    batch = next(iter(packed.trainer.get_train_dataloader()))
    assert "attention_mask" not in batch and batch["input_ids"].shape[0] > 1  # rows, not one flat row (sdpa)
    assert any(row.tolist().count(0) > 1 for row in batch["position_ids"])  # several examples in a row
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
        for index, row in enumerate(batch["position_ids"].tolist()):
            starts = [i for i, p in enumerate(row) if p == 0] + [len(row)]
            for start, end in zip(starts, starts[1:]):  # every packed example (and the padding) runs on its own
                alone = model(input_ids=batch["input_ids"][index:index + 1, start:end], use_cache=False).logits[0]
                assert torch.allclose(logits[index, start:end], alone, atol=1e-5)
            assert batch["labels"][index, [s for s in starts[:-1]]].eq(IGNORE_INDEX).all()  # no cross-example target
    assert sum(label == IGNORE_INDEX for r in rows for label in r["labels"]) == sum(
        label == IGNORE_INDEX for r in plain.trainer.train_dataset for label in r["labels"])  # masks travel along


# -- over-long examples ------------------------------------------------------------------------


def test_overlong_examples_are_counted_never_silently_cut(neox_dir, korean, tmp_path):
    long_output = " ".join(["Red, yellow and blue."] * 40)
    data = write_jsonl(tmp_path / "d.jsonl", [{"instruction": "Name three primary colors.", "input": "", "output": long_output},
                                              TRAIN_RECORDS[0], {"instruction": "Say it.", "input": "", "output": ""}])
    first = prepared(neox_dir, data, tmp_path / "probe", language=korean, template="koalpaca")
    short_len = len(first.trainer.train_dataset[1]["input_ids"])
    limit = short_len + 2  # the short record fits, the long one does not
    run = prepared(neox_dir, data, tmp_path / "t", language=korean, template="koalpaca", max_length=limit)
    stats, rows = run.stats, run.trainer.train_dataset
    assert (stats.records, stats.examples, stats.truncated, stats.dropped_empty) == (3, 2, 1, 1)
    assert len(rows[0]["input_ids"]) == limit and rows[0]["input_ids"][-1] != run.tokenizer.eos_token_id
    assert rows[1]["input_ids"][-1] == run.tokenizer.eos_token_id
    assert any("truncated" in w and "lost" in w for w in stats.warnings)
    dropped = prepared(neox_dir, data, tmp_path / "d", language=korean, template="koalpaca", max_length=limit,
                       overlong="drop")
    assert dropped.stats.examples == 1 and dropped.stats.dropped_overlong == 1 and dropped.stats.truncated == 0
    prompt_len = first.trainer.train_dataset[0]["labels"].index(next(l for l in first.trainer.train_dataset[0]["labels"]
                                                                     if l != IGNORE_INDEX))
    tiny = write_jsonl(tmp_path / "long-prompt.jsonl", [TRAIN_RECORDS[0], {**TRAIN_RECORDS[0], "output": long_output}])
    with pytest.raises(UserError, match="none of the 2 training records fit max_length"):
        prepared(neox_dir, tiny, tmp_path / "p", language=korean, template="koalpaca", max_length=prompt_len)


def test_an_overlong_conversation_is_counted_and_keeps_its_start(llama_dir, conversations_file, tmp_path):
    full = prepared(llama_dir, conversations_file, tmp_path / "full", template="vicuna-v1.1").trainer.train_dataset
    lengths = [len(row["input_ids"]) for row in full]
    limit = sorted(lengths)[-2]  # the longest conversation no longer fits
    run = prepared(llama_dir, conversations_file, tmp_path / "cut", template="vicuna-v1.1", max_length=limit)
    assert run.stats.truncated == 1 and run.stats.examples == len(CONVERSATIONS) and run.stats.longest == limit
    longest = lengths.index(max(lengths))
    cut = run.trainer.train_dataset[longest]
    assert cut["input_ids"] == full[longest]["input_ids"][:limit] and cut["labels"] == full[longest]["labels"][:limit]
    dropped = prepared(llama_dir, conversations_file, tmp_path / "drop", template="vicuna-v1.1", max_length=limit,
                       overlong="drop")
    assert dropped.stats.dropped_overlong == 1 and len(dropped.trainer.train_dataset) == len(CONVERSATIONS) - 1


@pytest.mark.parametrize("objective", ["dpo", "reward", "orpo", "kto"])
def test_overlong_preference_pairs_are_counted(objective, llama_dir, tmp_path):
    long_reply = " ".join(["Rivers carry water from mountains to the sea."] * 20)
    rows = [{"prompt": "Name a color.", "chosen": "Blue.", "rejected": "The cat sleeps."},
            {"prompt": "Name a color.", "chosen": "Blue.", "rejected": long_reply},
            {"prompt": "Add four and five.", "chosen": "Nine.", "rejected": "Glad."}]
    data = write_jsonl(tmp_path / "pairs.jsonl", rows)
    run = prepared(llama_dir, data, tmp_path / "t", objective=objective, max_length=64)
    units = 2 if objective == "kto" else 1  # kto splits each pair into two labelled replies
    assert run.stats.truncated == 1 and run.stats.examples == 3 * units and run.stats.longest <= 64
    dropped = prepared(llama_dir, data, tmp_path / "d", objective=objective, max_length=64, overlong="drop")
    assert dropped.stats.dropped_overlong == 1 and dropped.stats.examples == 3 * units - 1
    assert len(dropped.trainer.train_dataset) == 3 * units - 1


def test_the_factory_trainers_rely_on_trls_dataset_preparation_hook():
    """The subclasses override TRL's ``_prepare_dataset``; a TRL release that renames it must fail here, loudly."""
    import inspect

    import trl

    for name, params in (("SFTTrainer", ["dataset", "processing_class", "args", "packing", "formatting_func",
                                         "dataset_name"]),
                         ("DPOTrainer", ["dataset", "processing_class", "args", "dataset_name"]),
                         ("KTOTrainer", ["dataset", "processing_class", "args", "dataset_name"]),
                         ("RewardTrainer", ["dataset", "processing_class", "args", "dataset_name"])):
        assert list(inspect.signature(getattr(trl, name)._prepare_dataset).parameters)[1:] == params, name
    from trl.experimental.orpo import ORPOTrainer

    assert list(inspect.signature(ORPOTrainer.tokenize_row).parameters)[1:] == ["feature", "model"]
    assert sys.modules["trl"].__version__.startswith("1.")
