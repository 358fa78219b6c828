import json
import os

import numpy as np
import pytest
from conftest import make_tree
from PIL import Image

from fera.training.config import DataConfig
from fera.training.data import class_weights, load_dataset, load_eval_data, stratified_split, write_label_map
from fera.errors import FeraError


def cfg(root, **kw):
    return DataConfig(data_root=str(root), **kw)


def test_folder_tree_loads_all_splits_in_fixed_class_order(demo_root):
    ds = load_dataset(cfg(demo_root))
    assert ds.class_names == ["happy", "neutral", "sad", "surprise"]
    assert ds.counts() == {s: {c: n for c in ds.class_names} for s, n in (("train", 12), ("val", 4), ("test", 4))}
    assert ds.splits["train"].x.shape == (48, 48, 48) and ds.splits["train"].x.dtype == np.uint8
    assert not ds.val_from_train and ds.skipped == []


def test_img_size_is_applied(demo_root):
    ds = load_dataset(cfg(demo_root, img_size=(32, 40)))
    assert ds.splits["val"].x.shape[1:] == (32, 40)


def test_missing_val_gives_stratified_seeded_split(tmp_path):
    root = make_tree(tmp_path / "d", {"train": {"a": 50, "b": 10}})
    ds1 = load_dataset(cfg(root, val_split=0.2, seed=3))
    assert ds1.val_from_train
    assert ds1.counts()["val"] == {"a": 10, "b": 2}
    assert ds1.counts()["train"] == {"a": 40, "b": 8}
    ds2 = load_dataset(cfg(root, val_split=0.2, seed=3))
    np.testing.assert_array_equal(ds1.splits["val"].x, ds2.splits["val"].x)
    ds3 = load_dataset(cfg(root, val_split=0.2, seed=4))
    assert not np.array_equal(ds1.splits["val"].x, ds3.splits["val"].x)


def test_stratified_split_keeps_every_class_in_train():
    y = np.array([0] * 5 + [1] * 2 + [2])
    keep, held = stratified_split(y, 0.5, 0)
    assert set(y[keep]) == {0, 1, 2}
    assert sorted(np.concatenate([keep, held])) == list(range(len(y)))


