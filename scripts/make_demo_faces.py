"""Draw the tiny synthetic 'faces' that fera's demo and tests train on (run once; outputs are committed).

They are line drawings, not photos of people: one per expression and face shape, 48x48 grayscale.
Usage: python scripts/make_demo_faces.py src/fera/assets/demo_faces
"""
import sys
from pathlib import Path

from PIL import Image, ImageDraw

S = 192  # drawn large, then reduced to 48x48 for smooth edges


def face(expression: str, shape: int) -> Image.Image:
    im = Image.new("L", (S, S), 70)
    d = ImageDraw.Draw(im)
    w = (120, 136, 110)[shape]
    h = (150, 150, 160)[shape]
    d.ellipse([(S - w) // 2, (S - h) // 2, (S + w) // 2, (S + h) // 2], fill=190)
    ey = 78 + 4 * shape
    for ex in (S // 2 - 24, S // 2 + 24):
        r = 10 if expression == "surprise" else 7
        d.ellipse([ex - r, ey - r, ex + r, ey + r], fill=30)
        brow = ey - (26 if expression == "surprise" else 16)
        tilt = {"sad": 6, "angry": -6}.get(expression, 0)
        sign = 1 if ex < S // 2 else -1
        d.line([ex - 14, brow + sign * tilt, ex + 14, brow - sign * tilt], fill=40, width=4)
    my = 128 + 3 * shape
    if expression == "happy":
        d.arc([S // 2 - 32, my - 30, S // 2 + 32, my + 14], 20, 160, fill=20, width=6)
    elif expression == "sad":
        d.arc([S // 2 - 30, my - 4, S // 2 + 30, my + 34], 200, 340, fill=20, width=6)
    elif expression == "surprise":
        d.ellipse([S // 2 - 14, my - 14, S // 2 + 14, my + 20], fill=20)
    else:  # neutral
        d.line([S // 2 - 26, my, S // 2 + 26, my], fill=20, width=6)
    return im.resize((48, 48), Image.Resampling.LANCZOS)


def main(out: Path) -> None:
    for expression in ("happy", "neutral", "sad", "surprise"):
        for shape in range(3):
            path = out / f"{expression}_{shape}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            face(expression, shape).save(path, optimize=True)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "src/fera/assets/demo_faces"))
