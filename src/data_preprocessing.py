"""The design's data smoke test, kept working verbatim: a thin wrapper around `fera data`.

    python src/data_preprocessing.py --data_root D --img_size 48,48 --batch_size 64
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run from a checkout without installing

from fera.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["data", *sys.argv[1:]]))