def test_bad_files_are_skipped_counted_and_named(tmp_path):
    root = make_tree(tmp_path / "d", {"train": {"a": 3, "b": 3}})
    (root / "train" / "a" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (root / "train" / "a" / "empty.png").write_bytes(b"")
    (root / "train" / "b" / "readme.txt").write_text("hello")
    (root / "train" / "b" / ".DS_Store").write_text("hidden files are ignored")
    ds = load_dataset(cfg(root))
    assert len(ds.skipped) == 3
    assert {os.path.basename(p) for p, _ in ds.skipped} == {"broken.jpg", "empty.png", "readme.txt"}
    assert all(reason for _, reason in ds.skipped)
    assert len(ds.splits["train"]) + len(ds.splits["val"]) == 6


@pytest.mark.parametrize("case, message", [
    ("missing_root", "data root not found"),
    ("no_train", "no train/ folder"),
    ("one_class", "at least 2 classes"),
    ("empty", "no readable training images"),
    ("val_extra_class", "val/ has class(es) not in train/: c"),
    ("empty_class", "class(es) with no readable training images: b"),
])
def test_bad_datasets_raise_one_clear_error(tmp_path, case, message):
    root = tmp_path / "d"
    if case == "no_train":
        make_tree(root, {"val": {"a": 2, "b": 2}})
    elif case == "one_class":
        make_tree(root, {"train": {"a": 4}})
    elif case == "empty":
        (root / "train" / "a").mkdir(parents=True)
        (root / "train" / "b").mkdir(parents=True)
        (root / "train" / "a" / "x.jpg").write_bytes(b"nope")
    elif case == "val_extra_class":
        make_tree(root, {"train": {"a": 4, "b": 4}, "val": {"a": 1, "c": 1}})
    elif case == "empty_class":
        make_tree(root, {"train": {"a": 4}})
        (root / "train" / "b").mkdir()
    with pytest.raises(FeraError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_dataset(cfg(root))


def test_fer2013_csv(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["emotion,pixels,Usage"]
    for i in range(30):
        usage = ("Training", "PublicTest", "PrivateTest")[i % 3]
        rows.append(f"{i % 7},{' '.join(map(str, rng.integers(0, 256, 48 * 48)))},{usage}")
    rows.append("3,1 2 3,Training")  # wrong pixel count: skipped
    rows.append("x,1 2 3 4,Training")  # bad label: skipped
    csv_path = tmp_path / "fer2013.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    ds = load_dataset(cfg(csv_path))
    assert ds.class_names == sorted(["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 10, "val": 10, "test": 10}
    assert len(ds.skipped) == 2 and ds.skipped[0][0] == "fer2013.csv:32"
    # CSV label 6 is neutral; in the fixed (sorted) order that is index 4
    first_neutral = [i for i in range(30) if i % 7 == 6 and i % 3 == 0][0] // 3
    assert ds.class_names[ds.splits["train"].y[first_neutral]] == "neutral"
    assert load_eval_data(cfg(csv_path))[1] == "test"


def test_kaggle_icml_face_data_csv_with_spaced_header(tmp_path):
    """Kaggle's icml_face_data.csv names its columns "emotion, Usage, pixels" (spaces, other order); `fera data
    get` converts it, and the loader reads it directly too (at 9d42bbd it refused it as "not a FER-2013 CSV")."""
    rng = np.random.default_rng(0)
    rows = ["emotion, Usage, pixels"] + [f"{i % 7}, {('Training', 'PublicTest')[i % 2]}, "
                                         f"{' '.join(map(str, rng.integers(0, 256, 48 * 48)))}" for i in range(14)]
    csv_path = tmp_path / "icml_face_data.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    ds = load_dataset(cfg(csv_path))
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 7, "val": 7} and not ds.skipped


def test_not_a_csv_file(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("hi")
    with pytest.raises(FeraError, match="not a FER-2013 CSV"):
        load_dataset(cfg(p))
    c = tmp_path / "y.csv"
    c.write_text("a,b\n1,2\n")
    with pytest.raises(FeraError, match="columns emotion,pixels"):
        load_dataset(cfg(c))


def test_cache_is_used_and_invalidated_by_changes(tmp_path):
    root = make_tree(tmp_path / "d", {"train": {"a": 5, "b": 5}, "val": {"a": 2, "b": 2}})
    cache = tmp_path / "cache"
    first = load_dataset(cfg(root, cache_dir=str(cache)))
    assert not first.from_cache and len(list(cache.glob("*.npz"))) == 1
    second = load_dataset(cfg(root, cache_dir=str(cache)))
    assert second.from_cache
    np.testing.assert_array_equal(first.splits["train"].x, second.splits["train"].x)
    Image.new("L", (48, 48), 7).save(root / "train" / "a" / "new.png")
    third = load_dataset(cfg(root, cache_dir=str(cache)))
    assert not third.from_cache and len(third.splits["train"]) == 11
    fourth = load_dataset(cfg(root, cache_dir=str(cache), use_cache=False))
    assert not fourth.from_cache


def test_class_weights_are_balanced():
    y = np.array([0] * 30 + [1] * 10)
    w = class_weights(y, 2)
    assert w[0] == pytest.approx(40 / (2 * 30)) and w[1] == pytest.approx(40 / (2 * 10))


def test_label_map_goes_to_out_dir_and_writable_root(tmp_path):
    root = make_tree(tmp_path / "d", {"train": {"x": 2, "y": 2}})
    ds = load_dataset(cfg(root))
    written = write_label_map(ds, tmp_path / "out")
    assert len(written) == 2
    assert json.loads((tmp_path / "out" / "label_map.json").read_text()) == {"0": "x", "1": "y"}
    assert json.loads((root / "label_map.json").read_text()) == {"0": "x", "1": "y"}


def test_read_only_root_is_not_an_error(tmp_path, monkeypatch):
    """The dataset root may be read-only (CI's ../shared is); root can write anywhere, so simulate it."""
    import fera.training.data

    root = make_tree(tmp_path / "d", {"train": {"x": 2, "y": 2}})
    ds = load_dataset(cfg(root))
    real = fera.training.data.write_json

    def refuse_in_root(path, obj):
        if path.parent == root:
            raise PermissionError(13, "Read-only file system")
        real(path, obj)

    monkeypatch.setattr(fera.training.data, "write_json", refuse_in_root)
    assert write_label_map(ds, tmp_path / "out") == [tmp_path / "out" / "label_map.json"]
    assert not (root / "label_map.json").exists()


def test_eval_data_from_class_folder_and_root(demo_root):
    ds, split = load_eval_data(cfg(demo_root / "val"))
    assert split == "val" and len(ds.splits["val"]) == 16
    ds, split = load_eval_data(cfg(demo_root))
    assert split == "test"
