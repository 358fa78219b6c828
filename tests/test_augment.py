import numpy as np

from fera.training.augment import Batches, augment, random_affine
from fera.training.config import AugmentConfig

NO_AUG = AugmentConfig(rotation=0, shift=0, shear=0, zoom=0, horizontal_flip=False)


def _data(n=10, k=3):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 16, 16), dtype=np.uint8), np.arange(n) % k


def test_batches_are_rescaled_one_hot_and_weighted():
    x, y = _data()
    b = Batches(x, y, 3, 4, class_weight={0: 1.0, 1: 2.0, 2: 3.0})
    assert len(b) == 3
    xb, yb, w = b[2]
    assert xb.shape == (2, 16, 16, 1) and xb.dtype == np.float32
    np.testing.assert_allclose(xb[..., 0], x[8:10] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(yb.argmax(1), y[8:10])
    np.testing.assert_array_equal(w, [3.0, 1.0])  # y = [2, 0]


def test_shuffle_and_augmentation_depend_only_on_seed_and_epoch():
    x, y = _data(40)
    a = Batches(x, y, 3, 8, seed=5, shuffle=True, augment_cfg=AugmentConfig())
    b = Batches(x, y, 3, 8, seed=5, shuffle=True, augment_cfg=AugmentConfig())
    a.set_epoch(3)
    b.set_epoch(0)
    b.set_epoch(3)  # a resumed run reaches epoch 3 without seeing epochs 1-2
    np.testing.assert_array_equal(a[1][0], b[1][0])
    b.set_epoch(4)
    assert not np.array_equal(a[1][0], b[1][0])
    assert sorted(a.order) == list(range(40))


def test_identity_settings_leave_images_unchanged():
    x, _ = _data(4)
    xf = x.astype("float32")[..., None] / 255
    out = augment(xf, np.random.default_rng(0), NO_AUG)
    np.testing.assert_allclose(out, xf, atol=1e-5)


def test_flip_mirrors_and_rotation_moves_pixels():
    img = np.zeros((1, 16, 16, 1), "float32")
    img[0, 4:12, 1:4, 0] = 1.0  # a bar at the left edge
    flip_only = AugmentConfig(rotation=0, shift=0, shear=0, zoom=0, horizontal_flip=True)
    rng = np.random.default_rng(0)
    flipped = None
    for _ in range(20):  # flips half the time
        out = augment(img, rng, flip_only)
        if out[0, :, 12:, 0].sum() > 0:
            flipped = out
            break
    assert flipped is not None
    np.testing.assert_allclose(flipped[0, :, :, 0], img[0, :, ::-1, 0], atol=1e-5)
    rotated = augment(img, np.random.default_rng(1), AugmentConfig(rotation=90, shift=0, shear=0, zoom=0,
                                                                  horizontal_flip=False))
    assert not np.allclose(rotated, img)


def test_random_affine_has_requested_ranges():
    t = random_affine(np.random.default_rng(0), 500, 48, 48, AugmentConfig(rotation=0, shear=0, zoom=0,
                                                                         horizontal_flip=False, shift=0.1))
    np.testing.assert_allclose(t[:, [0, 4]], 1.0)
    assert np.abs(t[:, 2]).max() <= 4.8 + 1e-4 and np.abs(t[:, 2]).max() > 4.0


def test_opencv_warp_matches_keras_affine_transform():
    """The same transforms as before: Keras' affine_transform (bilinear, nearest fill) is the reference."""
    import keras

    x = np.random.default_rng(2).random((16, 48, 48, 1), dtype=np.float32)
    cfg = AugmentConfig(rotation=20, shift=0.15, shear=15, zoom=0.2, horizontal_flip=True)
    ref = keras.ops.convert_to_numpy(keras.ops.image.affine_transform(
        x, random_affine(np.random.default_rng(7), 16, 48, 48, cfg), interpolation="bilinear",
        fill_mode="nearest", data_format="channels_last"))
    np.testing.assert_allclose(augment(x, np.random.default_rng(7), cfg), ref, atol=1e-4)


def test_random_crop_shifts_by_whole_pixels_within_the_padding():
    t = random_affine(np.random.default_rng(0), 400, 48, 48, AugmentConfig(rotation=0, shift=0, shear=0, zoom=0,
                                                                         horizontal_flip=False, crop=4))
    assert set(np.unique(t[:, [2, 5]])) == set(range(-4, 5))


def test_random_erasing_covers_the_requested_share_of_images():
    x = np.zeros((400, 48, 48, 1), np.float32)
    out = augment(x, np.random.default_rng(0), AugmentConfig(rotation=0, shift=0, shear=0, zoom=0,
                                                            horizontal_flip=False, erasing=0.5))
    erased = (out.reshape(400, -1) > 0).any(axis=1)
    assert 0.4 < erased.mean() < 0.6
    area = (out.reshape(400, -1) > 0).sum(axis=1)[erased] / (48 * 48)
    assert area.max() <= 0.3 and area.min() >= 0.01
    np.testing.assert_array_equal(x, 0)  # the input batch is left as it was
