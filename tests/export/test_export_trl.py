"""TRL's trainers prepare ``hf`` exports as they are: one data-preparation pass each, no training.

``SFTTrainer`` and ``DPOTrainer`` are built on a tiny randomly initialised model (a config, no
weights) and a tokenizer carrying a real chat template; building them tokenizes the dataset. What
they tokenized is decoded and compared with what the template renders, and the tool calls are
found in the text the model is trained to produce.
"""

from __future__ import annotations

from pathlib import Path

import hf_kit
import pytest
from agent_zoo import REJECTED, Zoo
from hf_kit import calls_in, emitted_call, load, render
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

# TRL 1.16 still uses names transformers 5 renamed (gradient_checkpointing, ...): their warnings.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*is deprecated and will be removed in v6:FutureWarning"
)

CPU = {"report_to": [], "use_cpu": True, "bf16": False, "dataloader_pin_memory": False}
# Llama 3.1's template renders one tool call per assistant turn: its export says so.
EXPORT_OPTIONS = {
    "qwen2_5": {},
    "mistral_nemo": {},
    "llama3_1": {"parallel_tool_calls": False},
}


@pytest.mark.parametrize("family", hf_kit.FAMILIES)
def test_sft_trainer_tokenizes_each_row_as_its_template_renders_it(
    family: str, zoo: Zoo, tmp_path: Path
) -> None:
    export = zoo.sft(tmp_path / "sft.parquet", **EXPORT_OPTIONS[family])
    dataset = load(export.path, tmp_path / "cache")
    tokenizer = hf_kit.tokenizer(family)

    trainer = SFTTrainer(
        model=hf_kit.tiny_model(len(tokenizer)),
        args=SFTConfig(output_dir=str(tmp_path / "out"), max_length=None, **CPU),
        train_dataset=dataset,
        processing_class=tokenizer,
    )

    prepared = trainer.train_dataset
    assert len(prepared) == len(dataset) == len(zoo.traces)
    for row, tokenized in zip(dataset, prepared, strict=True):
        text = tokenizer.decode(tokenized["input_ids"])
        assert text == render(family, row["messages"], row["tools"])
        for call in calls_in(row["messages"]):
            assert text.count(emitted_call(family, call)) == 1


def test_sft_assistant_only_loss_trains_on_the_tool_calls_and_not_the_results(
    zoo: Zoo, tmp_path: Path
) -> None:
    """With TRL's training variant of Qwen2.5's template, the loss covers what the assistant
    writes (its tool calls included) and nothing the tools returned."""
    dataset = load(zoo.sft(tmp_path / "sft.parquet").path, tmp_path / "cache")
    tokenizer = hf_kit.tokenizer("qwen2_5")

    trainer = SFTTrainer(
        model=hf_kit.tiny_model(len(tokenizer)),
        args=SFTConfig(
            output_dir=str(tmp_path / "out"), max_length=None, assistant_only_loss=True, **CPU
        ),
        train_dataset=dataset,
        processing_class=tokenizer,
    )

    for row, tokenized in zip(dataset, trainer.train_dataset, strict=True):
        trained = tokenizer.decode(
            [
                t
                for t, label in zip(tokenized["input_ids"], tokenized["labels"], strict=True)
                if label != -100
            ]
        )
        for call in calls_in(row["messages"]):
            assert emitted_call("qwen2_5", call) in trained
        for message in row["messages"]:
            if message["role"] == "tool":
                assert message["content"] not in trained
            if message["role"] == "assistant" and "tool_calls" not in message:
                assert message["content"] in trained


@pytest.mark.parametrize("family", ["qwen2_5", "llama3_1"])
def test_dpo_trainer_splits_each_pair_after_the_shared_prompt(
    family: str, zoo: Zoo, tmp_path: Path
) -> None:
    """Mistral Nemo's template moves the system prompt into the last user turn, so its prompt
    alone is no prefix of prompt + answer for a prompt that ends with the user (see
    test_export_hf); TRL then cuts at the common prefix and warns."""
    export = zoo.dpo(tmp_path / "dpo.parquet", **EXPORT_OPTIONS[family])
    dataset = load(export.path, tmp_path / "cache")
    tokenizer = hf_kit.tokenizer(family)

    trainer = DPOTrainer(
        model=hf_kit.tiny_model(len(tokenizer)),
        ref_model=hf_kit.tiny_model(len(tokenizer)),  # built from the config, as the policy is
        args=DPOConfig(output_dir=str(tmp_path / "out"), max_length=None, **CPU),
        train_dataset=dataset,
        processing_class=tokenizer,
    )

    prepared = trainer.train_dataset
    assert len(prepared) == len(dataset) == len(zoo.traces)
    for row, tokenized in zip(dataset, prepared, strict=True):
        prompt = tokenizer.decode(tokenized["prompt_ids"])
        chosen = tokenizer.decode(tokenized["prompt_ids"] + tokenized["chosen_ids"])
        rejected = tokenizer.decode(tokenized["prompt_ids"] + tokenized["rejected_ids"])
        assert chosen == render(family, row["prompt"] + row["chosen"], row["tools"])
        assert rejected == render(family, row["prompt"] + row["rejected"], row["tools"])
        assert REJECTED in tokenizer.decode(tokenized["rejected_ids"])
        assert row["chosen"][0]["content"] in tokenizer.decode(tokenized["chosen_ids"])
        for call in calls_in(row["prompt"]):
            assert prompt.count(emitted_call(family, call)) == 1
