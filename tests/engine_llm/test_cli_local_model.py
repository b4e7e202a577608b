"""``findings run boundless`` on a local Hugging Face directory (tiny random Llama + a word-level tokenizer).

The directory is built here from configs (nothing downloaded); the command loads it exactly as it would a
local Llama-7B, with the Alpaca prompt and left padding, and records its findings in the test database.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from engine.pricetag import PriceTag, alpaca_prompt

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory) -> Path:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    pre = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True)])
    words = {w for w, _ in pre.pre_tokenize_str(alpaca_prompt(PriceTag(150, 600, 307)))}
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "Yes", "No", *[str(d) for d in range(10)],
                                         *sorted(words - {str(d) for d in range(10)})])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]")
    path = tmp_path_factory.mktemp("llama-local")
    hf_tok.save_pretrained(path)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                                         max_position_embeddings=128, bos_token_id=0, eos_token_id=0,
                                         pad_token_id=0))
    model.save_pretrained(path)
    assert (path / "model.safetensors").exists()
    return path


def _cli() -> typer.Typer:
    from app.commands.boundless import register

    root = typer.Typer()
    run_app = typer.Typer()

    @root.callback()
    def _main(ctx: typer.Context) -> None:
        ctx.obj = {"db": None}

    root.add_typer(run_app, name="run")
    register(run_app)
    register(run_app)  # idempotent
    return root


def test_boundless_on_a_local_llama_directory_records_findings(llama_dir):
    args = ["run", "boundless", "--model", str(llama_dir), "--layer", "0", "--position", "-2", "--epsilon", "0,2",
            "--seeds", "1", "--steps", "2", "--batch-size", "8", "--train-pairs", "16", "--test-pairs", "16",
            "--quiet", "--json"]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["site"] == "llama.layers.0.out@pos-2" and data["prompt"] == "alpaca"
    assert [s["epsilon"] for s in data["summaries"]] == [0.0, 2.0]
    assert data["recorded"]["run_id"].startswith("run:") and len(data["recorded"]["findings"]) == 8

    from graph.api import Graph

    g = Graph(None)
    titles = sorted(n.title for n in g.nodes(kind="finding"))
    assert any(t.startswith("Boundless DAS with CL loss (ε=2)") for t in titles)
    assert any(t.startswith("Boundless DAS (ε=0, no CL loss) reaches test IIA") for t in titles)
    (run,) = g.nodes(kind="run")
    assert run.id == data["recorded"]["run_id"]
    assert sorted(n.id for n in g.nodes(kind="finding")) == sorted(data["recorded"]["findings"])
    assert run.attrs["site"] == "llama.layers.0.out@pos-2" and run.attrs["status"] == "finished"
    again = CliRunner().invoke(_cli(), args)
    assert again.exit_code == 0 and json.loads(again.stdout)["recorded"]["run_id"] is None


def test_bad_options_are_one_line_errors(llama_dir):
    res = CliRunner().invoke(_cli(), ["run", "boundless", "--model", str(llama_dir), "--epsilon", "x", "--no-record"])
    assert res.exit_code == 1 and "not a number" in res.output
    res = CliRunner().invoke(_cli(), ["run", "boundless", "--model", str(llama_dir), "--no-record", "--quiet"])
    assert res.exit_code == 1 and "--layer is required" in res.output


def test_cli_module_does_not_import_torch():
    code = "import sys, app.commands.boundless; sys.exit('torch' in sys.modules or 'transformers' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
