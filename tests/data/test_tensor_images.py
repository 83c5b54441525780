"""The batched uint8 training path (data/tensor_images.py) against torchvision's per-image one,
on the real Fashion-MNIST images."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, SequentialSampler
from torchvision.transforms import v2

from mobilenets.data.classification import FASHION_MNIST_MEAN, FASHION_MNIST_STD, build_datasets
from mobilenets.data.fashion_mnist import fashion_mnist
from mobilenets.data.tensor_images import BatchTransform, TensorImages, random_resized_boxes
from mobilenets.data.transforms import build_transforms

MEAN, STD = FASHION_MNIST_MEAN, FASHION_MNIST_STD
GREY_LEVEL = 1 / (255 * STD[0])  # one grey level in normalised units


@pytest.fixture(scope="module")
def source():
    return fashion_mnist(train=True)


def test_boxes_lie_in_the_image_with_torchvisions_area_and_aspect():
    torch.manual_seed(0)
    boxes = random_resized_boxes(4000, 28, 28, (0.25, 1.0))
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    assert (
        bool((boxes[:, :2] >= 0).all())
        and bool((boxes[:, 2] <= 28).all())
        and bool((boxes[:, 3] <= 28).all())
    )
    assert bool((width >= 1).all()) and bool((height >= 1).all())
    assert bool((boxes == boxes.round()).all())  # whole pixels, as torchvision crops
    # The reference: torchvision's own draw, 4000 times.
    reference = torch.tensor(
        [
            v2.RandomResizedCrop.get_params(torch.zeros(1, 28, 28), [0.25, 1.0], [3 / 4, 4 / 3])
            for _ in range(4000)
        ],
        dtype=torch.float32,
    )
    ref_height, ref_width = reference[:, 2], reference[:, 3]
    ours_area, ref_area = (width * height / 784), (ref_width * ref_height / 784)
    assert abs(ours_area.mean().item() - ref_area.mean().item()) < 0.015
    assert abs(ours_area.std().item() - ref_area.std().item()) < 0.015
    ours_aspect, ref_aspect = (width / height).log(), (ref_width / ref_height).log()
    assert abs(ours_aspect.mean().item() - ref_aspect.mean().item()) < 0.02
    assert abs(ours_aspect.std().item() - ref_aspect.std().item()) < 0.02
    assert (
        ours_area.min().item() >= 0.2 and ours_aspect.abs().max().item() <= math.log(4 / 3) + 0.15
    )


def test_a_crop_that_never_fits_falls_back_to_the_centre_crop():
    torch.manual_seed(0)
    # A 10x40 image with square-ish crops covering all of it cannot fit: torchvision's fallback
    # is the centred crop of the largest allowed aspect ratio (4/3: 13 x 10).
    boxes = random_resized_boxes(50, 10, 40, (1.0, 1.0))
    assert boxes.tolist() == [[13.0, 0.0, 26.0, 10.0]] * 50


def test_the_evaluation_resize_matches_pils_within_one_grey_level(source):
    for resolution in (32, 64, 20):
        pil = fashion_mnist(
            train=True,
            transform=build_transforms(
                resolution, False, in_channels=1, mean=MEAN, std=STD, crop_pct=1.0
            ),
        )
        batch = BatchTransform(resolution, False, in_channels=1, mean=MEAN, std=STD, crop_pct=1.0)(
            source.data[:100, None]
        )
        expected = torch.stack([pil[index][0] for index in range(100)])
        assert batch.shape == expected.shape == (100, 1, resolution, resolution)
        assert (batch - expected).abs().max().item() <= GREY_LEVEL * 1.01


def test_a_whole_image_crop_is_the_bilinear_resize_flipped_or_not(source):
    images = source.data[:64, None]
    torch.manual_seed(1)
    out = BatchTransform(48, True, in_channels=1, mean=(0.0,), std=(1 / 255,), min_crop_area=1.0)(
        images
    )
    plain = F.interpolate(images.float(), size=(48, 48), mode="bilinear", align_corners=False)
    same = (out - plain).flatten(1).abs().amax(1) < 1e-3
    mirrored = (out - plain.flip(-1)).flatten(1).abs().amax(1) < 1e-3
    assert bool((same | mirrored).all())
    assert 10 < int(mirrored.sum()) < 54  # about half flipped


def test_grey_images_feed_a_three_channel_model_and_the_draw_follows_the_seed(source):
    transform = BatchTransform(32, True, in_channels=3, mean=(0.5,) * 3, std=(0.25,) * 3)
    torch.manual_seed(7)
    first = transform(source.data[:8, None])
    torch.manual_seed(7)
    again = transform(source.data[:8, None])
    assert first.shape == (8, 3, 32, 32) and torch.equal(first, again)
    assert torch.equal(first[:, 0], first[:, 2])


def test_the_loader_fetches_whole_batches_with_their_labels(source):
    dataset = TensorImages(
        source.data[:256],
        source.targets[:256],
        BatchTransform(40, True, in_channels=1, mean=MEAN, std=STD),
    )
    calls = []
    fetch = dataset.__getitems__
    dataset.__getitems__ = lambda indices: calls.append(len(indices)) or fetch(indices)
    images, labels = next(
        iter(DataLoader(dataset, batch_size=64, sampler=SequentialSampler(dataset)))
    )
    assert images.shape == (64, 1, 40, 40) and images.dtype == torch.float32
    assert torch.equal(labels, source.targets[:64]) and calls == [64]
    assert abs(images.mean().item()) < 0.5  # normalised with the data's statistics


def test_builtin_training_data_is_batched_and_the_unaugmented_copy_too():
    from mobilenets.train.data import unaugmented_train

    bundle = build_datasets("fashion-mnist", 32, in_channels=1, limit_train=100)
    base = bundle.train.dataset
    assert isinstance(base, TensorImages) and base.transform.train
    plain = unaugmented_train(bundle)
    assert isinstance(plain.dataset, TensorImages) and not plain.dataset.transform.train
    assert torch.equal(plain[3][0], plain[3][0]) and plain[3][1] == bundle.train[3][1]


@pytest.mark.parametrize("bad", [torch.zeros(2, 28, 28), torch.zeros(28, 28, dtype=torch.uint8)])
def test_tensor_images_refuse_what_is_not_a_uint8_image_stack(bad):
    with pytest.raises(ValueError, match="uint8"):
        TensorImages(bad, [0, 1], BatchTransform(8, True, in_channels=1, mean=MEAN, std=STD))
