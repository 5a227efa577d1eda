"""The README's TRL example, run as written on this export's files (a README promise is a test).

The model is a tiny randomly initialised one saved with Qwen2.5's chat template, standing in for
``Qwen/Qwen2.5-0.5B-Instruct`` (no weights can be downloaded here); this machine has no GPU, so the
configs get ``use_cpu=True`` as the example's comments say. Everything else runs as printed.
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
    match = re.search(r"<!-- trl-example -->\n```python\n(.*?)```", text, re.DOTALL)
    assert match, "README.md lost its TRL example"
    return match.group(1)


# TRL 1.16 still uses names transformers 5 renamed (gradient_checkpointing, ...): their warnings.
@pytest.mark.filterwarnings("ignore:.*is deprecated and will be removed in v6:FutureWarning")
def test_the_readme_trl_example_trains_on_the_exported_files(
    zoo: Zoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = readme_example()
    assert MODEL_ID in code
    assert code.count("# on a CPU: use_cpu=True") == 2
    zoo.sft(tmp_path / "sft.parquet")
    zoo.dpo(tmp_path / "dpo.parquet")
    tokenizer = hf_kit.tokenizer("qwen2_5")
    stand_in = tmp_path / "tiny-qwen"
    hf_kit.tiny_model(len(tokenizer)).save_pretrained(stand_in)
    tokenizer.save_pretrained(stand_in)
    monkeypatch.chdir(tmp_path)
    # load_dataset as written caches under ~/.cache/huggingface: keep this run's cache here.
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))

    runnable = (
        code.replace(MODEL_ID, str(stand_in))
        .replace("SFTConfig(", "SFTConfig(use_cpu=True, ")
        .replace("DPOConfig(", "DPOConfig(use_cpu=True, ")
    )
    namespace: dict[str, object] = {}
    exec(compile(runnable, str(README), "exec"), namespace)

    sft, dpo = namespace["sft"], namespace["dpo"]
    assert sft.state.global_step > 0  # type: ignore[attr-defined]
    assert dpo.state.global_step > 0  # type: ignore[attr-defined]
    assert len(sft.train_dataset) == len(dpo.train_dataset) == len(zoo.traces)  # type: ignore[attr-defined]
    for saved in ("sft-model", "dpo-model"):
        assert (tmp_path / saved / "model.safetensors").is_file()
        assert (tmp_path / saved / "chat_template.jinja").read_text() == hf_kit.chat_template(
            "qwen2_5"
        )
