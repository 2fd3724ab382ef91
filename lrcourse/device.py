"""Which device a run uses, and the settings that make it fast and repeatable there."""

import keras

MIXED_POLICIES = ("mixed_bfloat16", "mixed_float16")


def describe():
    """A dict naming the Keras backend and the accelerator in use:
    ``{"backend", "kind", "name", "compute_capability"}``.

    ``kind`` is ``"GPU"`` or ``"CPU"``; ``name`` is the GPU's model when there is one, and
    ``compute_capability`` its CUDA compute capability as text (``"9.0"`` on an H100 or H200;
    ``None`` on a CPU, or where the backend does not say).
    """
    backend = keras.backend.backend()
    gpus = _gpus(backend)
    name, capability = gpus[0] if gpus else ("CPU", None)
    return {"backend": backend, "kind": "GPU" if gpus else "CPU", "name": name, "compute_capability": capability}


def _gpus(backend):
    """``[(name, compute capability as "major.minor" or None), ...]`` of the GPUs the backend sees."""
    if backend == "tensorflow":
        import tensorflow as tf

        details = [tf.config.experimental.get_device_details(g) for g in tf.config.list_physical_devices("GPU")]
        return [(d.get("device_name", "GPU"), _as_text(d.get("compute_capability"))) for d in details]
    if backend == "jax":
        import jax

        return [(d.device_kind, _as_text(getattr(d, "compute_capability", None)))
                for d in jax.devices() if d.platform == "gpu"]
    if backend == "torch":
        import torch

        return [(torch.cuda.get_device_name(i), _as_text(torch.cuda.get_device_capability(i)))
                for i in range(torch.cuda.device_count())]
    return []


def _as_text(capability):
    if capability is None:
        return None
    return ".".join(str(part) for part in capability) if isinstance(capability, (tuple, list)) else str(capability)


def mixed_policy(compute_capability):
    """The mixed-precision policy a GPU runs best.

    GPUs of compute capability 8.0 and later (Ampere: A100, RTX 30xx; Ada; Hopper: H100, H200)
    compute bfloat16 at full speed. bfloat16 keeps float32's exponent range, so it needs no loss
    scaling. Older GPUs (Volta, Turing) have float16 units only: ``mixed_float16``, whose small
    range Keras protects by wrapping the optimizer in a ``LossScaleOptimizer`` at ``compile``.

    An unknown capability (``None``, or a non-CUDA name) gets ``mixed_float16``, which every GPU runs.

    >>> mixed_policy("9.0"), mixed_policy("7.5"), mixed_policy(None)
    ('mixed_bfloat16', 'mixed_float16', 'mixed_float16')
    """
    major = str(compute_capability).split(".")[0]
    return "mixed_bfloat16" if major.isdigit() and int(major) >= 8 else "mixed_float16"


def setup(seed=None, mixed_precision="auto"):
    """Seed every random generator and choose the precision policy; returns ``describe()`` with
    the chosen ``"precision"``.

    Call it before building a model. ``mixed_precision``:

    * ``"auto"`` (default): on a GPU, :func:`mixed_policy` (``mixed_bfloat16`` on Ampere and
      later, ``mixed_float16`` before); on a CPU float32, where half precision is slower;
    * ``True``: that mixed policy even on a CPU (``mixed_float16`` there: tests use it to
      exercise the loss-scaling path); ``False``: float32;
    * a policy name: ``"mixed_bfloat16"``, ``"mixed_float16"`` or ``"float32"``.

    With a seed, TensorFlow also runs its ops deterministically, so a seeded run repeats its
    numbers; the price is that Keras then compiles the step without XLA on TensorFlow (a
    ``tf.function`` graph still), so leave the seed out for the fastest GPU run.
    """
    info = describe()
    if mixed_precision == "auto":
        mixed_precision = info["kind"] == "GPU"
    if isinstance(mixed_precision, bool):
        policy = mixed_policy(info["compute_capability"]) if mixed_precision else "float32"
    elif mixed_precision in MIXED_POLICIES + ("float32",):
        policy = mixed_precision
    else:
        raise ValueError(f"mixed_precision must be 'auto', True, False, 'mixed_bfloat16', 'mixed_float16' or "
                         f"'float32'; got {mixed_precision!r}")
    keras.mixed_precision.set_global_policy(policy)
    if seed is not None:
        keras.utils.set_random_seed(seed)
        if info["backend"] == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
    return {**info, "precision": policy}
