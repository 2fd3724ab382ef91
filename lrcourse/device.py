"""Which device a run uses, and the settings that make it fast and repeatable there."""

import keras


def describe():
    """A dict naming the Keras backend and the accelerator in use: ``{"backend", "kind", "name"}``.

    ``kind`` is ``"GPU"`` or ``"CPU"``; ``name`` is the GPU's model when there is one.
    """
    backend = keras.backend.backend()
    names = _gpu_names(backend)
    return {"backend": backend, "kind": "GPU" if names else "CPU", "name": names[0] if names else "CPU"}


def _gpu_names(backend):
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    if backend == "jax":
        import jax

        return [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def setup(seed=None, mixed_precision="auto"):
    """Seed every random generator and choose the precision policy; returns ``describe()``.

    Call it before building a model. ``mixed_precision="auto"`` turns on ``mixed_float16`` on a
    GPU (faster matrix units, half the activation memory) and leaves float32 on a CPU, where
    half precision is slower. With a seed, TensorFlow also runs its ops deterministically, so a
    seeded run repeats its numbers; the price is that Keras then compiles the step without XLA
    on TensorFlow (a ``tf.function`` graph still), so leave the seed out for the fastest GPU run.
    """
    info = describe()
    use_mixed = info["kind"] == "GPU" if mixed_precision == "auto" else bool(mixed_precision)
    keras.mixed_precision.set_global_policy("mixed_float16" if use_mixed else "float32")
    if seed is not None:
        keras.utils.set_random_seed(seed)
        if info["backend"] == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
    return {**info, "precision": keras.mixed_precision.global_policy().name}
