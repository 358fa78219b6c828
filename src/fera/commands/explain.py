"""`fera explain`: Grad-CAM for the faces of a photo (``fera.training.explain``)."""
from __future__ import annotations

EXAMPLES = [
    "fera explain --model fast --image src/fera/assets/samples/astronaut.png --out astronaut_gradcam.png",
    ("fera explain --model fast --image face.png --whole --class happy", "why (not) happy, for a face crop")]


def add_arguments(p) -> None:
    from fera.training.explain import CROP_AS_IS_MAX

    p.add_argument("--model", required=True, help="a shipped model name (see `fera models`), a .keras/.h5 file or "
                   "a run folder (Grad-CAM needs the Keras model, not an .onnx)")
    p.add_argument("--image", required=True, help="a photo (every face found is explained) or a face crop (an image of at "
                   f"most {CROP_AS_IS_MAX} px, used as it is)")
    p.add_argument("--out", help="the overlay PNG to write (several faces: _face1, _face2 ... are added; "
                   "default: IMAGE_gradcam.png here)")
    p.add_argument("--class", dest="class_name", help="explain this class instead of the predicted one")
    p.add_argument("--whole", action="store_true", help="take the whole image as one face crop, without detection")
    p.add_argument("--json", action="store_true", help="one JSON object per face")


def run(args) -> int:
    """Grad-CAM: a heatmap of where the model looked, for each face in a photo, with words for where it is."""
    import json

    from fera.errors import FeraError
    from fera.training.explain import explain_image

    if str(args.model).endswith(".onnx"):
        raise FeraError("Grad-CAM needs gradients: give a shipped name, a .keras/.h5 file or a run folder, not .onnx")
    for i, r in enumerate(explain_image(args.model, args.image, args.out, args.class_name, args.whole), start=1):
        if args.json:
            print(json.dumps(r.__dict__))
        else:
            where = f" ({r.position})" if r.position else ""
            also = "" if r.label == r.predicted else f"; the model's top class is {r.predicted}"
            print(f"face {i}{where}: {r.label} {r.probability:.0%}{also}; the heat is on {r.heat}; wrote {r.file}")
    return 0
