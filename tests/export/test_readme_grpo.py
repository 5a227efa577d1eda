"""The README's GRPO example, run as written on this export's file (a README promise is a test).

The model is a tiny randomly initialised one saved with Qwen2.5's chat template, standing in for
``Qwen/Qwen2.5-0.5B-Instruct`` (no weights can be downloaded here); this machine has no GPU, so the
config gets ``use_cpu=True`` as the example's comment says. Everything else runs as printed.
"""

from __future__ import annotations

import re
from pathlib import Path

import datasets
import hf_kit
import pytest
from agent_zoo import Zoo

README = Path(__file__).parents[2] / "README.md"
MODEL_ID = "Qwen/Qwen2.5-0.5B-Instruct"


def readme_example() -> str:
    text = README.read_text()
    match = re.search(r"<!-- grpo-example -->\n```python\n(.*?)```", text, re.DOTALL)
    assert match, "README.md lost its GRPO example"
    return match.group(1)


# TRL 1.16 still uses names transformers 5 renamed (gradient_checkpointing, ...): their warnings.
@pytest.mark.filterwarnings("ignore:.*is deprecated and will be removed in v6:FutureWarning")
def test_the_readme_grpo_example_trains_on_the_exported_file(
    zoo: Zoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = readme_example()
    assert MODEL_ID in code
    assert code.count("# on a CPU: use_cpu=True") == 1
    zoo.grpo(tmp_path / "grpo.parquet")
    tokenizer = hf_kit.tokenizer("qwen2_5")
    stand_in = tmp_path / "tiny-qwen"
    hf_kit.tiny_model(len(tokenizer)).save_pretrained(stand_in)
    tokenizer.save_pretrained(stand_in)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))

    runnable = code.replace(MODEL_ID, str(stand_in)).replace(
        "GRPOConfig(", "GRPOConfig(use_cpu=True, "
    )
    namespace: dict[str, object] = {}
    exec(compile(runnable, str(README), "exec"), namespace)

    trainer = namespace["trainer"]
    assert trainer.state.global_step > 0  # type: ignore[attr-defined]
    assert len(trainer.train_dataset) == 11  # type: ignore[attr-defined]
    logged = [
        entry for entry in trainer.state.log_history if "rewards/tool_call_reward/mean" in entry
    ]  # type: ignore[attr-defined]
    assert logged  # the reward scored every step's completions
