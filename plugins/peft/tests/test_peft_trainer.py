"""The peft trainer on TRL with tiny LLaMA and GPT-NeoX models built in conftest (CPU, nothing downloaded):
SFT training, LoRA/QLoRA, reload, resume after a kill, options, recipes, launch and the CLI."""

from __future__ import annotations

import copy
import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import yaml

from factory.default_plugins.english import English
from factory.errors import RecipeError, UserError
from factory.trainers import TrainJob

from factory_peft import PeftTrainer
from factory_peft.export import load_trained
from factory_peft.run import prepare_run
from factory_peft.testing import job_for, reply_logprob, step_losses, tiny_options

REPO = Path(__file__).resolve().parents[3]


# -- training -----------------------------------------------------------------------------------


def test_full_finetune_overfits_and_reports_progress(llama_dir, data_file, tmp_path):
    events: list[dict] = []
    result = PeftTrainer().train(job_for(llama_dir, data_file, tmp_path / "out", events, method="full",
                                         learning_rate=1e-2, eval_size=2, save_steps=6, packing=True))
    losses = step_losses(events)
    assert len(losses) == 4 and losses[-1] < 0.7 * losses[0]
    steps = [e for e in events if e["event"] == "step"]
    assert all(e["tokens_per_s"] > 0 and e["eta_s"] is not None for e in steps) and steps[-1]["eta_s"] == 0
    assert [e["event"] for e in events].count("eval") >= 2
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(result.metrics))
    assert metrics["global_step"] == 12 and metrics["eval_examples"] == 2 and metrics["train_examples"] == 4
    assert metrics["packing"] is True and metrics["train_rows"] < metrics["train_examples"]
    assert metrics["tokens_seen"] > 0 and metrics["tokens_per_s"] > 0 and metrics["pad_token_added"] is True
    assert isinstance(metrics["eval_loss"], float)
    model_dir = tmp_path / "out" / "model"
    assert (model_dir / "model.safetensors").exists() and not (model_dir / "adapter_config.json").exists()
    card = (model_dir / "README.md").read_text()
    assert "### Instruction:\n{instruction}\n\n### Response:\n" in card and "base_model:" in card
    assert "</s>" in card and "<|pad|>" in card
    with pytest.raises(UserError, match=r"other options \(changed: learning_rate\)"):  # resuming another run
        prepare_run(job_for(llama_dir, data_file, tmp_path / "out", method="full", learning_rate=5e-3, eval_size=2,
                            save_steps=6, packing=True))
    # a checkpoint written before an option existed resumes as if it had the option's default
    options_file = tmp_path / "out" / "train_options.json"
    older = {k: v for k, v in json.loads(options_file.read_text()).items() if k not in ("objective", "beta")}
    options_file.write_text(json.dumps(older))
    resumed = prepare_run(job_for(llama_dir, data_file, tmp_path / "out", method="full", learning_rate=1e-2,
                                  eval_size=2, save_steps=6, packing=True))
    assert resumed.resume_from == tmp_path / "out" / "checkpoint-12"


def test_lora_adapter_reloads_to_the_same_logits_and_merges(neox_dir, data_file, korean, tmp_path):
    from transformers import AutoModelForCausalLM

    events: list[dict] = []
    run = prepare_run(job_for(neox_dir, data_file, tmp_path / "out", events, language=korean,
                              target_modules="all-linear", template="koalpaca", merge_adapter=True))
    result = run.execute()
    losses = step_losses(events)
    assert losses[-1] < 0.8 * losses[0]
    assert result.metrics["embeddings_resized"] is True and result.metrics["adapter_tensors"] > 0
    ids = torch.tensor([run.tokenizer("### 질문: 한국의 수도는 어디인가요?\n\n### 답변:")["input_ids"]])
    run.model.eval()
    with torch.no_grad():
        trained = run.model(input_ids=ids).logits
        reloaded_model, tokenizer = load_trained(tmp_path / "out" / "model")
        reloaded = reloaded_model.eval()(input_ids=ids).logits
        merged = AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "merged").eval()(input_ids=ids).logits
        base = AutoModelForCausalLM.from_pretrained(neox_dir).eval()(input_ids=ids).logits
    assert tokenizer.pad_token_id == run.tokenizer.pad_token_id != tokenizer.eos_token_id
    assert torch.allclose(trained, reloaded, atol=1e-5)
    assert torch.allclose(trained, merged, atol=1e-4)
    assert not torch.allclose(trained[..., : base.shape[-1]], base, atol=1e-2)  # the adapter changed the model
    assert "### 질문: {instruction}\n\n### 답변:" in (tmp_path / "out" / "model" / "README.md").read_text()


