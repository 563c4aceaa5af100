"""Model architectures for character classification. Inputs are (H, W, 1) floats in 0..1;
outputs are softmax probabilities (the contract wants probabilities out of the model)."""
from __future__ import annotations

import keras
from keras import layers


def mnist_seed(input_shape=(28, 28, 1), num_classes=10) -> keras.Model:
    """The classic 3-conv MNIST CNN (TensorFlow CNN tutorial layout): 93,322 parameters for 10 classes."""
    return keras.Sequential([
        keras.Input(input_shape),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dense(num_classes, activation="softmax"),
    ], name="mnist_seed")


def _conv_bn(x, filters, padding="same"):
    x = layers.Conv2D(filters, 3, padding=padding, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def plate_cnn(input_shape=(28, 28, 1), num_classes=10, width=16) -> keras.Model:
    """Our default: VGG-style conv-BN pairs, two poolings, two valid convs, dropout, softmax.
    BatchNorm folds into the convs at export, so it costs nothing on the device."""
    inp = keras.Input(input_shape)
    x = _conv_bn(inp, width)
    x = _conv_bn(x, width)
    x = layers.MaxPooling2D()(x)
    x = _conv_bn(x, 2 * width)
    x = _conv_bn(x, 2 * width)
    x = layers.MaxPooling2D()(x)
    x = _conv_bn(x, 4 * width, "valid")
    x = _conv_bn(x, 4 * width, "valid")
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    out = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inp, out, name=f"plate_cnn{width}")


ARCHS = {
    "mnist-seed": mnist_seed,
    "plate-cnn": plate_cnn,
    "plate-cnn-s": lambda input_shape, num_classes: plate_cnn(input_shape, num_classes, 12),
    "plate-cnn-m": lambda input_shape, num_classes: plate_cnn(input_shape, num_classes, 20),
    "plate-cnn-l": lambda input_shape, num_classes: plate_cnn(input_shape, num_classes, 24),
}


def build(name: str, input_shape=(28, 28, 1), num_classes=10) -> keras.Model:
    if name not in ARCHS:
        raise ValueError(f"unknown architecture {name!r} (known: {', '.join(ARCHS)})")
    return ARCHS[name](input_shape=input_shape, num_classes=num_classes)
