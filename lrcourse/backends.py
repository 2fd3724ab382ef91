"""Run a function of the package under another Keras backend, in a child process.

Keras chooses its backend (TensorFlow, JAX or torch) once, when it is first imported, from
``KERAS_BACKEND``. A lesson running on TensorFlow can still show what happens on JAX: it runs
the same function in a fresh Python process started with ``KERAS_BACKEND=jax`` and reads back
its result, which must be JSON (numbers, text, lists, dicts; NumPy arrays become lists).

>>> result = run_under("jax", "lrcourse.training:measure_applied_learning_rates",
...                    learning_rate=0.1, steps=3)                        # doctest: +SKIP
>>> [round(rate, 6) for rate in result]                               # doctest: +SKIP
[0.1, 0.1, 0.1]
"""

import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}  # backend: the module it needs


def available(backend):
    """Whether ``backend``'s library is installed here."""
    return importlib.util.find_spec(BACKENDS[backend]) is not None


def run_under(backend, target, timeout=600, **arguments):
    """Call ``target`` (``"module:function"``) with ``arguments`` under ``backend``; return its result.

    The call runs in a child process with ``KERAS_BACKEND=backend``; its printed output is
    discarded. If it fails, the ``RuntimeError`` names the target and the backend and gives the
    child's error line.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got {backend!r}")
    if not available(backend):
        raise RuntimeError(f"the {backend} backend is not installed here: pip install {BACKENDS[backend]}, "
                           f"or choose another backend")
    with tempfile.TemporaryDirectory() as folder:
        result_file = Path(folder) / "result.json"
        process = subprocess.run(
            [sys.executable, "-m", "lrcourse.backends", target, json.dumps(arguments), str(result_file)],
            env={**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"},
            capture_output=True, text=True, timeout=timeout,
        )
        if process.returncode != 0:
            last_line = (process.stderr.strip().splitlines() or ["(no error output)"])[-1]
            raise RuntimeError(f"{target} failed under the {backend} backend: {last_line}")
        return json.loads(result_file.read_text())


def call_under(backend, target, **arguments):
    """Call ``target`` under ``backend``: here if Keras already runs on it, else with :func:`run_under`.

    Either way the result is what :func:`run_under` returns (JSON: NumPy arrays become lists).
    """
    import keras

    if keras.backend.backend() != backend:
        return run_under(backend, target, **arguments)
    return json.loads(_call_as_json(target, arguments))


def _call_as_json(target, arguments):
    """``target``'s result for ``arguments``, as JSON text."""
    from lrcourse.training import jsonable

    module, _, name = target.partition(":")
    return json.dumps(getattr(importlib.import_module(module), name)(**arguments), default=jsonable)


def _main(target, arguments, result_file):
    import keras

    if keras.backend.backend() != os.environ["KERAS_BACKEND"]:
        raise RuntimeError(f"Keras runs on {keras.backend.backend()}, not on {os.environ['KERAS_BACKEND']}")
    Path(result_file).write_text(_call_as_json(target, json.loads(arguments)))


if __name__ == "__main__":
    _main(*sys.argv[1:])