@pytest.mark.parametrize("data", ["single-turn", "conversations"])
def test_qlora_trains_a_4bit_base_on_cpu(data, neox_dir, data_file, conversations_file, tmp_path):
    events: list[dict] = []
    run = prepare_run(job_for(neox_dir, data_file if data == "single-turn" else conversations_file, tmp_path / "out",
                              events, method="qlora", target_modules=["query_key_value"], learning_rate=5e-2))
    quantized = [m for m in run.model.modules() if type(m).__name__ == "Linear4bit"]
    assert quantized and all(m.weight.dtype == torch.uint8 and m.weight.quant_type == "nf4" for m in quantized)
    assert all(m.weight.quant_state.nested for m in quantized)  # double quantization
    result = run.execute()
    losses = step_losses(events)
    assert losses[-1] < 0.8 * losses[0]
    assert result.metrics["compute_dtype"] == "float32" and result.metrics["optimizer"] == "adamw_torch"
    assert result.metrics["bitsandbytes"] and result.metrics["adapter_tensors"] == 4  # A and B of 2 layers
    config = json.loads((tmp_path / "out" / "model" / "adapter_config.json").read_text())
    assert config["target_modules"] == ["query_key_value"] and config["r"] == 8


def test_qlora_without_usable_bitsandbytes_fails_in_one_line_before_loading(neox_dir, data_file, tmp_path, monkeypatch):
    import factory_peft.run as run_module

    def must_not_load(*args, **kwargs):
        raise AssertionError("a model or tokenizer was loaded before the bitsandbytes check")

    monkeypatch.setattr(run_module, "load_tokenizer", must_not_load)
    monkeypatch.setattr(run_module, "load_model", must_not_load)
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # what an absent or broken install looks like
    with pytest.raises(UserError) as caught:
        prepare_run(job_for(neox_dir, data_file, tmp_path / "out", method="qlora"))
    message = str(caught.value)
    assert "\n" not in message and "qlora" in message and "bitsandbytes" in message


RESUME_SCRIPT = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    import torch
    torch.set_num_threads(1)
    from factory.default_plugins.english import English
    from factory.trainers import TrainJob
    from factory_peft import PeftTrainer

    options, events, data, out, stop = json.loads(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])

    def progress(event):
        with events.open("a") as handle:
            handle.write(json.dumps(event) + "\\n")
        if event.get("event") == "step" and event["step"] >= stop:
            time.sleep(600)  # hold here until the test kills this process

    PeftTrainer().train(TrainJob([Path(data)], Path(out), options, English(), progress))
