"""`python -m fera.commands.demo [DEST]` (make demo-train): write the tiny drawn dataset the training demo
learns from."""
from __future__ import annotations

import argparse

from fera.demo import build_demo_dataset


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m fera.commands.demo", description=build_demo_dataset.__doc__)
    ap.add_argument("dest", nargs="?", default="demo/out/data", help="folder to create (default demo/out/data)")
    print(build_demo_dataset(ap.parse_args(argv).dest))


if __name__ == "__main__":
    main()
