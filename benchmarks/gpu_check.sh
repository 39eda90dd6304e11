#!/usr/bin/env bash
# GPU check of the peft trainer: multi-turn QLoRA SFT, then DPO QLoRA, on a randomly initialised
# ~1.1B LLaMA config (TinyLlama-1.1B's shape: hidden 2048, 22 layers, 32 heads, 4 KV heads,
# vocab 32000) in bf16, through `factory train` as a user runs it. Prints tokens/s and peak GPU
# memory of each step from RUN/train_metrics.json. Nothing is downloaded; the weights are random,
# so the losses mean nothing, only speed and memory do. Meant to finish in under 5 minutes on any
# CUDA GPU with bf16 (about a minute to build and save the random weights, then two short runs).
# Not yet run on a GPU by its author (the task that wrote it had none): docs/performance.md says so.
#
#   bash benchmarks/gpu_check.sh                 # on a CUDA machine, after bash .ci/setup (a CUDA torch)
#   GPU_CHECK_TINY=1 bash benchmarks/gpu_check.sh  # a CPU smoke run of the same script (tiny model, fp32, LoRA)
#
# Settings: SFT_STEPS, DPO_STEPS, MICRO (micro batch), MAX_LENGTH, WORK (output folder).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
WORK=${WORK:-$(mktemp -d -t factory-gpu-check-XXXX)}
SFT_STEPS=${SFT_STEPS:-20}
DPO_STEPS=${DPO_STEPS:-15}
LOG_STEPS=5
MICRO=${MICRO:-4}
MAX_LENGTH=${MAX_LENGTH:-1024}
TINY=${GPU_CHECK_TINY:-0}
mkdir -p "$WORK"
started=$(date +%s)

if [ "$TINY" = 1 ]; then
  METHOD=lora; BF16=false; SFT_STEPS=3; DPO_STEPS=3; LOG_STEPS=1; MAX_LENGTH=256
else
  METHOD=qlora; BF16=true
  export CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0}  # one process, one GPU
  "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" || {
    echo "gpu_check: no CUDA device visible to torch (install a CUDA build of torch, or GPU_CHECK_TINY=1 for a CPU smoke run)" >&2
    exit 2
  }
  "$PY" -c "import torch; print('gpu:', torch.cuda.get_device_name(0), '| torch', torch.__version__)"
fi

echo "[1/3] random LLaMA and data in $WORK"
TINY=$TINY MAX_LENGTH=$MAX_LENGTH WORK=$WORK "$PY" - <<'EOF'
import json, os, random
from pathlib import Path

import torch

from factory_peft.tiny import CORPUS, save_llama

work, tiny = Path(os.environ["WORK"]), os.environ["TINY"] == "1"
if tiny:
    save_llama(work / "model", hidden=64, layers=2, intermediate=128, heads=4, kv_heads=2)
else:  # TinyLlama-1.1B's shape
    save_llama(work / "model", hidden=2048, layers=22, intermediate=5632, heads=32, kv_heads=4, vocab_size=32000,
               max_positions=2048, dtype=torch.bfloat16)
rng = random.Random(0)
sentences = [s for s in CORPUS if "###" not in s and "<|" not in s]

def reply(n):
    return " ".join(rng.choice(sentences) for _ in range(n))

target = int(os.environ["MAX_LENGTH"])
with (work / "conversations.jsonl").open("w", encoding="utf-8") as out:
    for _ in range(256):  # 2-5 turns, long enough to fill most of max_length
        messages = []
        for _ in range(rng.randint(2, 5)):
            messages += [{"role": "user", "content": reply(2)},
                         {"role": "assistant", "content": reply(max(1, target // 60))}]
        out.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
with (work / "pairs.jsonl").open("w", encoding="utf-8") as out:
    for _ in range(256):
        out.write(json.dumps({"prompt": reply(3), "chosen": reply(max(1, target // 80)),
                              "rejected": reply(max(1, target // 120))}, ensure_ascii=False) + "\n")
EOF

write_recipe() {  # $1 file, $2 objective, $3 template, $4 steps
  cat > "$1" <<EOF
name: gpu-check-$2
language: en
train:
  plugin: peft
  objective: $2
  base_model: $WORK/model
  method: $METHOD
  template: $3
  lora_r: 16
  lora_alpha: 32
  target_modules: all-linear
  learning_rate: 1.0e-4
  max_steps: $4
  batch_size: $((MICRO * 4))
  micro_batch_size: $MICRO
  max_length: $MAX_LENGTH
  bf16: $BF16
  gradient_checkpointing: true
  logging_steps: $LOG_STEPS
  save_steps: 100000
  eval_size: 0
EOF
}

report() {  # $1 label, $2 run folder
  "$PY" - "$1" "$2/train_metrics.json" <<'EOF'
import json, sys
label, path = sys.argv[1], sys.argv[2]
m = json.load(open(path))
moved = m.get("objective_metrics", {}).get("loss", {})
print(f"{label}: {m['global_step']} steps, {m.get('tokens_per_s', 0):,.0f} tokens/s (real tokens), "
      f"peak GPU memory {m.get('peak_memory_gib', 'n/a')} GiB, padding {100 * m['padding_fraction']:.1f}%, "
      f"loss {moved.get('first', float('nan')):.3f} -> {moved.get('last', float('nan')):.3f}, {m['elapsed_s']} s")
EOF
}

echo "[2/3] multi-turn SFT ($METHOD, vicuna-v1.1, every assistant turn learned), $SFT_STEPS steps"
write_recipe "$WORK/sft.yaml" sft vicuna-v1.1 "$SFT_STEPS"
"$PY" -m factory train "$WORK/sft.yaml" --data "$WORK/conversations.jsonl" --out "$WORK/sft" --quiet > "$WORK/sft.log"
report "multi-turn SFT $METHOD" "$WORK/sft"

echo "[3/3] DPO ($METHOD, reference = the adapter-disabled base), $DPO_STEPS steps"
write_recipe "$WORK/dpo.yaml" dpo alpaca "$DPO_STEPS"
"$PY" -m factory train "$WORK/dpo.yaml" --data "$WORK/pairs.jsonl" --out "$WORK/dpo" --quiet > "$WORK/dpo.log"
report "DPO $METHOD" "$WORK/dpo"

echo "gpu_check: done in $(( $(date +%s) - started )) s (target < 300 s); folders in $WORK"
