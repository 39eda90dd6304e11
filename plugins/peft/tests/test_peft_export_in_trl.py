"""What factory exports is what TRL trains on: an exported `messages` JSONL (the dataset, or its `messages` view)
goes into SFTTrainer unchanged."""

from __future__ import annotations

import json

import pytest

from factory.records import Record

from factory_peft.testing import CONVERSATIONS


@pytest.mark.parametrize("exported_file", ["train.jsonl", "views/messages/train.jsonl"])
def test_an_exported_messages_jsonl_loads_in_trls_sft_trainer_unchanged(exported_file, llama_dir, tmp_path):
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from factory.chat_formats import VICUNA_V11
    from factory.export import export_run
    from factory.testing.sample_run import write_sample_run

    run = write_sample_run(tmp_path / "run")
    records = [Record(m, id=f"conv-{i}", meta={"source": "test"}) for i, m in enumerate(CONVERSATIONS)]
    (run / "accepted.jsonl").write_text("".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in records),
                                        encoding="utf-8")
    export_run(run, views=["messages"])  # the dataset itself, and the TRL view written beside it
    exported = run / "data" / exported_file
    dataset = datasets.load_dataset("json", data_files=str(exported), split="train")  # as a TRL user loads it
    assert "messages" in dataset.column_names and dataset[0]["messages"] == CONVERSATIONS[0]

    tokenizer = AutoTokenizer.from_pretrained(llama_dir)
    tokenizer.add_special_tokens({"pad_token": "<|pad|>"})
    tokenizer.chat_template = VICUNA_V11.jinja(bos=True)  # the base model gets factory's named format
    model = AutoModelForCausalLM.from_pretrained(llama_dir)
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    args = SFTConfig(output_dir=str(tmp_path / "trl"), max_steps=2, per_device_train_batch_size=2, use_cpu=True,
                     bf16=False, activation_checkpointing=False, assistant_only_loss=True, report_to="none",
                     save_strategy="no", logging_steps=1, disable_tqdm=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    learned = [tokenizer.decode([i for i, label in zip(row["input_ids"], row["labels"]) if label != -100])
               for row in trainer.train_dataset]
    assert "Red, yellow and blue." in learned[0] and "Nine." in learned[0] and "Name three" not in learned[0]
    output = trainer.train()
    assert output.global_step == 2 and output.training_loss > 0
