"""`fera web build`: the page as a static site (``fera.web.site``)."""
from __future__ import annotations

from fera.commands.args import add_command, add_option
from fera.runtime.detect import DETECTORS
from fera.web.site import SiteConfig

EXAMPLES = [("fera web build site/", "the page as a static site: any static host serves it"),
            ("fera web build site/ --model vgg13 --no_webgpu", "another model; WebAssembly only")]


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="web_command", metavar="ACTION", required=True)
    add_command(sub, "build", build, _build_arguments, examples=[
        ("fera web build site/", "the page, its runtime and the shipped models; serve site/ from any static host"),
        ("fera web build site/ --model vgg13 --no_webgpu", "another model; WebAssembly only")])


def _build_arguments(b) -> None:
    b.add_argument("dir", metavar="DIR", help="the folder to write (new or empty; --overwrite replaces it)")
    add_option(b, "--model", (SiteConfig, "model"),
               help="shipped model name or .onnx file for the page (default {default})")
    b.add_argument("--no_int8", action="store_true", help="the fp32 file even when the model ships an int8 one")
    add_option(b, "--detector", (SiteConfig, "detector"), choices=DETECTORS, help="BlazeFace range (default {default})")
    b.add_argument("--no_webgpu", action="store_true", help="leave out the WebGPU runtime (WebAssembly only)")
    b.add_argument("--ort", metavar="DIR", help="onnxruntime-web's dist/ folder (default: node_modules)")
    b.add_argument("--overwrite", action="store_true", help="replace DIR if it is not empty")


def run(args) -> int:
    """Build the page as a static site: `fera web build DIR`."""
    return build(args)  # the one action (argparse gives ``build``'s own func when it is named)


def build(args) -> int:
    """Write the page as a static site into DIR (any static host serves it).

    Writes fera's page, its runtime (onnxruntime-web) and its models as a static site into DIR: the assistant
    runs in the browser, offline after the first load, and no frame leaves the device."""
    from dataclasses import replace

    from fera.commands.args import fill
    from fera.web.site import describe_size, make_site

    config = replace(fill(SiteConfig, args, skip=("int8", "webgpu"), ort_dir="ort"),
                     int8=False if args.no_int8 else None, webgpu=not args.no_webgpu)
    site = make_site(config)
    out = site.build(args.dir, overwrite=args.overwrite)
    print(f"fera: wrote the site to {out} ({len(site.files)} files, version {site.version})")
    print(f"fera: {describe_size(site)}")
    print(f"fera: try it with `python -m http.server -d {out} 8000` and open http://127.0.0.1:8000/ "
          "(a phone needs HTTPS: see README.md, fera on a phone)")
    return 0
