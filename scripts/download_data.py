"""The design's dataset download helper: a thin wrapper around `fera data get` (see data/README.md).

    python scripts/download_data.py --to data/fer2013                  # Kaggle (needs credentials)
    python scripts/download_data.py --file fer2013.csv --to data/fer2013
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout without installing

from fera.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["data", "get", *sys.argv[1:]]))
