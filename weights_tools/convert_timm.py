#!/usr/bin/env python3
"""Convert timm Vision Transformer weights to a .pomt file: a front end to pomt's own converter.

    python3 weights_tools/convert_timm.py SOURCE -o model.pomt [--config config.json] [--arch NAME]
                                          [--image-size S] [--pomt PATH] [--quiet]

SOURCE is one of
  a hub folder            config.json + model.safetensors, as `pomt convert` takes it
  a .safetensors file     with --config config.json or --arch NAME, as `pomt convert` takes it
  a .pth / .pt / .bin     a PyTorch state dict, with --config or --arch          (needs torch)
  a timm model name       timm.create_model(NAME, pretrained=True)   (needs timm, torch, network)

The .pomt file is written by pomt's one writer (weights_tools/convert.cpp, docs/FORMAT.md): the
`pomt` package's pomt.convert when it can be imported (pip install .), else the pomt binary given by
--pomt PATH, else build/pomt of this checkout, else `pomt` on PATH. A hub folder or a .safetensors
file goes to it as it is. A state dict or a timm model is first written as a hub folder in a
temporary folder (model.safetensors holding float32 tensors, and config.json: the --config file,
or for a timm model the config of its hub entry), so the output is the file `pomt convert` writes
from that folder. --image-size S converts for S x S inputs: pomt resamples the position embedding
as timm's create_model(..., img_size=S) does.

Needs Python 3.8+ and pomt (the package or a binary); torch for a state dict, timm for a name.
Errors print one line and exit with code 2, leaving no output file.
"""
import argparse
import array
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE_DICT_SUFFIXES = (".pth", ".pt", ".bin")


class ConvertError(Exception):
    pass


def fail(msg):
    raise ConvertError(msg)


def one_line(e):
    return " ".join(str(e).split()) or type(e).__name__


# ---- the sources pomt does not read itself, as tensors to write into a hub folder

def load_state_dict(path):
    try:
        import torch
    except ImportError:
        fail("reading '%s' needs PyTorch (pip install torch), or convert a .safetensors instead" % path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # whatever torch raises for a file it cannot read
        fail("'%s' is not a PyTorch state dict: %s" % (path, one_line(e)))
    for key in ("state_dict", "model", "state_dict_ema"):  # a training checkpoint around it
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        fail("'%s' holds a %s, not a state dict" % (path, type(obj).__name__))
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}  # DataParallel's prefix


def timm_model(name):
    """(state dict, hub config.json) of timm.create_model(name, pretrained=True)."""
    try:
        import timm
    except ImportError:
        fail("'%s' is not a file or folder; converting a timm model name needs timm (pip install timm)" % name)
    try:
        model = timm.create_model(name, pretrained=True)
    except Exception as e:  # unknown name, no network, ...
        fail("timm.create_model('%s', pretrained=True): %s" % (name, one_line(e)))
    cfg = dict(model.pretrained_cfg)
    keep = ("input_size", "interpolation", "crop_pct", "crop_mode", "mean", "std")
    hub = {"architecture": name, "num_classes": model.num_classes, "global_pool": getattr(model, "global_pool", "token"),
           "pretrained_cfg": {k: cfg[k] for k in keep if k in cfg}}
    return model.state_dict(), hub


def float32_bytes(tensor):
    """A torch tensor as little-endian float32 bytes (exact from float16 and bfloat16)."""
    import torch
    t = tensor.detach().to(torch.float32).contiguous().cpu()
    try:
        return t.numpy().astype("<f4", copy=False).tobytes()
    except RuntimeError:  # a torch without numpy
        a = array.array("f", t.flatten().tolist())
        if sys.byteorder != "little":
            a.byteswap()
        return a.tobytes()


def state_dict_tensors(state_dict, label):
    """[(name, shape, bytes of float32 values)] of a state dict's floating-point tensors."""
    out = []
    for name, t in state_dict.items():
        dtype = str(getattr(t, "dtype", type(t).__name__))
        if dtype not in ("torch.float32", "torch.float16", "torch.bfloat16"):
            fail("'%s': tensor '%s' has dtype %s (F32, F16 or BF16 needed)" % (label, name, dtype))
        out.append((name, list(t.shape), lambda t=t: float32_bytes(t)))
    return out


