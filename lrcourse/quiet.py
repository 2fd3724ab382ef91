"""Keep TensorFlow's log lines out of a lesson, so that what is left in red is worth reading.

TensorFlow's C++ side writes its log to the process's standard error, which Jupyter (ipykernel 6
and later), Colab and papermill show in the notebook: "failed call to cuInit" on a machine
without a GPU, a "NodeDef mentions attribute" line per tf.data pipeline, and more. Its Python
side warns through the ``tensorflow`` logger each time a new model traces its functions again.

Two lines per library TensorFlow 2.21 loads (abseil's "All log messages before
absl::InitializeLog() is called are written to STDERR" and "Could not find cuda drivers") are
written before TensorFlow reads any setting, so no variable hides them; ``lrcourse run`` keeps
them out of executed notebooks by leaving the kernel's C-level output on the terminal.
"""

import logging
import os


def quiet_tensorflow(level=3):
    """Hide TensorFlow's C++ log below ``level`` and its tf.function retracing warnings.

    Call it before Keras or TensorFlow is imported (the lessons' setup cell does): it sets
    ``TF_CPP_MIN_LOG_LEVEL``, which TensorFlow reads once, unless you set it yourself. The
    default, 3, hides ERROR lines too (TensorFlow reports real errors as exceptions, which
    still show, as do Python warnings and FATAL lines). Set ``TF_CPP_MIN_LOG_LEVEL=0`` before
    calling it to see TensorFlow's whole C++ log.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", str(level))
    logging.getLogger("tensorflow").addFilter(_not_retracing)


def _not_retracing(record):
    """Drop tf.function's "triggered tf.function retracing" warning (every new model in a kernel traces)."""
    return "tf.function retracing" not in record.getMessage()