""")


@pytest.mark.parametrize("case", ["sft", "sft-conversations", "dpo"])
def test_resume_after_kill_continues_at_the_same_step_with_the_same_optimizer_state(case, llama_dir, data_file,
                                                                                    conversations_file, pairs_file,
                                                                                    tmp_path):
    from transformers import TrainerCallback

    objective = case.split("-")[0]
    extra = {"template": "vicuna-v1.1"} if case == "sft-conversations" else {}
    options = tiny_options(llama_dir, max_steps=8, save_steps=3, logging_steps=1, lora_dropout=0.1,
                           lr_scheduler="cosine", warmup_steps=2, batch_size=4, objective=objective, **extra)
    data_file = {"sft": data_file, "sft-conversations": conversations_file, "dpo": pairs_file}[case]
    script = tmp_path / "train_then_hang.py"
    script.write_text(RESUME_SCRIPT)
    events_file, killed_dir = tmp_path / "events.jsonl", tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), json.dumps(options), str(events_file), str(data_file),
                             str(killed_dir), "5"], env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not _logged_step(events_file, 5):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the training subprocess never reached step 5"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    checkpoint = killed_dir / "checkpoint-3"
    assert (checkpoint / "trainer_state.json").exists() and not (killed_dir / "model").exists()
    saved_optimizer = torch.load(checkpoint / "optimizer.pt", weights_only=True)
    saved_scheduler = torch.load(checkpoint / "scheduler.pt", weights_only=True)

    class Snapshot(TrainerCallback):
        def on_train_begin(self, args, state, control, optimizer=None, lr_scheduler=None, **kwargs):
            self.step = state.global_step
            self.optimizer = copy.deepcopy(optimizer.state_dict())  # training mutates the tensors in place
            self.scheduler = copy.deepcopy(lr_scheduler.state_dict())

    events: list[dict] = []
    run = prepare_run(TrainJob([data_file], killed_dir, options, English(), events.append))
    snapshot = Snapshot()
    run.trainer.add_callback(snapshot)
    run.execute()
    assert snapshot.step == 3 and [e["step"] for e in events if e["event"] == "step"] == [4, 5, 6, 7, 8]
    assert snapshot.scheduler == saved_scheduler
    restored = snapshot.optimizer["state"]
    assert len(restored) == len(saved_optimizer["state"]) > 0
    for index, tensors in saved_optimizer["state"].items():
        for name, value in tensors.items():
            assert torch.equal(restored[index][name], value), (index, name)

    reference: list[dict] = []
    PeftTrainer().train(TrainJob([data_file], tmp_path / "uninterrupted", options, English(), reference.append))
    assert [e["loss"] for e in events if e["event"] == "step"] == pytest.approx(
        [e["loss"] for e in reference if e["event"] == "step"][3:], rel=1e-5)
    assert [e["learning_rate"] for e in events if e["event"] == "step"] == pytest.approx(
        [e["learning_rate"] for e in reference if e["event"] == "step"][3:])
    resumed = _adapter_tensors(killed_dir / "model")
    straight = _adapter_tensors(tmp_path / "uninterrupted" / "model")
    assert resumed.keys() == straight.keys()
    assert all(torch.allclose(resumed[k], straight[k], atol=1e-6) for k in resumed)
    # the objective's first logged values survive the kill: they come from the restored log history
    moved = json.loads((killed_dir / "metrics.json").read_text())["objective_metrics"]
    assert moved["loss"]["first_step"] == 1 and moved["loss"]["last_step"] == 8
    first_logged = next(e for e in map(json.loads, events_file.read_text().splitlines()) if e["event"] == "step")
    assert moved["loss"]["first"] == pytest.approx(first_logged["loss"])


def _logged_step(events_file: Path, step: int) -> bool:
    if not events_file.exists():
        return False
    lines = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    return any(e.get("event") == "step" and e["step"] >= step for e in lines)


def _adapter_tensors(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


# -- recipes, options, launch, registration -----------------------------------------------------


def test_bad_options_fail_cleanly_before_loading(llama_dir, data_file, tmp_path, monkeypatch):
    import factory_peft.run as run_module

    def must_not_load(*args, **kwargs):
        raise AssertionError("loaded a model for a recipe that should have been rejected")

    monkeypatch.setattr(run_module, "load_tokenizer", must_not_load)
    monkeypatch.setattr(run_module, "load_model", must_not_load)
    trainer = PeftTrainer()
    with pytest.raises(UserError, match="unknown prompt template 'vicuna'"):
        trainer.train(job_for(llama_dir, data_file, tmp_path, template="vicuna"))
    with pytest.raises(UserError, match="train.base_model: local folder '.*/missing' does not exist"):
        trainer.train(job_for(tmp_path / "missing", data_file, tmp_path))
    with pytest.raises(RecipeError, match=r"train.lora_rank: Extra inputs are not permitted"):
        trainer.train(job_for(llama_dir, data_file, tmp_path, lora_rank=8))
    with pytest.raises(RecipeError, match="batch_size 6 must be a multiple of micro_batch_size 4"):
        trainer.train(job_for(llama_dir, data_file, tmp_path, batch_size=6, micro_batch_size=4))
    with pytest.raises(RecipeError, match="train.method: Input should be 'full', 'lora' or 'qlora'"):
        trainer.train(job_for(llama_dir, data_file, tmp_path, method="dora"))
    with pytest.raises(RecipeError, match="packing only applies to objective sft, not dpo"):
        trainer.train(job_for(llama_dir, data_file, tmp_path, objective="dpo", packing=True))
    with pytest.raises(RecipeError, match="objective kto needs micro_batch_size >= 2"):
        trainer.train(job_for(llama_dir, data_file, tmp_path, objective="kto", micro_batch_size=1, batch_size=2))
    with pytest.raises(RecipeError, match="train.objective: Input should be 'sft', 'dpo', 'orpo', 'kto' or 'reward'"):
        trainer.train(job_for(llama_dir, data_file, tmp_path, objective="ppo"))


def test_several_gpus_in_one_process_fail_in_one_line(monkeypatch):
    from factory_peft.devices import plan_devices
    from factory_peft.options import parse_options

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(UserError, match="4 GPUs are visible to a single process.*--print-launch.*CUDA_VISIBLE_DEVICES"):
        plan_devices(parse_options({"base_model": "o/m"}))
    monkeypatch.setenv("WORLD_SIZE", "4")  # one process per GPU, as accelerate launch starts them
    assert plan_devices(parse_options({"base_model": "o/m"})).world_size == 4


def test_packed_rows_are_collated_as_rows_unless_the_kernel_is_variable_length():
    from types import SimpleNamespace

    from factory_peft.packed_rows import PackedRowsCollator, uses_varlen_attention

    assert uses_varlen_attention(SimpleNamespace(config=SimpleNamespace(_attn_implementation="flash_attention_2")))
    assert not uses_varlen_attention(SimpleNamespace(config=SimpleNamespace(_attn_implementation="sdpa")))
    batch = PackedRowsCollator(pad_id=9)([{"input_ids": [1, 2, 3, 4, 5], "labels": [-100, 2, 3, -100, 5], "seq_lengths": [3, 2]},
                                         {"input_ids": [6, 7], "labels": [6, 7], "seq_lengths": [2]}])
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1], [0, 1, 0, 1, 2]]  # padding runs on its own
    assert batch["input_ids"].tolist()[1] == [6, 7, 9, 9, 9] and "attention_mask" not in batch
    assert batch["labels"].tolist() == [[-100, 2, 3, -100, 5], [-100, 7, -100, -100, -100]]  # no first-token target


def test_every_option_is_described():
    from factory_peft import LauncherOptions, PeftOptions

    for model in (PeftOptions, LauncherOptions):
        assert model.model_config["extra"] == "forbid"
        assert all(info.description for info in model.model_fields.values()), model.__name__


@pytest.mark.parametrize("name", ["polyglot-ko-qlora", "llama-alpaca-full", "llama-lora", "quickstart", "ko-dpo",
                                  "reward-model"])
def test_shipped_recipes_validate(name):
    from factory_peft.options import parse_options

    recipe_path = REPO / "recipes" / f"{name}.yaml"
    recipe = yaml.safe_load(recipe_path.read_text(encoding="utf-8"))
    assert recipe["train"]["plugin"] == "peft"
    options = parse_options(recipe["train"])
    job = TrainJob(data_files=[], output_dir=Path("unused"), options=recipe["train"], language=None)
    command = PeftTrainer().launch_command(job, str(recipe_path))
    assert command[:2] == ["accelerate", "launch"] and command[-4:] == ["-m", "factory", "train", str(recipe_path)]
    if name == "llama-alpaca-full":
        assert (options.batch_size, options.learning_rate, options.epochs, options.max_length) == (128, 2e-5, 3, 512)
        assert (options.weight_decay, options.warmup_ratio, options.lr_scheduler) == (0, 0.03, "cosine")
        from accelerate.commands.config.config_args import load_config_from_file

        launch = _parse_with_accelerate(command)
        config = load_config_from_file(launch.config_file)
        assert config.distributed_type == "FSDP" and config.mixed_precision == "bf16"
        assert config.fsdp_config["fsdp_transformer_layer_cls_to_wrap"] == "LlamaDecoderLayer"
        assert launch.num_processes == 4 and launch.module and launch.training_script == "factory"
    if name == "polyglot-ko-qlora":
        assert options.base_model == "EleutherAI/polyglot-ko-12.8b" and options.method == "qlora"
        assert (options.lora_r, options.lora_alpha, options.target_modules, options.template) == (
            8, 32, ["query_key_value"], "koalpaca")
    if name == "ko-dpo":
        assert (options.objective, options.method, recipe["language"]) == ("dpo", "lora", "ko")
    if name == "reward-model":
        assert (options.objective, options.method) == ("reward", "lora")


def _parse_with_accelerate(command: list[str]):
    """Parse a printed command with accelerate's own ``launch`` argument parser (flags must exist)."""
    from accelerate.commands.launch import launch_command_parser

    assert command[:2] == ["accelerate", "launch"]
    return launch_command_parser().parse_args(command[2:])


