"""The README's TRL example, run as written on this export's files (a README promise is a test).

``hf_kit.run_readme_example`` swaps in a tiny stand-in model and ``use_cpu=True``, nothing else.
"""

from __future__ import annotations

from pathlib import Path

import hf_kit
import pytest
from agent_zoo import Zoo


# TRL 1.16 still uses names transformers 5 renamed (gradient_checkpointing, ...): their warnings.
@pytest.mark.filterwarnings("ignore:.*is deprecated and will be removed in v6:FutureWarning")
def test_the_readme_trl_example_trains_on_the_exported_files(
    zoo: Zoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zoo.sft(tmp_path / "sft.parquet")
    zoo.dpo(tmp_path / "dpo.parquet")
    namespace = hf_kit.run_readme_example(
        hf_kit.readme_example("trl-example"),
        configs=("SFTConfig", "DPOConfig"),
        workdir=tmp_path,
        monkeypatch=monkeypatch,
    )

    sft, dpo = namespace["sft"], namespace["dpo"]
    assert sft.state.global_step > 0  # type: ignore[attr-defined]
    assert dpo.state.global_step > 0  # type: ignore[attr-defined]
    assert len(sft.train_dataset) == len(dpo.train_dataset) == len(zoo.traces)  # type: ignore[attr-defined]
    for saved in ("sft-model", "dpo-model"):
        assert (tmp_path / saved / "model.safetensors").is_file()
        assert (tmp_path / saved / "chat_template.jinja").read_text() == hf_kit.chat_template(
            "qwen2_5"
        )
