"""int8 accuracy on real Fashion-MNIST: a tiny MobileNet trained with the training loop, then
post-training static int8 (ONNX Runtime) and quantization-aware fine-tuning (PyTorch x86),
each within 1 top-1 point of float on 2000 test images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mobilenets.classification import fit
from mobilenets.data import fashion_mnist
from mobilenets.deploy import (
    convert_qat,
    export_model,
    load_model,
    onnx_session,
    prepared_model,
    real_inputs,
)
from mobilenets.train.config import TrainConfig

TEST_IMAGES = 2000
ALLOWED_DROP = 1.0  # top-1 points, the bound

pytestmark = pytest.mark.slow


def _config(out, **changes) -> TrainConfig:
    settings = dict(
        out=str(out),
        data="fashion-mnist",
        alpha=0.25,
        resolution=32,
        epochs=2,
        batch_size=128,
        optimizer="sgd",
        lr=0.1,
        schedule="cosine",
        limit_train=20000,
        limit_val=TEST_IMAGES,
        augment=False,
        seed=0,
        device="cpu",
        workers=0,
    )
    return TrainConfig(**{**settings, **changes})


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, one_thread):
    run = tmp_path_factory.mktemp("float")
    fit(_config(run), progress=False)
    return run / "best.pt"


def _top1(outputs: np.ndarray, labels: torch.Tensor) -> float:
    return 100 * float((torch.as_tensor(outputs).argmax(1) == labels).float().mean())


def _test_set(model):
    images = real_inputs(model, "fashion-mnist", TEST_IMAGES, train=False)
    labels = torch.as_tensor(fashion_mnist(train=False).targets[:TEST_IMAGES])
    return images, labels


@pytest.mark.numerics
def test_post_training_int8_within_one_point_of_float(trained, tmp_path) -> None:
    model = load_model(trained)
    images, labels = _test_set(model)
    with torch.no_grad():
        float_top1 = _top1(model(images).numpy(), labels)
    calibration = real_inputs(model, "fashion-mnist", 256, train=True)
    path = tmp_path / "int8.onnx"
    export_model(model, path, "onnx", verify_inputs=images[:8], int8_calibration=calibration)
    int8_top1 = _top1(onnx_session(path).run(None, {"input": images.numpy()})[0], labels)
    print(f"float top-1 {float_top1:.2f}%, ONNX Runtime int8 top-1 {int8_top1:.2f}%")
    assert float_top1 > 80
    assert float_top1 - int8_top1 <= ALLOWED_DROP


@pytest.mark.numerics
def test_quantization_aware_fine_tuning_within_one_point_of_float(trained, tmp_path) -> None:
    float_model = load_model(trained)
    images, labels = _test_set(float_model)
    with torch.no_grad():
        float_top1 = _top1(float_model(images).numpy(), labels)
    qat = prepared_model(trained, "fashion-mnist")
    factory = (
        "mobilenets.deploy.qat:prepared_model",
        {"float_checkpoint": str(trained), "calibration_data": "fashion-mnist"},
    )
    fit(
        _config(tmp_path / "qat", epochs=1, lr=1e-4, limit_train=5000),
        model=qat,
        model_factory=factory,
        progress=False,
    )
    quantized = convert_qat(load_model(tmp_path / "qat" / "last.pt"))
    with torch.no_grad():
        int8_top1 = _top1(quantized(images).numpy(), labels)
    print(f"float top-1 {float_top1:.2f}%, QAT int8 (PyTorch x86) top-1 {int8_top1:.2f}%")
    assert float_top1 - int8_top1 <= ALLOWED_DROP
