"""lrcourse.backends: a package function run under another Keras backend in a child process."""

import pytest

from lrcourse import backends


@pytest.mark.skipif(not backends.available("jax"), reason="jax is not installed")
def test_a_function_runs_under_jax_and_its_result_comes_back():
    rates = backends.run_under("jax", "lrcourse.training:measure_applied_learning_rates", learning_rate=0.25, steps=3)
    assert rates == pytest.approx([0.25, 0.25, 0.25])
    assert backends.run_under("jax", "keras.backend:backend") == "jax"


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be one of 'tensorflow', 'jax', 'torch'; got 'theano'"):
        backends.run_under("theano", "keras.backend:backend")


def test_a_failure_in_the_child_names_the_backend_and_shows_the_error():
    with pytest.raises(RuntimeError, match="plan_cycles failed under the tensorflow backend: lrcourse.RefusedArgument: steps_per_epoch must be a whole number"):
        backends.run_under("tensorflow", "lrcourse.schedules:plan_cycles", step_epochs=1, steps_per_epoch=0, epochs=4)


def test_call_under_runs_here_on_the_backend_keras_runs_on_and_elsewhere_in_a_child():
    import keras

    here = keras.backend.backend()
    assert backends.call_under(here, "keras.backend:backend") == here
    other = next(b for b in ("tensorflow", "jax", "torch") if b != here and backends.available(b))
    assert backends.call_under(other, "keras.backend:backend") == other
