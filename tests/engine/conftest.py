"""Small fixtures for the synthetic engine: a tiny data draw and a quickly trained probed MLP."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_data():
    from engine.synthetic import make_data

    return make_data(seed=0, samples_per_class=30)


@pytest.fixture(scope="session")
def tiny_classifier(tiny_data):
    import torch

    from engine.synthetic import train_classifier

    torch.set_num_threads(1)
    model, info = train_classifier(tiny_data, seed=0, max_epochs=60, patience=30)
    return model
