"""Make the stored range test that assignment 02 reads: one real sweep, run here, kept as JSON.

    python scripts/build_assignment_data.py

The curve is a range test of the course's ``mnist_cnn`` on the bundled Fashion-MNIST subset
(9,000 training images after the validation split), SGD with momentum 0.9, batches of 64, rates
from 1e-5 to 0.5 over 250 batches, seed 0. A student reads it as if it were their own; the
assignment's tests grade their readings against this curve, so it is committed, not remade at
run time (a rerun on other hardware gives a slightly different curve).
"""

import lrcourse

lrcourse.quiet_tensorflow()

import keras  # noqa: E402

from lrcourse import data, device, models, paths, training  # noqa: E402
from lrcourse.finder import LRFinder  # noqa: E402

OUTPUT = paths.PACKAGE_DIR / "assignment_data" / "range_test_fashion_mnist.json"


def main():
    device.setup(seed=0)
    dataset = data.load("fashion_mnist_small")
    model = models.build("mnist_cnn", dataset.input_shape, dataset.num_classes)
    training.compile_model(model, keras.optimizers.SGD(0.01, momentum=0.9))
    result = LRFinder(model).find(dataset.x_train, dataset.y_train, start_lr=1e-5, end_lr=0.5, num_batches=250,
                                  batch_size=64, seed=0)
    print(f"{len(result.lrs)} batches; stopped early: {result.stopped_early or 'no'}; bounds {result.bounds()}; "
          f"suggestions {result.suggestions()}")
    print("wrote", result.save(OUTPUT))


if __name__ == "__main__":
    main()