def write_safetensors(path, tensors):
    """A .safetensors file of F32 tensors, one at a time: tensors is [(name, shape, bytes function)]."""
    header, offset = {}, 0
    for name, shape, _ in tensors:
        nbytes = 4 * math.prod(shape)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data 8-byte aligned, as safetensors' own writer pads
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name, shape, data in tensors:
            f.write(data())


# ---- pomt's writer: the package, or a binary

def find_pomt(binary):
    """(the pomt module, None) or (None, a pomt binary)."""
    if binary:
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            fail("--pomt '%s' is not an executable file" % binary)
        return None, binary
    try:
        import pomt
        return pomt, None
    except ImportError:
        pass
    for candidate in (os.path.join(CHECKOUT, "build", "pomt"), shutil.which("pomt")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return None, candidate
    fail("no pomt to write the .pomt file: install the package (pip install .), build the binary (make) "
         "or give --pomt PATH")


def pomt_convert(module, binary, src, out, config, arch, image_size, quiet):
    if module:
        try:
            r = module.convert(src, out, arch=arch, config=config, image_size=image_size)
        except module.Error as e:
            fail(str(e))
        if not quiet:
            print("wrote %s: %s, %d tensors, %.2f M parameters, %d class names"
                  % (out, r.architecture, r.tensors, r.parameters / 1e6, r.class_names))
        return
    cmd = [binary, "convert", src, "-o", out] + (["--config", config] if config else []) + \
        (["--arch", arch] if arch else []) + (["--image-size", str(image_size)] if image_size else []) + \
        (["--quiet"] if quiet else [])
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if p.returncode != 0:
        lines = p.stderr.strip().splitlines()
        fail(re.sub(r"^pomt( convert)?: error: ", "", lines[-1]) if lines else
             "%s convert failed with exit code %d" % (binary, p.returncode))
    print(p.stdout, end="")


# ---- command line

class OneLineParser(argparse.ArgumentParser):
    def error(self, message):  # usage errors too: one line, exit 2
        self.exit(2, "convert_timm.py: error: %s\n" % message)


def convert(args, work):
    """Converts args.source into args.output; `work` is an empty temporary folder."""
    src, config, image_size = args.source, args.config, None
    if args.image_size is not None:
        try:
            image_size = int(args.image_size)
        except ValueError:
            fail("--image-size must be an integer, got '%s'" % args.image_size)
    module, binary = find_pomt(args.pomt)
    if os.path.isfile(src) and src.endswith(STATE_DICT_SUFFIXES):
        if not (config or args.arch):
            fail("'%s' is a bare weights file: give --config config.json or --arch NAME" % src)
        write_safetensors(os.path.join(work, "model.safetensors"), state_dict_tensors(load_state_dict(src), src))
        src = os.path.join(work, "model.safetensors")
    elif not os.path.exists(src):
        if config or args.arch or src.endswith(STATE_DICT_SUFFIXES + (".safetensors",)):
            fail("'%s': No such file or directory" % src)
        state_dict, hub = timm_model(src)
        write_safetensors(os.path.join(work, "model.safetensors"), state_dict_tensors(state_dict, src))
        with open(os.path.join(work, "config.json"), "w", encoding="utf-8") as f:
            json.dump(hub, f)
        src = work
    pomt_convert(module, binary, src, args.output, config, args.arch, image_size, args.quiet)


def main(argv=None):
    ap = OneLineParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="hub folder, .safetensors, .pth/.pt/.bin state dict, or timm model name")
    ap.add_argument("-o", "--output", required=True, help="the .pomt file to write")
    ap.add_argument("--config", help="config.json for a bare weights file")
    ap.add_argument("--arch", help="timm architecture name (overrides config.json's)")
    ap.add_argument("--image-size", metavar="S", help="convert for S x S inputs (pos_embed resampled as timm's img_size=S)")
    ap.add_argument("--pomt", metavar="PATH", help="the pomt binary to write with (default: the pomt package, "
                    "else build/pomt, else pomt on PATH)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="convert_timm-") as work:
        try:
            convert(args, work)
        except (ConvertError, OSError) as e:  # OSError: writing the temporary hub folder
            # The temporary hub folder stands for the source in pomt's messages.
            msg = str(e).replace(os.path.join(work, "model.safetensors"), args.source).replace(work, args.source)
            print("convert_timm.py: error: %s" % one_line(msg), file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
