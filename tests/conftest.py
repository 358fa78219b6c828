"""Shared fixtures: tiny datasets made on the fly; nothing here needs ../shared or a GPU."""
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from fera.demo import build_demo_dataset  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FER2013 = SHARED / "datasets" / "fer2013"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own decoded-data cache, never the user's ~/.cache."""
    monkeypatch.setenv("FERA_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    """A tiny FER-style tree: train 12, val 4, test 4 images for each of 4 expressions."""
    return build_demo_dataset(tmp_path_factory.mktemp("demo") / "data",
                              per_class={"train": 12, "val": 4, "test": 4}, seed=1)


def make_tree(root: Path, spec: dict[str, dict[str, int]], size=(48, 48), seed=0) -> Path:
    """Write random grayscale PNGs: spec = {split: {class: count}}."""
    rng = np.random.default_rng(seed)
    for split, classes in spec.items():
        for c, n in classes.items():
            d = root / split / c
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, size, dtype=np.uint8)).save(d / f"{c}_{i}.png")
    return root
