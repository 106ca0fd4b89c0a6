"""Training settings from a user or a queued job's JSON: every number checked, in one line."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipe_engine.errors import InputError
from lipe_engine.training import config_from_preset
from lipe_engine.training.config import TrainingConfig

FLOATS = ("lr_unet", "lr_text", "prior_loss_weight", "weight_decay", "adam_eps", "max_grad_norm")
INTS = ("rank", "epochs", "max_steps", "batch_size", "resolution", "seed", "checkpoint_every", "keep_checkpoints",
        "sample_every", "sample_steps")


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(name=st.sampled_from(FLOATS), value=st.floats(allow_nan=True, allow_infinity=True))
def test_every_float_setting_is_checked(name, value):
    try:
        config_from_preset(None, **{name: value})
    except InputError as exc:
        assert len(str(exc).splitlines()) == 1
    else:
        assert math.isfinite(value)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(name=st.sampled_from(INTS), value=st.integers(min_value=-(2**70), max_value=2**70))
def test_every_integer_setting_is_checked_at_both_ends(name, value):
    try:
        config_from_preset(None, **{name: value})
    except InputError as exc:
        assert len(str(exc).splitlines()) == 1
    else:
        assert -1 < value < 2**32


@pytest.mark.parametrize(("name", "low", "high"), [
    ("rank", 1, 1024), ("max_steps", 1, 10_000_000), ("batch_size", 1, 256), ("seed", 0, 2**32 - 1),
    ("checkpoint_every", 1, 10_000_000), ("keep_checkpoints", 1, 1000), ("sample_steps", 1, 1000),
    ("sample_every", 0, 10_000_000), ("epochs", 1, 100_000),
])
def test_integer_settings_at_their_advertised_boundaries(name, low, high):
    TrainingConfig(**{name: low}).validate()
    TrainingConfig(**{name: high}).validate()
    for bad in (low - 1, high + 1):
        with pytest.raises(InputError):
            TrainingConfig(**{name: bad}).validate()


@pytest.mark.parametrize("overrides", [
    {"adam_betas": (0.9, float("nan"))}, {"adam_betas": (0.9, 1.0)}, {"adam_betas": (0.9,)},
    {"sample_seeds": [-1]}, {"sample_seeds": [1.5]}, {"rank": True}, {"lr_unet": "5e-4"},
    {"resolution": 1020}, {"lr_text": 0.0},
])
def test_other_bad_settings_are_one_line(overrides):
    with pytest.raises(InputError) as info:
        TrainingConfig.from_dict(overrides).validate()
    assert len(str(info.value).splitlines()) == 1
