"""The training objectives, each one TRL trainer: what it reads, how it is configured, what it reports.

| objective | TRL trainer | rows | model |
| --- | --- | --- | --- |
| sft | ``SFTTrainer`` | ``messages`` or ``prompt``/``completion`` | causal LM |
| dpo | ``DPOTrainer`` | ``prompt``/``chosen``/``rejected`` | causal LM, reference = the adapter-disabled base (LoRA) |
| orpo | ``trl.experimental.orpo.ORPOTrainer`` | ``prompt``/``chosen``/``rejected`` | causal LM, no reference |
| kto | ``KTOTrainer`` | ``prompt``/``completion``/``label`` | causal LM, reference as for dpo |
| reward | ``RewardTrainer`` | ``prompt``/``chosen``/``rejected`` | sequence classifier with one output |

TRL owns tokenization, masks, packing, collation, losses and metrics. The
thin subclasses below change two things: TRL tokenizes without a length limit
and :class:`~factory_peft.lengths.LengthPolicy` applies ``max_length``, so
every truncated or dropped example is counted (TRL cuts silently); and packed
SFT rows are collated as rows unless the attention kernel is variable-length
(:mod:`factory_peft.packed_rows`, measured 1.6-2.9x faster with sdpa). With LoRA
and no ``ref_model``, DPO and KTO compute the reference log-probabilities
with the adapter disabled, so no second copy of the model is loaded.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

from factory.records import Record

from factory_peft import lengths, rows
from factory_peft.lengths import Layout, LengthPolicy
from factory_peft.options import PeftOptions
from factory_peft.packed_rows import PackedRowsCollator, uses_varlen_attention
from factory_peft.training_format import TrainingFormat, adds_bos


def _unlimited(args: Any) -> Any:
    """A copy of the TRL config with no length limit (the policy applies it afterwards)."""
    copied = copy.copy(args)
    copied.max_length = None
    return copied


def _sft_trainer() -> type:
    from trl import SFTTrainer

    class FactorySFTTrainer(SFTTrainer):
        def __init__(self, *args: Any, length_policy: LengthPolicy, skipped: dict[str, int], **kwargs: Any) -> None:
            self.length_policy, self.skipped = length_policy, skipped
            super().__init__(*args, **kwargs)
            if self.args.packing and not uses_varlen_attention(self.model):
                # flat padding-free rows cost sdpa/eager attention micro_batch_size times over (packed_rows.py)
                self.data_collator = PackedRowsCollator(self._tokenizer.pad_token_id)

        def _prepare_dataset(self, dataset, processing_class, args, packing, formatting_func, dataset_name):
            tokenized = super()._prepare_dataset(dataset, processing_class, _unlimited(args), False, formatting_func,
                                                 dataset_name)
            fitted = self.length_policy.apply(tokenized, lengths.SFT, dataset_name, self.skipped.get(dataset_name, 0))
            # already tokenized: TRL keeps the labels and only packs (when asked)
            return super()._prepare_dataset(fitted, processing_class, args, packing, None, dataset_name)

    return FactorySFTTrainer


def _limited(trainer_cls: type, layout: Layout) -> type:
    """A TRL preference trainer whose ``_prepare_dataset`` tokenizes unlimited, then applies the length policy."""

    class Limited(trainer_cls):
        def __init__(self, *args: Any, length_policy: LengthPolicy, **kwargs: Any) -> None:
            self.length_policy = length_policy
            super().__init__(*args, **kwargs)

        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            tokenized = super()._prepare_dataset(dataset, processing_class, _unlimited(args), dataset_name)
            return self.length_policy.apply(tokenized, layout, dataset_name)

    Limited.__name__ = Limited.__qualname__ = f"Factory{trainer_cls.__name__}"
    return Limited


def _orpo_trainer() -> type:
    from trl.experimental.orpo import ORPOTrainer

    class FactoryORPOTrainer(ORPOTrainer):
        """ORPO tokenizes in ``tokenize_row`` (and truncates there); the policy runs on its output instead.

        It also prepends BOS to every prompt, even for tokenizers that never add one (GPT-NeoX and
        Polyglot, whose BOS is their EOS): for those it is removed again, so ORPO trains the same
        tokens as SFT, DPO and serving.
        """

        def __init__(self, *args: Any, length_policy: LengthPolicy, **kwargs: Any) -> None:
            self.length_policy = length_policy
            tokenizer = kwargs["processing_class"]
            self._unwanted_bos = None if adds_bos(tokenizer) else tokenizer.bos_token_id
            super().__init__(*args, **kwargs)
            self.train_dataset = length_policy.apply(self.train_dataset, lengths.ORPO, "train")
            if self.eval_dataset is not None:
                self.eval_dataset = length_policy.apply(self.eval_dataset, lengths.ORPO, "eval")

        def tokenize_row(self, feature, model=None):
            limit, self.max_length = self.max_length, 2**62
            try:
                row = super().tokenize_row(feature, model)
            finally:
                self.max_length = limit
            if self._unwanted_bos is not None:
                for group in ("chosen_", "rejected_", "prompt_"):
                    if row[f"{group}input_ids"][:1] == [self._unwanted_bos]:
                        for key in [k for k in row if k.startswith(group)]:
                            row[key] = row[key][1:]
            return row

        def _track_num_input_tokens(self, inputs):
            # ORPO's batches hold chosen_/rejected_input_ids, not input_ids: count their real tokens
            import torch

            pad = self.processing_class.pad_token_id
            count = sum(int((inputs[key] != pad).sum()) for key in ("chosen_input_ids", "rejected_input_ids")
                        if key in inputs)
            total = self.accelerator.gather(torch.tensor(count, device=self.args.device)).sum().item()
            self.state.num_input_tokens_seen += total

    return FactoryORPOTrainer


@dataclass(frozen=True)
class Objective:
    name: str
    model_kind: str  # "causal" or "reward"
    #: the metrics that show the objective working: reported on each log and summarised first -> last
    key_metrics: tuple[str, ...]
    rows: Callable[[list[Record], TrainingFormat], tuple[list[dict[str, Any]], int]]
    config: Callable[[dict[str, Any], PeftOptions, TrainingFormat], Any]
    trainer: Callable[[], type]

    uses_reference: bool = False  # log-probabilities under a frozen reference policy (dpo, kto)

    def build(self, *, model: Any, args: Any, train_rows: list[dict[str, Any]], eval_rows: list[dict[str, Any]],
              tokenizer: Any, peft_config: Any, length_policy: LengthPolicy, skipped: dict[str, int],
              callbacks: list[Any], ref_model: Any = None) -> Any:
        """The TRL trainer, its datasets prepared (tokenized, masked, limited; packed for sft)."""
        from datasets import Dataset

        kwargs: dict[str, Any] = dict(model=model, args=args, train_dataset=Dataset.from_list(train_rows),
                                      eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
                                      processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks,
                                      length_policy=length_policy)
        if self.name == "sft":
            kwargs["skipped"] = skipped
        if ref_model is not None:
            kwargs["ref_model"] = ref_model
        return self.trainer()(**kwargs)


def _sft_config(common: dict[str, Any], options: PeftOptions, fmt: TrainingFormat) -> Any:
    from trl import SFTConfig

    learned_only = not options.train_on_inputs
    return SFTConfig(**common, max_length=options.max_length, packing=options.packing, packing_strategy="bfd",
                     assistant_only_loss=learned_only and fmt.conversational and fmt.assistant_masks,
                     completion_only_loss=learned_only)


def _dpo_config(common: dict[str, Any], options: PeftOptions, fmt: TrainingFormat) -> Any:
    from trl import DPOConfig

    extra = {"beta": options.beta} if options.beta is not None else {}
    return DPOConfig(**common, max_length=options.max_length, loss_type=[options.dpo_loss],
                     precompute_ref_log_probs=options.precompute_reference, **extra)


def _orpo_config(common: dict[str, Any], options: PeftOptions, fmt: TrainingFormat) -> Any:
    from trl.experimental.orpo import ORPOConfig

    extra = {"beta": options.beta} if options.beta is not None else {}
    return ORPOConfig(**common, max_length=options.max_length, **extra)


def _kto_config(common: dict[str, Any], options: PeftOptions, fmt: TrainingFormat) -> Any:
    from trl import KTOConfig

    extra = {"beta": options.beta} if options.beta is not None else {}
    return KTOConfig(**common, max_length=options.max_length, desirable_weight=options.desirable_weight,
                     undesirable_weight=options.undesirable_weight,
                     precompute_ref_log_probs=options.precompute_reference, **extra)


def _reward_config(common: dict[str, Any], options: PeftOptions, fmt: TrainingFormat) -> Any:
    from trl import RewardConfig

    return RewardConfig(**common, max_length=options.max_length, center_rewards_coefficient=options.center_rewards)


def _paired(records: list[Record], fmt: TrainingFormat) -> tuple[list[dict[str, Any]], int]:
    return rows.preference_rows(records, fmt), 0


def _unpaired(records: list[Record], fmt: TrainingFormat) -> tuple[list[dict[str, Any]], int]:
    return rows.unpaired_rows(records, fmt), 0


def _trl(name: str) -> Callable[[], type]:
    def load() -> type:
        import trl

        return getattr(trl, name)

    return load


_PAIR_METRICS = ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "logps/chosen",
                 "logps/rejected")

OBJECTIVES: dict[str, Objective] = {
    "sft": Objective("sft", "causal", ("loss", "mean_token_accuracy"), rows.sft_rows, _sft_config, _sft_trainer),
    "dpo": Objective("dpo", "causal", ("loss", *_PAIR_METRICS), _paired, _dpo_config,
                     lambda: _limited(_trl("DPOTrainer")(), lengths.DPO), uses_reference=True),
    "orpo": Objective("orpo", "causal", ("loss", "nll_loss", "log_odds_ratio", *_PAIR_METRICS), _paired,
                      _orpo_config, _orpo_trainer),
    "kto": Objective("kto", "causal", ("loss", "kl", "rewards/chosen", "rewards/rejected", "rewards/margins",
                                       "logps/chosen", "logps/rejected"), _unpaired, _kto_config,
                     lambda: _limited(_trl("KTOTrainer")(), lengths.KTO), uses_reference=True),
    "reward": Objective("reward", "reward", ("loss", "accuracy", "margin", "mean_reward"), _paired, _reward_config,
                        lambda: _limited(_trl("RewardTrainer")(), lengths.REWARD)),
}
