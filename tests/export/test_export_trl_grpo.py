"""TRL's GRPOTrainer takes ``export grpo``'s file and ``tool_call_reward`` as they are.

A tiny randomly initialised model (a config, no weights) with Qwen2.5's chat template generates
completions for the exported prompts in one training step; the trainer hands the reward each
row's ``expected_tool_calls`` and ``tools`` columns, and the reward answers one value per
completion. The model's output is noise, so the rewards are zeros; what is checked is that the
data goes through, and that the prompts the model saw are the rows' conversations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hf_kit
import pytest
from agent_zoo import Zoo
from trl import GRPOConfig, GRPOTrainer

from otel_flywheel.rewards import tool_call_reward

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*is deprecated and will be removed in v6:FutureWarning"
)


class Recorder:
    """The reward as TRL calls it, with what it was given."""

    __name__ = "tool_call_reward"

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, prompts: Any, completions: Any, **kwargs: Any) -> list[float | None]:
        rewards = tool_call_reward(prompts=prompts, completions=completions, **kwargs)
        self.calls.append(
            {"prompts": prompts, "completions": completions, **kwargs, "rewards": rewards}
        )
        return rewards


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_grpo_trainer_scores_generations_of_the_exported_prompts(
    zoo: Zoo, tmp_path: Path, suffix: str
) -> None:
    export = zoo.grpo(tmp_path / f"grpo{suffix}")
    dataset = hf_kit.load(export.path, tmp_path / "cache")
    tokenizer = hf_kit.tokenizer("qwen2_5")
    recorder = Recorder()
    trainer = GRPOTrainer(
        model=hf_kit.tiny_model(len(tokenizer)),
        reward_funcs=recorder,
        args=GRPOConfig(
            output_dir=str(tmp_path / "out"),
            max_steps=1,
            per_device_train_batch_size=4,
            num_generations=2,
            max_completion_length=8,
            report_to=[],
            use_cpu=True,
            bf16=False,
            dataloader_pin_memory=False,
            shuffle_dataset=False,
        ),
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.train()

    assert trainer.state.global_step == 1
    (call,) = recorder.calls
    assert len(call["completions"]) == 4
    rows = list(dataset)
    for prompt, completion, expected, tools, reward in zip(
        call["prompts"],
        call["completions"],
        call["expected_tool_calls"],
        call["tools"],
        call["rewards"],
        strict=True,
    ):
        row = next(r for r in rows if r["prompt"] == prompt)
        assert expected == row["expected_tool_calls"]
        assert tools == row["tools"]
        assert isinstance(expected, dict)
        # A random model makes no right call: rows that expect calls get 0; rows whose decision
        # is the answer (no call) get 1 for its call-free noise.
        assert reward == (0.0 if expected["expected_tool_calls"] else 1.0), completion
    assert set(call["rewards"]) == {0.0, 1.0}
