import doctest

import keras
import pytest

from lrcourse import device


@pytest.fixture
def restore_policy():
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("capability, policy", [
    ("9.0", "mixed_bfloat16"),  # Hopper: H100, H200
    ("8.0", "mixed_bfloat16"),  # Ampere: A100
    ("8.6", "mixed_bfloat16"),  # RTX 30xx
    ("7.5", "mixed_float16"),   # Turing: T4, Colab's free GPU
    ("7.0", "mixed_float16"),   # Volta: V100
    (None, "mixed_float16"),
    ("gfx90a", "mixed_float16"),  # not a CUDA capability: the policy every GPU runs
])
def test_bfloat16_from_ampere_on_and_float16_before(capability, policy):
    assert device.mixed_policy(capability) == policy


@pytest.mark.parametrize("capability, policy", [("9.0", "mixed_bfloat16"), ("7.5", "mixed_float16")])
def test_auto_chooses_the_gpus_policy(monkeypatch, restore_policy, capability, policy):
    monkeypatch.setattr(device, "describe", lambda: {"backend": "jax", "kind": "GPU", "name": "some GPU",
                                                     "compute_capability": capability})
    assert device.setup()["precision"] == policy
    assert keras.mixed_precision.global_policy().name == policy


@pytest.mark.skipif(device.describe()["kind"] != "CPU", reason="checks the CPU's choice")
def test_a_cpu_stays_in_float32_unless_asked(restore_policy):
    assert device.describe()["compute_capability"] is None
    assert device.setup()["precision"] == "float32"
    assert device.setup(mixed_precision="mixed_bfloat16")["precision"] == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().compute_dtype == "bfloat16"
    assert device.setup(mixed_precision=True)["precision"] == "mixed_float16"
    assert device.setup(mixed_precision=False)["precision"] == "float32"


def test_only_bfloat16s_runs_compile_without_loss_scaling(restore_policy):
    for policy, scaled in (("mixed_bfloat16", False), ("mixed_float16", True)):
        device.setup(mixed_precision=policy)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, dtype="float32")])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) is scaled, policy


def test_an_unknown_precision_is_refused_in_one_line(restore_policy):
    with pytest.raises(ValueError, match="mixed_precision must be 'auto', True, False, 'mixed_bfloat16', "
                                         "'mixed_float16' or 'float32'; got 'bf16'"):
        device.setup(mixed_precision="bf16")


def test_the_docstring_examples_run():
    result = doctest.testmod(device)
    assert result.attempted >= 1 and result.failed == 0
