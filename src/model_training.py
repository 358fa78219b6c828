"""The design's training command, kept working verbatim: a thin wrapper around `fera train`.

    python src/model_training.py --data_root D --out_dir O --epochs 20 --img_size 48,48 \
        --batch_size 64 --lr 1e-3 --l2 1e-4 --dropout 0.5
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run from a checkout without installing

from fera.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
