"""The model card (README.md) written next to the saved weights.

It records what a user needs to serve the model correctly: the exact prompt
format, the EOS and PAD tokens, the base model and method, the
hyperparameters and the final metrics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factory.records import Record


@dataclass
class CardFacts:
    base_model: str
    method: str  # full | lora | qlora | merged
    template: str
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


def placeholder_record() -> Record:
    return Record.from_alpaca("{instruction}", input="", output="")


def render_card(facts: CardFacts) -> str:
    library = "peft" if facts.method in ("lora", "qlora") else "transformers"
    tags = ["factory", "instruction-tuning", facts.method]
    front = [
        "---",
        f"base_model: {json.dumps(facts.base_model)}",
        f"library_name: {library}",
        "pipeline_tag: text-generation",
        "tags:",
        *[f"- {tag}" for tag in tags],
        "---",
    ]
    rows = "\n".join(f"| {key} | {json.dumps(value, ensure_ascii=False)} |"
                     for key, value in sorted(facts.hyperparameters.items()))
    metric_rows = "\n".join(f"| {key} | {value} |" for key, value in sorted(facts.metrics.items())
                            if isinstance(value, (int, float, str)))
    prefix = json.dumps(facts.response_prefix, ensure_ascii=False)
    body = f"""
# Instruction-tuned {facts.base_model}

Method: **{facts.method}**: {_METHOD_TEXT[facts.method]}.
Trained by the factory `peft` trainer on {", ".join(f"`{f}`" for f in facts.data_files) or "the run's dataset"}.

## Prompt format

Template `{facts.template}`. Serve the model with exactly this prompt (no input shown; records with an
input use the template's input variant):

```text
{facts.prompt_example}
```

The response follows the prompt (training prefixed it with {prefix}) and ends with the EOS token
`{facts.eos_token}`, which the model learned to emit; stop generation on it. Padding uses the separate token
`{facts.pad_token}`. Only response tokens contributed to the loss unless `train_on_inputs` is true below.

## Training settings

| setting | value |
| --- | --- |
{rows}

## Results

| metric | value |
| --- | --- |
{metric_rows}
"""
    return "\n".join(front) + "\n" + body


def write_card(folder: Path, facts: CardFacts) -> Path:
    path = folder / "README.md"
    path.write_text(render_card(facts), encoding="utf-8")
    return path
