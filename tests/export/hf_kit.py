"""Hugging Face's own loading and rendering, offline: ``datasets`` readers, and tokenizers that carry
real chat templates (Qwen2.5, Llama 3.1, Mistral Nemo) over a small byte-level BPE vocabulary.

No weights and no hub: a template is Jinja text (``chat_templates/``), and the tokenizer is a
byte-level BPE trained here on the templates' own text. Byte-level means lossless,
``decode(encode(text)) == text``, so what TRL tokenizes can be read back and compared with what
the template renders; the merges keep sequences about as short as a real tokenizer's, so a
trainer's default ``max_length`` treats them as it would real ones.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Final

import datasets
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

# The models here are tiny: one thread does their arithmetic faster than threads contending for the
# machine's two cores with the rest of the suite.
torch.set_num_threads(1)

TEMPLATES: Final = Path(__file__).parent / "chat_templates"
FAMILIES: Final = ("qwen2_5", "llama3_1", "mistral_nemo")


@cache
def chat_template(family: str) -> str:
    return (TEMPLATES / f"{family}.jinja").read_text()


def tokenizer(family: str) -> PreTrainedTokenizerFast:
    """A tokenizer whose ``apply_chat_template`` renders with ``family``'s template."""
    made = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_trained_backend()),
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
    )
    made.chat_template = chat_template(family)
    return made


@cache
def _trained_backend() -> str:
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(
        [chat_template(name) for name in FAMILIES] * 4,
        trainers.BpeTrainer(
            vocab_size=1024,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=["<s>", "</s>", "<pad>"],  # ids 0, 1, 2, as tiny_model's config says
            show_progress=False,
        ),
    )
    return backend.to_str()


def tiny_model(vocab_size: int) -> LlamaForCausalLM:
    """A randomly initialised one-layer model: enough for a trainer to be built and to step."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=8192,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=2,
    )
    return LlamaForCausalLM(config)


def load(path: Path, cache_dir: Path) -> datasets.Dataset:
    """``path`` through ``datasets.load_dataset``, as a user loads an export."""
    builder = "parquet" if path.suffix == ".parquet" else "json"
    return datasets.load_dataset(
        builder, data_files=str(path), split="train", cache_dir=str(cache_dir)
    )


def render(family: str, messages: list[dict[str, Any]], tools: Any, **options: Any) -> str:
    return tokenizer_for(family).apply_chat_template(
        messages, tools=tools, tokenize=False, **options
    )


@cache
def tokenizer_for(family: str) -> PreTrainedTokenizerFast:
    return tokenizer(family)


def emitted_call(family: str, call: dict[str, Any]) -> str:
    """A tool call as a ``family`` model writes it: the text training must teach it to produce."""
    function = call["function"]
    arguments = json.dumps(function["arguments"], ensure_ascii=False)
    if family == "qwen2_5":
        return (
            f'<tool_call>\n{{"name": "{function["name"]}", "arguments": {arguments}}}\n</tool_call>'
        )
    if family == "llama3_1":
        return f'{{"name": "{function["name"]}", "parameters": {arguments}}}'
    if family == "mistral_nemo":
        return f'{{"name": "{function["name"]}", "arguments": {arguments}, "id": "{call["id"]}"}}'
    raise ValueError(family)


def rendered_result(family: str, message: dict[str, Any]) -> str:
    """A tool result as ``family``'s template writes it back to the model."""
    content = message["content"]
    if family == "qwen2_5":
        return f"<tool_response>\n{content}\n</tool_response>"
    if family == "llama3_1":  # the template JSON-quotes a string result
        return f"<|start_header_id|>ipython<|end_header_id|>\n\n{json.dumps(content, ensure_ascii=False)}<|eot_id|>"
    if family == "mistral_nemo":
        return f'[TOOL_RESULTS]{{"content": {content}, "call_id": "{message["tool_call_id"]}"}}[/TOOL_RESULTS]'
    raise ValueError(family)


def calls_in(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [call for m in messages for call in m.get("tool_calls") or ()]


README: Final = Path(__file__).parents[2] / "README.md"
README_MODEL_ID: Final = "Qwen/Qwen2.5-0.5B-Instruct"


def readme_example(marker: str) -> str:
    """The Python block after ``<!-- {marker} -->`` in README.md, as printed."""
    match = re.search(rf"<!-- {marker} -->\n```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert match, f"README.md lost its {marker}"
    return match.group(1)


def run_readme_example(
    code: str, *, configs: tuple[str, ...], workdir: Path, monkeypatch: Any
) -> dict[str, object]:
    """Run a README training example as written, in ``workdir`` (where the exports are).

    The model is a tiny randomly initialised one saved with Qwen2.5's chat template, standing in
    for ``README_MODEL_ID`` (no weights can be downloaded here); this machine has no GPU, so each
    of ``configs`` gets ``use_cpu=True`` as the example's comments say. Everything else runs as
    printed. Returns the example's namespace."""
    assert README_MODEL_ID in code
    assert code.count("# on a CPU: use_cpu=True") == len(configs)
    qwen = tokenizer("qwen2_5")
    stand_in = workdir / "tiny-qwen"
    tiny_model(len(qwen)).save_pretrained(stand_in)
    qwen.save_pretrained(stand_in)
    monkeypatch.chdir(workdir)
    # load_dataset as written caches under ~/.cache/huggingface: keep this run's cache here.
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(workdir / "hf-cache"))
    runnable = code.replace(README_MODEL_ID, str(stand_in))
    for config in configs:
        runnable = runnable.replace(f"{config}(", f"{config}(use_cpu=True, ")
    namespace: dict[str, object] = {}
    exec(compile(runnable, str(README), "exec"), namespace)
    return namespace
