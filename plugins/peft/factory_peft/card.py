"""The model card (README.md) written next to the saved weights.

It records what a user needs to serve the model correctly: the exact prompt
format, the EOS and PAD tokens, the base model, objective and method, the
hyperparameters, the final metrics and how the objective's metrics moved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class CardFacts:
    base_model: str
    method: str  # full | lora | qlora | merged
    objective: str  # sft | dpo | orpo | kto | reward
    template: str
    conversational: bool  # a chat template (saved with the tokenizer) renders the prompt
    prompt_example: str  # the prompt of a placeholder record, as the model was trained on it
    response_prefix: str
    eos_token: str
    pad_token: str
    data_files: list[str]
    hyperparameters: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)


_METHOD_TEXT = {
    "full": "all weights of the base model were finetuned",
    "lora": "LoRA adapters were trained on a frozen base model; load them on top of the base",
    "qlora": "LoRA adapters were trained on a 4-bit (nf4, double-quantized) base model; load them on top of the base",
    "merged": "the trained LoRA adapter is merged into the base weights; load this folder as a plain model",
}


_OBJECTIVE_TEXT = {
    "sft": "supervised finetuning on the assistant replies",
    "dpo": "direct preference optimisation (DPO) on chosen/rejected reply pairs",
    "orpo": "odds-ratio preference optimisation (ORPO) on chosen/rejected reply pairs, without a reference model",
    "kto": "Kahneman-Tversky optimisation (KTO) on replies labelled desirable or not",
    "reward": "a reward model: the score head rates a prompt and reply, trained to rank chosen above rejected",
}


def render_card(facts: CardFacts) -> str:
    library = "peft" if facts.method in ("lora", "qlora") else "transformers"
    tags = ["factory", "trl", facts.objective, facts.method]
    front = [
        "---",
        f"base_model: {json.dumps(facts.base_model)}",
        f"library_name: {library}",
        f"pipeline_tag: {'text-classification' if facts.objective == 'reward' else 'text-generation'}",
        "tags:",
        *[f"- {tag}" for tag in tags],
        "---",
    ]
    rows = "\n".join(f"| {key} | {json.dumps(value, ensure_ascii=False)} |"
                     for key, value in sorted(facts.hyperparameters.items()))
    metric_rows = "\n".join(f"| {key} | {value} |" for key, value in sorted(facts.metrics.items())
                            if isinstance(value, (int, float, str)))
    moved = facts.metrics.get("objective_metrics") or {}
    moved_rows = "\n".join(f"| {key} | {v['first']:.4g} (step {v['first_step']}) | {v['last']:.4g} (step {v['last_step']}) |"
                            for key, v in moved.items())
    prefix = json.dumps(facts.response_prefix, ensure_ascii=False)
    if facts.conversational:
        format_text = (f"Chat format `{facts.template}`, saved as the tokenizer's chat template: render conversations "
                       "with `tokenizer.apply_chat_template(messages, add_generation_prompt=True)`. A one-question "
                       "prompt looks like this:")
        reply_text = "The reply follows the prompt"
    else:
        format_text = ("Template `" + facts.template + "`. Serve the model with exactly this prompt (no input shown; "
                       "records with an input use the template's input variant):")
        reply_text = f"The response follows the prompt (training prefixed it with {prefix})"
    if facts.objective == "reward":
        ending = (f" and ends with `{facts.eos_token}`; the model reads prompt and reply and outputs one score (its "
                  f"logit), higher for better replies. Padding uses the separate token `{facts.pad_token}`.")
    else:
        ending = (f" and ends with `{facts.eos_token}`, which the model learned to emit; stop generation on it. "
                  f"Padding uses the separate token `{facts.pad_token}`. Only reply tokens contributed to the loss "
                  "unless `train_on_inputs` is true below.")
    body = f"""
# {facts.base_model} finetuned by factory ({facts.objective})

Objective: **{facts.objective}**: {_OBJECTIVE_TEXT[facts.objective]}, with TRL.
Method: **{facts.method}**: {_METHOD_TEXT[facts.method]}.
Trained by the factory `peft` trainer on {", ".join(f"`{f}`" for f in facts.data_files) or "the run's dataset"}.

## Prompt format

{format_text}

```text
{facts.prompt_example}
```

{reply_text}{ending}

## Training settings

| setting | value |
| --- | --- |
{rows}

## Results

| metric | value |
| --- | --- |
{metric_rows}

How the objective's metrics moved during training:

| metric | first | last |
| --- | --- | --- |
{moved_rows}
"""
    return "\n".join(front) + "\n" + body


def write_card(folder: Path, facts: CardFacts) -> Path:
    path = folder / "README.md"
    path.write_text(render_card(facts), encoding="utf-8")
    return path
