"""The tiny Price Tagging model: its training reports progress on stderr, and a JSON config is checked."""
from __future__ import annotations

import pytest

from engine.tiny_lm import TinyConfig, tiny_config_from_json, train


def test_training_progress_goes_to_stderr(capsys):
    model, acc, _ = train(TinyConfig(n_layer=1, n_embd=8, n_head=1, steps=250, batch_size=4, eval_size=50),
                          progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[-1].startswith("  step 250/250 loss ")
    assert 0.0 <= acc <= 1.0 and model.config.n_layer == 1


def test_a_json_config_changes_only_the_fields_it_names():
    cfg = tiny_config_from_json('{"steps": 250, "n_layer": 2, "min_accuracy": 0}')
    assert cfg == TinyConfig(steps=250, n_layer=2, min_accuracy=0.0)
    assert cfg.key() != TinyConfig().key()  # its own cache directory


@pytest.mark.parametrize("text, message", [
    ('{"stepz": 1}', "--tiny-config: stepz: Extra inputs are not permitted"),
    ('{"steps": "many"}', "--tiny-config: steps: Input should be a valid integer"),
    ("[1]", "--tiny-config: Input should be an object"),
    ("{", "--tiny-config: Invalid JSON"),
])
def test_a_bad_json_config_is_refused(text, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        tiny_config_from_json(text)
