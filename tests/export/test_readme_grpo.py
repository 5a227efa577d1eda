"""The README's GRPO example, run as written on this export's file (a README promise is a test).

``hf_kit.run_readme_example`` swaps in a tiny stand-in model and ``use_cpu=True``, nothing else.
"""

from __future__ import annotations

from pathlib import Path

import hf_kit
import pytest
from agent_zoo import Zoo


# TRL 1.16 still uses names transformers 5 renamed (gradient_checkpointing, ...): their warnings.
@pytest.mark.filterwarnings("ignore:.*is deprecated and will be removed in v6:FutureWarning")
def test_the_readme_grpo_example_trains_on_the_exported_file(
    zoo: Zoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zoo.grpo(tmp_path / "grpo.parquet")
    namespace = hf_kit.run_readme_example(
        hf_kit.readme_example("grpo-example"),
        configs=("GRPOConfig",),
        workdir=tmp_path,
        monkeypatch=monkeypatch,
    )

    trainer = namespace["trainer"]
    assert trainer.state.global_step > 0  # type: ignore[attr-defined]
    assert len(trainer.train_dataset) == 11  # type: ignore[attr-defined]
    logged = [
        entry for entry in trainer.state.log_history if "rewards/tool_call_reward/mean" in entry
    ]  # type: ignore[attr-defined]
    assert logged  # the reward scored every step's completions
