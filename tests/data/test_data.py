"""Classification data: real Fashion-MNIST, transforms, image folders and CSV manifests with
corrupt files skipped and counted."""

import io
import logging

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from mobilenets.data.classification import (
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    build_datasets,
    build_transforms,
)
from mobilenets.data.fashion_mnist import fashion_mnist


def test_fashion_mnist_sizes_limits_and_statistics():
    full = build_datasets("fashion-mnist", 32)
    assert (len(full.train), len(full.val), full.num_classes, full.skipped_files) == (
        60000,
        10000,
        10,
        0,
    )
    limited = build_datasets("fashion-mnist", 32, in_channels=1, limit_train=100, limit_val=50)
    assert (len(limited.train), len(limited.val)) == (100, 50)
    image, label = limited.train[7]
    assert image.shape == (1, 32, 32) and label == fashion_mnist(train=True).targets[7].item()
    pixels = fashion_mnist(train=True).data.double() / 255
    assert pixels.mean().item() == pytest.approx(FASHION_MNIST_MEAN[0], abs=1e-4)
    assert pixels.std().item() == pytest.approx(FASHION_MNIST_STD[0], abs=1e-4)
    assert full.mean == FASHION_MNIST_MEAN * 3 and limited.mean == FASHION_MNIST_MEAN


@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("resolution", [32, 64])
def test_transform_shapes(in_channels, resolution):
    grey, colour = Image.new("L", (28, 28), 128), Image.new("RGB", (50, 40), (10, 200, 30))
    for train in (True, False):
        transform = build_transforms(
            resolution, train, in_channels=in_channels, mean=[0.5], std=[0.5]
        )
        for image in (grey, colour):
            out = transform(image)
            assert out.shape == (in_channels, resolution, resolution) and out.dtype == torch.float32


def test_eval_transform_normalizes_and_replicates_grey():
    transform = build_transforms(
        16, False, in_channels=3, mean=(0.2, 0.4, 0.6), std=(0.5, 0.5, 0.5)
    )
    out = transform(Image.new("L", (20, 20), 102))  # 102 / 255 = 0.4 in every replicated channel
    assert out[:, 0, 0].tolist() == pytest.approx([0.4, 0.0, -0.4], abs=1e-6)
    with pytest.raises(ValueError, match="in_channels must be 1 or 3"):
        build_transforms(16, False, in_channels=2)


def _image_bytes(fmt: str, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


BAD = ("empty.jpg", "fake.jpg", "truncated.jpg")


def _write_split(folder, corrupt: bool) -> None:
    (folder / "cat").mkdir(parents=True)
    (folder / "dog").mkdir()
    (folder / "cat" / "a.png").write_bytes(_image_bytes("PNG", 1))
    (folder / "cat" / "b.jpg").write_bytes(_image_bytes("JPEG", 2))
    (folder / "dog" / "c.png").write_bytes(_image_bytes("PNG", 3))
    (folder / "dog" / "d.jpeg").write_bytes(_image_bytes("JPEG", 4))
    (folder / "dog" / "notes.txt").write_text("not an image extension: ignored, not counted")
    if corrupt:
        (folder / "cat" / "empty.jpg").write_bytes(b"")
        (folder / "cat" / "fake.jpg").write_text("this is text, not a JPEG")
        (folder / "cat" / "truncated.jpg").write_bytes(_image_bytes("JPEG", 5)[:600])


def test_image_folder_skips_and_counts_corrupt_files(tmp_path, caplog):
    _write_split(tmp_path / "train", corrupt=True)
    _write_split(tmp_path / "val", corrupt=False)
    with caplog.at_level(logging.WARNING):
        bundle = build_datasets(str(tmp_path), 24, min_crop_area=0.5)
    assert bundle.classes == ["cat", "dog"] and bundle.num_classes == 2
    assert (len(bundle.train), len(bundle.val), bundle.skipped_files) == (4, 4, 3)
    assert sorted(p.rsplit("/", 1)[1] for p in bundle.skipped) == sorted(BAD)
    assert all(any(name in message for message in caplog.messages) for name in BAD)
    assert sorted(bundle.train.targets) == [0, 0, 1, 1]
    batches = list(DataLoader(bundle.train, batch_size=3, num_workers=2))
    assert [tuple(images.shape) for images, _ in batches] == [(3, 3, 24, 24), (1, 3, 24, 24)]

    # The first N images alternate classes; nothing corrupt is met before them.
    limited = build_datasets(str(tmp_path), 24, limit_train=2, limit_val=1)
    assert (limited.train.targets, len(limited.val), limited.skipped_files) == ([0, 1], 1, 0)

    with pytest.raises(ValueError, match=r"unreadable image: .*/train/cat/empty\.jpg"):
        build_datasets(str(tmp_path), 24, strict=True)


def test_csv_manifests_with_names_and_indices(tmp_path):
    _write_split(tmp_path / "images", corrupt=True)
    (tmp_path / "train.csv").write_text(
        "path,label\nimages/cat/a.png,cat\nimages/dog/c.png,dog\nimages/cat/truncated.jpg,cat\nimages/dog/d.jpeg,dog\n"
    )
    (tmp_path / "val.csv").write_text(
        "images/cat/b.jpg,cat\nimages/cat/empty.jpg,cat\nimages/dog/c.png,dog\n"
    )
    bundle = build_datasets(str(tmp_path), 16, in_channels=1)
    assert (bundle.classes, len(bundle.train), len(bundle.val), bundle.skipped_files) == (
        ["cat", "dog"],
        3,
        2,
        2,
    )
    assert bundle.train.targets == [0, 1, 1] and bundle.val[1][0].shape == (1, 16, 16)

    (tmp_path / "by_index.csv").write_text(
        "images/cat/a.png,2\nimages/dog/c.png,0\nimages/cat/b.jpg,1\n"
    )
    (tmp_path / "val_index.csv").write_text("images/dog/d.jpeg,1\n")
    indexed = build_datasets(f"{tmp_path}/by_index.csv,{tmp_path}/val_index.csv", 16)
    assert (indexed.classes, indexed.train.targets, indexed.val.targets) == (
        ["0", "1", "2"],
        [2, 0, 1],
        [1],
    )

    (tmp_path / "bad_val.csv").write_text("images/dog/d.jpeg,bird\n")
    with pytest.raises(ValueError, match="bird"):
        build_datasets(f"{tmp_path}/train.csv,{tmp_path}/bad_val.csv", 16)
    with pytest.raises(ValueError, match=r"truncated\.jpg"):
        build_datasets(str(tmp_path), 16, strict=True)


def test_unknown_data_is_refused(tmp_path):
    with pytest.raises(ValueError, match="fashion-mnist"):
        build_datasets("imagenet", 32)
    with pytest.raises(ValueError, match="neither train/ and val/"):
        build_datasets(str(tmp_path), 32)
    with pytest.raises(ValueError, match="does not exist"):
        build_datasets(f"{tmp_path}/a.csv,{tmp_path}/b.csv", 32)
    for split in ("train", "val"):
        for name in ("cat", "dog"):
            (tmp_path / split / name).mkdir(parents=True)
            (tmp_path / "train" / name / "x.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match="no readable train images"):
        build_datasets(str(tmp_path), 32)
    with pytest.raises(ValueError, match="limit_train must be >= 1"):
        build_datasets("fashion-mnist", 32, limit_train=0)