def test_launch_command_for_deepspeed_and_multi_node(tmp_path):
    ds = tmp_path / "zero3.json"
    ds.write_text("{}")
    recipe = tmp_path / "r.yaml"
    options = {"base_model": "org/model", "launcher": {"num_processes": 16, "num_machines": 2, "machine_rank": 1,
                                                       "main_process_ip": "10.0.0.1", "main_process_port": 29500,
                                                       "deepspeed": "zero3.json"}}
    command = PeftTrainer().launch_command(TrainJob([], tmp_path, options, None), str(recipe))
    assert command == ["accelerate", "launch", "--use_deepspeed", "--deepspeed_config_file", str(ds.resolve()),
                       "--num_processes", "16", "--num_machines", "2", "--machine_rank", "1",
                       "--main_process_ip", "10.0.0.1", "--main_process_port", "29500",
                       "-m", "factory", "train", str(recipe)]
    launch = _parse_with_accelerate(command)
    assert launch.use_deepspeed and launch.deepspeed_config_file == str(ds.resolve()) and launch.num_machines == 2
    assert launch.training_script_args == ["train", str(recipe)]
    options["launcher"]["deepspeed"] = "nowhere.json"
    with pytest.raises(UserError, match="train.launcher.deepspeed: config file 'nowhere.json' not found"):
        PeftTrainer().launch_command(TrainJob([], tmp_path, options, None), str(recipe))
    with pytest.raises(RecipeError, match="main_process_ip is required"):
        PeftTrainer().launch_command(TrainJob([], tmp_path, {"base_model": "m", "launcher": {"num_machines": 2}}, None), "r")


def test_registered_through_the_factory_entry_point(monkeypatch):
    from factory import plugins

    monkeypatch.delenv(plugins.DISABLE_AUTOLOAD_ENV, raising=False)
    monkeypatch.setenv(plugins.ALLOW_LIST_ENV, "koalpaca-factory-peft")  # only this distribution's entry point
    entry = plugins.build_registry(plugins.build_plugin_manager()).get("trainer", "peft")
    assert entry.obj is PeftTrainer and entry.distribution == "koalpaca-factory-peft" and entry.version == "0.1.0"


def test_loading_the_plugin_and_printing_the_launch_stays_light():
    code = (
        "import sys\n"
        "from factory.trainers import TrainJob\n"
        "from factory_peft import PeftTrainer\n"
        "PeftTrainer().launch_command(TrainJob([], '.', {'base_model': 'o/m', 'launcher': {'num_processes': 2}}, None), 'r')\n"
        "print(sorted(m for m in ('torch', 'transformers', 'peft', 'bitsandbytes', 'accelerate', 'trl', 'datasets')\n"
        "             if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_factory_train_cli_runs_the_recipe_and_prints_the_launch(llama_dir, data_file, tmp_path, capsys):
    from factory.cli import main

    recipe = tmp_path / "tiny.yaml"
    train = {"plugin": "peft", "data": str(data_file), **tiny_options(llama_dir, max_steps=4, save_steps=2),
             "launcher": {"num_processes": 2}}
    recipe.write_text(yaml.safe_dump({"name": "tiny", "language": "en", "train": train}), encoding="utf-8")
    main(["train", str(recipe), "--out", str(tmp_path / "run"), "--quiet"])
    metrics = json.loads((tmp_path / "run" / "train" / "metrics.json").read_text())
    assert metrics["global_step"] == 4 and (tmp_path / "run" / "train" / "model" / "adapter_model.safetensors").exists()
    kept = json.loads((tmp_path / "run" / "train_metrics.json").read_text())  # the run folder keeps them too
    assert kept == metrics and kept["objective_metrics"]["loss"]["last_step"] == 3  # logged every 3 steps
    capsys.readouterr()
    main(["train", str(recipe), "--print-launch"])
    assert capsys.readouterr().out.strip() == (
        f"accelerate launch --multi_gpu --num_processes 2 --num_machines 1 -m factory train {recipe}")
    recipe.write_text(yaml.safe_dump({"name": "tiny", "language": "en", "train": {**train, "template": "vicuna"}}))
    with pytest.raises(SystemExit) as done:
        main(["train", str(recipe), "--out", str(tmp_path / "run2"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert done.value.code == 2 and err.count("\n") == 0 and "unknown prompt template 'vicuna'" in err


def test_print_launch_reproduces_every_argument_it_was_given(llama_dir, data_file, tmp_path, capsys, monkeypatch):
    """The printed command's ``factory train`` part resolves exactly the job the original command would train."""
    from factory.cli import main
    from factory.trainers import TrainResult
    from factory_peft.options import parse_options

    dataset = tmp_path / "exported"
    dataset.mkdir()
    (dataset / "train.jsonl").write_text(data_file.read_text(), encoding="utf-8")  # --data DIR: a dataset folder
    recipe = tmp_path / "tiny.yaml"
    train = {"plugin": "peft", **tiny_options(llama_dir, max_steps=50), "launcher": {"num_processes": 2}}
    recipe.write_text(yaml.safe_dump({"name": "tiny", "language": "en", "train": train}), encoding="utf-8")
    jobs: list[TrainJob] = []

    def record_job(self, job):
        jobs.append(job)
        return TrainResult(output_dir=job.output_dir)

    monkeypatch.setattr(PeftTrainer, "train", record_job)
    given = ["train", str(recipe), "--data", str(dataset), "--set", "train.max_steps=3",
             "--set", "train.learning_rate=0.001", "--set", "train.template=alpaca-stanford",
             "--out", str(tmp_path / "X"), "--quiet"]
    main(given)
    capsys.readouterr()
    main(given + ["--print-launch"])
    printed = shlex.split(capsys.readouterr().out.strip())
    launch = _parse_with_accelerate(printed)
    assert launch.module and launch.training_script == "factory" and launch.num_processes == 2
    relaunched = launch.training_script_args  # what every launched process runs after `python -m factory`
    assert relaunched == given[:]  # every argument, in order
    main(relaunched)
    direct, again = jobs
    assert again.data_files == direct.data_files == [dataset / "train.jsonl"]
    assert again.output_dir == direct.output_dir == tmp_path / "X" / "train"
    assert parse_options(again.options) == parse_options(direct.options)
    assert (parse_options(again.options).max_steps, parse_options(again.options).learning_rate) == (3, 0.001)
    assert again.language.code == direct.language.code == "en"


@pytest.mark.parametrize("arch", ["llama", "neox"])
def test_multi_turn_lora_finetune_learns_the_assistant_turns_and_reloads(arch, llama_dir, neox_dir,
                                                                         conversations_file, tmp_path):
    from factory_peft.testing import CONVERSATIONS

    base = llama_dir if arch == "llama" else neox_dir
    events: list[dict] = []
    run = prepare_run(job_for(base, conversations_file, tmp_path / "out", events, template="vicuna-v1.1",
                              max_steps=10, learning_rate=3e-2))
    tokenizer, model = run.tokenizer, run.model

    def reply_logprobs() -> list[float]:
        scores = []
        for messages in CONVERSATIONS:
            for turn, message in enumerate(messages):
                if message["role"] != "assistant":
                    continue
                prompt = tokenizer.apply_chat_template(messages[:turn], tokenize=False, add_generation_prompt=True)
                full = tokenizer.apply_chat_template(messages[:turn + 1], tokenize=False)
                prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
                full_ids = tokenizer(full, add_special_tokens=False)["input_ids"]
                scores.append(reply_logprob(model, tokenizer, prompt_ids, full_ids[len(prompt_ids):]))
        return scores

    model.eval()
    before = reply_logprobs()
    result = run.execute()
    model.eval()
    after = reply_logprobs()
    assert len(after) == 7 and all(a > b + 1.0 for a, b in zip(after, before))  # every reply of every turn
    losses = step_losses(events)
    assert losses[-1] < 0.8 * losses[0] and result.metrics["template"] == "vicuna-v1.1"
    reloaded, saved_tokenizer = load_trained(tmp_path / "out" / "model")
    assert saved_tokenizer.chat_template == tokenizer.chat_template  # the injected format is served
    ids = torch.tensor([tokenizer(tokenizer.apply_chat_template(CONVERSATIONS[0], tokenize=False),
                                  add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, reloaded.eval()(input_ids=ids).logits, atol=1e-5)
    card = (tmp_path / "out" / "model" / "README.md").read_text()
    assert "Chat format `vicuna-v1.1`" in card and "USER: {instruction} ASSISTANT:" in card


def test_a_data_recipe_with_a_train_section_runs_every_stage_in_one_run(llama_dir, data_file, tmp_path):
    """factory run: source -> filter -> export -> train, the manifest recording the student (the quickstart's path)."""
    from factory.cli import main

    recipe = tmp_path / "data-and-train.yaml"
    train = {"plugin": "peft", **tiny_options(llama_dir, max_steps=2, save_steps=2)}
    recipe.write_text(yaml.safe_dump({"name": "data-and-train", "language": "en", "source": {"path": str(data_file)},
                                      "filters": {"similarity": {"enabled": False}, "min_instruction_words": 1},
                                      "train": train}), encoding="utf-8")
    main(["run", str(recipe), "--out", str(tmp_path / "run"), "--quiet"])  # returns normally on success
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert stats["status"] == "finished" and stats["accepted"] > 0
    assert stats["provenance"]["train"]["metrics"]["global_step"] == 2
    assert (tmp_path / "run" / "train" / "model" / "adapter_model.safetensors").exists()
    assert (tmp_path / "run" / "data" / "train.jsonl").exists()
