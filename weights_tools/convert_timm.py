#!/usr/bin/env python3
"""Convert timm Vision Transformer weights to a pomt .pomt file, in pure Python.

Sources:
  a timm model name        timm.create_model(NAME, pretrained=True)  (needs timm, torch, network)
  a hub folder             config.json + model.safetensors           (no dependencies)
  a .safetensors file      with --config config.json or --arch NAME  (no dependencies)
  a .pth / .bin state dict with --config or --arch                   (needs torch)

--image-size S converts for S x S inputs as timm's create_model(..., img_size=S) does: the position
embedding's patch rows are resampled as timm.layers.resample_abs_pos_embed does (PyTorch's
antialiased bicubic interpolate), here in pure Python with float32 arithmetic emulated term by term,
so the bytes equal `pomt convert --image-size S` (weights_tools/pos_embed_resample.h). For a timm
model name, timm itself resamples (create_model(NAME, pretrained=True, img_size=S)); PyTorch's kernel
may fuse multiply-adds, so that pos_embed can differ from the C++ one in the last bit.

The output is byte-identical to `pomt convert` (tests/test_convert.cpp checks it): the same
config resolution, tensor order, JSON header, 64-byte alignment and, in format version 2, the same
GEMM panel layout of the Linear weights (docs/FORMAT.md).
Errors print one line and exit with code 2, leaving no partial output file.
"""
import argparse
import array
import json
import math
import os
import re
import struct
import sys
import tempfile

FORMAT_VERSION = 2
MAGIC = b"POMTVIT\0"
ALIGN = 64
PANEL = 16  # kGemmPanel: Linear weights are stored as column panels of 16 floats (docs/FORMAT.md)

SIZES = {  # timm's VisionTransformer sizes: embed_dim, depth, num_heads
    "tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12),
    "large": (1024, 24, 16), "huge": (1280, 32, 16),
}
ARCH_RE = re.compile(r"^(vit|deit|deit3)_(tiny|small|base|large|huge)(_distilled)?_patch([0-9]+)_([0-9]+)$")
DROPOUT_ARGS = {"drop_rate", "attn_drop_rate", "proj_drop_rate", "drop_path_rate", "pos_drop_rate", "patch_drop_rate"}


class ConvertError(Exception):
    pass


def fail(msg):
    raise ConvertError(msg)


# ---------------------------------------------------------------- configuration (mirrors vit/config.cpp)

def config_for_architecture(full_name):
    name = full_name.split(".", 1)[0]
    m = ARCH_RE.match(name)
    if not m:
        fail("unknown architecture '%s': pomt knows timm's vit_/deit_/deit3_{tiny,small,base,large,huge}"
             "[_distilled]_patchP_IMG (give model_args in config.json for other dimensions)" % full_name)
    d, depth, heads = SIZES[m.group(2)]
    if m.group(3) and m.group(1) != "deit":
        fail("unknown architecture '%s': only deit_ has _distilled" % full_name)
    return {
        "architecture": full_name, "img_size": int(m.group(5)), "patch_size": int(m.group(4)), "in_chans": 3,
        "embed_dim": d, "depth": depth, "num_heads": heads, "mlp_hidden": d * 4, "num_classes": 1000,
        "qkv_bias": True, "class_token": True, "distilled": bool(m.group(3)), "reg_tokens": 0,
        "no_embed_class": m.group(1) == "deit3", "layer_scale": m.group(1) == "deit3", "pre_norm": False,
        "global_pool": "token", "fc_norm": False, "ln_eps": 1e-6,
    }


def int_field(v, what, lo, hi):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or float(v) != math.floor(float(v)):
        fail("%s must be an integer" % what)
    v = int(v)
    if v < lo or v > hi:
        fail("%s = %d is outside [%d, %d]" % (what, v, lo, hi))
    return v


def num_prefix(c):
    return (1 if c["class_token"] else 0) + (1 if c["distilled"] else 0) + c["reg_tokens"]


def validate(c):
    def bad(msg):
        fail("model config of '%s': %s" % (c["architecture"], msg))
    if not 0 < c["embed_dim"] <= 16384: bad("embed_dim must be in 1..16384")
    if not 0 < c["depth"] <= 256: bad("depth must be in 1..256")
    if c["num_heads"] <= 0 or c["embed_dim"] % c["num_heads"]: bad("embed_dim must be a multiple of num_heads")
    if not 0 < c["mlp_hidden"] <= 65536: bad("MLP hidden size must be in 1..65536")
    if c["patch_size"] <= 0 or c["img_size"] <= 0 or c["img_size"] % c["patch_size"]:
        bad("img_size must be a multiple of patch_size")
    if c["img_size"] > 4096: bad("img_size must be at most 4096")
    if c["in_chans"] != 3: bad("only 3 input channels are supported")
    if not 0 <= c["num_classes"] <= 100000: bad("num_classes must be in 0..100000")
    if not 0 <= c["reg_tokens"] <= 64: bad("reg_tokens must be in 0..64")
    if c["global_pool"] not in ("token", "avg"):
        bad("global_pool '%s' is not supported (token or avg)" % c["global_pool"])
    if c["global_pool"] == "token" and not c["class_token"]: bad("global_pool 'token' needs a class token")
    if c["distilled"] and (not c["class_token"] or c["global_pool"] != "token"):
        bad("distilled models pool the class token")


def default_preprocess(c):
    deit = c["architecture"].startswith("deit")
    p = {"input_size": [3, c["img_size"], c["img_size"]], "interpolation": "bicubic",
         "crop_pct": 1.0 if c["img_size"] >= 384 else (0.875 if deit else 0.9), "crop_mode": "center",
         "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    if not deit:
        p["mean"], p["std"] = [0.5] * 3, [0.5] * 3
    return p


def preprocess_from_json(v, what):
    if not isinstance(v, dict):
        fail("%s: preprocessing config is not an object" % what)
    p = {"input_size": [3, 224, 224], "interpolation": "bicubic", "crop_pct": 0.875, "crop_mode": "center",
         "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    for key in ("input_size", "mean", "std"):
        if key in v:
            arr = v[key]
            if not isinstance(arr, list) or len(arr) != 3:
                fail("%s: %s must have 3 entries" % (what, key))
            if key == "input_size":
                p[key] = [int_field(x, "%s: %s" % (what, key), 1, 4096) for x in arr]
            else:
                p[key] = [float(x) for x in arr]
                if key == "std" and not all(x > 0 for x in p[key]):
                    fail("%s: std must be positive" % what)
    if "interpolation" in v:
        p["interpolation"] = v["interpolation"]
    if p["interpolation"] not in ("bicubic", "bilinear", "nearest"):
        fail("%s: interpolation '%s' is not supported (bicubic, bilinear, nearest)" % (what, p["interpolation"]))
    if v.get("crop_pct") is not None:
        p["crop_pct"] = float(v["crop_pct"])
    if not 0 < p["crop_pct"] <= 4:
        fail("%s: crop_pct must be in (0, 4]" % what)
    if "crop_mode" in v:
        p["crop_mode"] = v["crop_mode"]
    if p["crop_mode"] != "center":
        fail("%s: crop_mode '%s' is not supported (center)" % (what, p["crop_mode"]))
    if p["input_size"][0] != 3:
        fail("%s: input_size must have 3 channels" % what)
    return p


def config_from_hub(hub, arch_override, what):
    if not isinstance(hub, dict):
        fail("%s: config.json is not a JSON object" % what)
    arch = arch_override or hub.get("architecture")
    if not arch:
        fail("%s: config.json has no 'architecture' (give --arch NAME)" % what)
    c = config_for_architecture(arch)
    if "num_classes" in hub:
        c["num_classes"] = int_field(hub["num_classes"], what + ": num_classes", 0, 100000)
    if isinstance(hub.get("global_pool"), str):
        c["global_pool"] = hub["global_pool"]
    mlp_ratio, fc_norm_given = None, False
    for k, val in (hub.get("model_args") or {}).items():
        w = "%s: model_args.%s" % (what, k)
        if k in ("embed_dim",): c[k] = int_field(val, w, 1, 16384)
        elif k == "depth": c[k] = int_field(val, w, 1, 256)
        elif k == "num_heads": c[k] = int_field(val, w, 1, 16384)
        elif k == "mlp_ratio": mlp_ratio = float(val)
        elif k in ("patch_size", "img_size"): c[k] = int_field(val, w, 1, 4096)
        elif k == "in_chans": c[k] = int_field(val, w, 1, 4)
        elif k == "num_classes": c[k] = int_field(val, w, 0, 100000)
        elif k in ("qkv_bias", "class_token", "no_embed_class", "pre_norm"): c[k] = bool(val)
        elif k == "reg_tokens": c[k] = int_field(val, w, 0, 64)
        elif k == "global_pool": c[k] = val
        elif k == "init_values": c["layer_scale"] = val is not None and float(val) != 0.0
        elif k == "fc_norm":
            if val is not None:
                c["fc_norm"], fc_norm_given = bool(val), True
        elif k in DROPOUT_ARGS: pass
        else: fail("%s: model_args.%s is not supported by pomt" % (what, k))
    if mlp_ratio is not None:
        if not 0 < mlp_ratio <= 64:
            fail("%s: model_args.mlp_ratio must be in (0, 64]" % what)
        c["mlp_hidden"] = int(c["embed_dim"] * mlp_ratio)
    else:
        c["mlp_hidden"] = c["embed_dim"] * 4
    if not fc_norm_given:
        c["fc_norm"] = c["global_pool"] == "avg"
    validate(c)
    p = default_preprocess(c)
    if "pretrained_cfg" in hub:
        p = preprocess_from_json(hub["pretrained_cfg"], what + ": pretrained_cfg")
    if p["input_size"][1] != c["img_size"] or p["input_size"][2] != c["img_size"]:
        fail("%s: pretrained_cfg input_size %dx%d does not match the model's img_size %d"
             % (what, p["input_size"][1], p["input_size"][2], c["img_size"]))
    return c, p


def expected_tensors(c):
    """(name, shape, linear) in vit/config.cpp's order; linear = a Linear weight, stored in panels."""
    D, H, P = c["embed_dim"], c["mlp_hidden"], c["patch_size"]
    t = []
    if c["class_token"]: t.append(("cls_token", [1, 1, D], False))
    if c["distilled"]: t.append(("dist_token", [1, 1, D], False))
    if c["reg_tokens"]: t.append(("reg_token", [1, c["reg_tokens"], D], False))
    grid = c["img_size"] // P
    pos_len = grid * grid + (0 if c["no_embed_class"] else num_prefix(c))
    t.append(("pos_embed", [1, pos_len, D], False))
    t.append(("patch_embed.proj.weight", [D, c["in_chans"], P, P], True))
    if not c["pre_norm"]:
        t.append(("patch_embed.proj.bias", [D], False))
    else:
        t += [("norm_pre.weight", [D], False), ("norm_pre.bias", [D], False)]
    for i in range(c["depth"]):
        b = "blocks.%d." % i
        t += [(b + "norm1.weight", [D], False), (b + "norm1.bias", [D], False), (b + "attn.qkv.weight", [3 * D, D], True)]
        if c["qkv_bias"]: t.append((b + "attn.qkv.bias", [3 * D], False))
        t += [(b + "attn.proj.weight", [D, D], True), (b + "attn.proj.bias", [D], False)]
        if c["layer_scale"]: t.append((b + "ls1.gamma", [D], False))
        t += [(b + "norm2.weight", [D], False), (b + "norm2.bias", [D], False), (b + "mlp.fc1.weight", [H, D], True),
              (b + "mlp.fc1.bias", [H], False), (b + "mlp.fc2.weight", [D, H], True), (b + "mlp.fc2.bias", [D], False)]
        if c["layer_scale"]: t.append((b + "ls2.gamma", [D], False))
    final = "fc_norm" if c["fc_norm"] else "norm"
    t += [(final + ".weight", [D], False), (final + ".bias", [D], False)]
    if c["global_pool"] == "map":  # timm's AttentionPoolLatent (read by profiler/onnx_export.py)
        t += [("attn_pool.latent", [1, 1, D], False), ("attn_pool.q.weight", [D, D], True), ("attn_pool.q.bias", [D], False),
              ("attn_pool.kv.weight", [2 * D, D], True), ("attn_pool.kv.bias", [2 * D], False),
              ("attn_pool.proj.weight", [D, D], True), ("attn_pool.proj.bias", [D], False),
              ("attn_pool.norm.weight", [D], False), ("attn_pool.norm.bias", [D], False),
              ("attn_pool.mlp.fc1.weight", [H, D], True), ("attn_pool.mlp.fc1.bias", [H], False),
              ("attn_pool.mlp.fc2.weight", [D, H], True), ("attn_pool.mlp.fc2.bias", [D], False)]
    if c["num_classes"] > 0:
        t += [("head.weight", [c["num_classes"], D], True), ("head.bias", [c["num_classes"]], False)]
        if c["distilled"]:
            t += [("head_dist.weight", [c["num_classes"], D], True), ("head_dist.bias", [c["num_classes"]], False)]
    return t


# ---------------------------------------------------------------- another image size (mirrors weights_tools/pos_embed_resample.cpp)

def set_image_size(size, c, p):
    if not 0 < size <= 4096:
        fail("--image-size %d must be between 1 and 4096 pixels" % size)
    if size % c["patch_size"]:
        fail("--image-size %d is not a multiple of the patch size %d of %s" % (size, c["patch_size"], c["architecture"]))
    c["img_size"] = size
    validate(c)
    p["input_size"] = [3, size, size]


def _f32(x):
    """x rounded to float32: after every +, -, *, / of float32 values computed in double, this is
    the float32 operation's result (double has more than 2 x 24 + 2 bits)."""
    return struct.unpack("f", struct.pack("f", x))[0]


def _keys_cubic_f32(x):
    """ATen's HelperInterpCubic::aa_filter<float> (a = -0.5), one float32 rounding per operation."""
    x = abs(x)
    if x < 1.0:  # ((a + 2) x - (a + 3)) x x + 1
        return _f32(_f32(_f32(_f32(_f32(1.5 * x) - 2.5) * x) * x) + 1.0)
    if x < 2.0:  # ((a x - 5a) x + 8a) x - 4a
        return _f32(_f32(_f32(_f32(_f32(_f32(-0.5 * x) + 2.5) * x) - 4.0) * x) + 2.0)
    return 0.0


def aa_bicubic_axis(n_in, n_out):
    """Per output index (first input, weights): ATen's _compute_indices_min_size_weights_aa for float."""
    scale = _f32(n_in / n_out)
    support = _f32(2.0 * scale) if scale >= 1.0 else 2.0
    max_taps = int(math.ceil(support)) * 2 + 1
    invscale = _f32(1.0 / scale) if scale >= 1.0 else 1.0
    axis = []
    for i in range(n_out):
        center = _f32(scale * (i + 0.5))
        xmin = max(int(_f32(center - support) + 0.5), 0)
        xsize = min(max(min(int(_f32(center + support) + 0.5), n_in) - xmin, 0), max_taps)
        w = [_keys_cubic_f32(_f32((_f32(float(j + xmin) - center) + 0.5) * invscale)) for j in range(xsize)]
        total = 0.0
        for v in w:
            total = _f32(total + v)
        if total != 0.0:
            w = [_f32(v / total) for v in w]
        axis.append((xmin, w))
    return axis


def _weighted_rows(rows, w, dim):
    """sum_j rows[j] * w[j] in float32, from j = 0 (array("f") rounds each product and each sum)."""
    if not w:
        return array.array("f", bytes(4 * dim))
    acc = array.array("f", [x * w[0] for x in rows[0]])
    for row, wj in zip(rows[1:], w[1:]):
        prod = array.array("f", [x * wj for x in row])
        acc = array.array("f", [a + b for a, b in zip(acc, prod)])
    return acc


def resample_pos_embed(values, prefix, old_grid, new_grid, dim):
    """Prefix rows kept, the old_grid x old_grid patch rows resized to new_grid x new_grid: width first."""
    if old_grid == new_grid:
        return values
    ax = aa_bicubic_axis(old_grid, new_grid)

    def patch(i):
        return values[(prefix + i) * dim:(prefix + i + 1) * dim]

    wide = [_weighted_rows([patch(r * old_grid + first + j) for j in range(len(w))], w, dim)
            for r in range(old_grid) for first, w in ax]
    out = array.array("f", values[:prefix * dim])
    for first, w in ax:
        for c in range(new_grid):
            out.extend(_weighted_rows([wide[(first + j) * new_grid + c] for j in range(len(w))], w, dim))
    return out


# ---------------------------------------------------------------- the panel layout (mirrors kernels/panels.cpp)

def panel_floats(shape):
    """Stored size of a Linear weight [n, ...] viewed as [n x k]: ceil(n/16) panels of k x 16 floats."""
    n, k = shape[0], math.prod(shape[1:])
    return -(-n // PANEL) * k * PANEL


def pack_panels(values, shape):
    """Row-major [n x k] -> panel p = columns [16p, 16p+16) as k rows of 16 floats, zero past n."""
    n = shape[0]
    k = len(values) // n if n else 0
    padded = -(-n // PANEL) * PANEL
    zeros = array.array("f", bytes(4 * (padded - n)))
    columns = []  # column kk of W^T = input feature kk of every output, padded to whole panels
    for kk in range(k):
        col = values[kk::k]
        col.extend(zeros)
        columns.append(col)
    out = array.array("f")
    for p in range(0, padded, PANEL):
        for col in columns:
            out.extend(col[p:p + PANEL])
    return out


# ---------------------------------------------------------------- JSON exactly as core/json.cpp writes it

def format_number(d):
    if isinstance(d, bool):
        raise TypeError("bool is not a number")
    d = float(d)
    if not math.isfinite(d):
        fail("cannot write a non-finite number to JSON")
    if d == math.floor(d) and abs(d) < 9007199254740992.0:
        return "%d" % int(d)
    for p in range(1, 18):
        s = "%.*g" % (p, d)
        if float(s) == d:
            return s
    return s


def dump_string(s):
    out = ['"']
    for ch in s:
        if ch == '"': out.append('\\"')
        elif ch == "\\": out.append("\\\\")
        elif ch == "\n": out.append("\\n")
        elif ch == "\r": out.append("\\r")
        elif ch == "\t": out.append("\\t")
        elif ord(ch) < 0x20: out.append("\\u%04x" % ord(ch))
        else: out.append(ch)
    out.append('"')
    return "".join(out)


def dump(v):
    if v is None: return "null"
    if v is True: return "true"
    if v is False: return "false"
    if isinstance(v, (int, float)): return format_number(v)
    if isinstance(v, str): return dump_string(v)
    if isinstance(v, list): return "[" + ",".join(dump(e) for e in v) + "]"
    if isinstance(v, dict): return "{" + ",".join(dump_string(k) + ":" + dump(e) for k, e in v.items()) + "}"
    raise TypeError(type(v))


MODEL_KEYS = ["architecture", "img_size", "patch_size", "in_chans", "embed_dim", "depth", "num_heads", "mlp_hidden",
              "num_classes", "qkv_bias", "class_token", "distilled", "reg_tokens", "no_embed_class", "layer_scale",
              "pre_norm", "global_pool", "fc_norm", "ln_eps"]
PRE_KEYS = ["input_size", "interpolation", "crop_pct", "crop_mode", "mean", "std"]


def align_up(x):
    return (x + ALIGN - 1) // ALIGN * ALIGN


def header_json(c, p, class_names):
    tensors, offset = [], 0
    for name, shape, linear in expected_tensors(c):
        entry = {"name": name, "dtype": "f32", "shape": shape}
        if linear:
            entry["layout"] = "panels16"
        nbytes = 4 * (panel_floats(shape) if linear else math.prod(shape))
        entry["offset"], entry["nbytes"] = offset, nbytes
        tensors.append(entry)
        offset = align_up(offset + nbytes)
    h = {"format": "pomt", "version": FORMAT_VERSION, "model": {k: c[k] for k in MODEL_KEYS},
         "preprocess": {k: p[k] for k in PRE_KEYS}, "class_names": class_names, "tensors": tensors}
    return dump(h).encode("utf-8")


def imagenet_class_names():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "imagenet_classes.txt")
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split(" ", 1)[1] for line in f if line.strip()]


# ---------------------------------------------------------------- tensor sources

def half_to_f32(raw):
    return array.array("f", struct.unpack("<%de" % (len(raw) // 2), raw))


def bf16_to_f32(raw):
    halves = array.array("H", raw)
    if sys.byteorder != "little":
        halves.byteswap()
    words = array.array("I", (h << 16 for h in halves))
    return array.array("f", words.tobytes())


class SafetensorsSource:
    """Reads a .safetensors file with the standard library only."""

    def __init__(self, path):
        self.path = path
        if os.path.isdir(path):
            fail("'%s' is a directory, expected a file" % path)
        try:
            self.f = open(path, "rb")
        except OSError as e:
            fail("safetensors file '%s': %s" % (path, e.strerror))
        size = os.fstat(self.f.fileno()).st_size
        head = self.f.read(8)
        if len(head) < 8:
            fail("'%s': too short to be a safetensors file" % path)
        (n,) = struct.unpack("<Q", head)
        if n > (100 << 20):
            fail("'%s': safetensors header of %d bytes is larger than the format's 100 MB limit" % (path, n))
        if n > size - 8:
            fail("'%s': safetensors header runs past the end of the file" % path)
        try:
            header = json.loads(self.f.read(n).decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            fail("'%s': malformed safetensors header: %s" % (path, e))
        if not isinstance(header, dict):
            fail("'%s': safetensors header is not a JSON object" % path)
        self.data_start, data_size = 8 + n, size - 8 - n
        self.tensors = {}
        sizes = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
        for name, t in header.items():
            if name == "__metadata__":
                continue
            if not isinstance(t, dict) or not {"dtype", "shape", "data_offsets"} <= t.keys():
                fail("'%s': tensor '%s' lacks dtype, shape or data_offsets" % (path, name))
            b, e = t["data_offsets"]
            if t["dtype"] not in sizes:
                fail("'%s': tensor '%s' has unknown dtype '%s'" % (path, name, t["dtype"]))
            if not 0 <= b <= e <= data_size:
                fail("'%s': tensor '%s' data runs past the end of the file" % (path, name))
            if e - b != math.prod(t["shape"]) * sizes[t["dtype"]]:
                fail("'%s': tensor '%s' size does not match its shape" % (path, name))
            self.tensors[name] = (t["dtype"], list(t["shape"]), b, e)

    def names(self):
        return list(self.tensors)

    def shape(self, name):
        return self.tensors[name][1]

    def dtype(self, name):
        return self.tensors[name][0]

    def read_f32(self, name):
        dtype, _, b, e = self.tensors[name]
        self.f.seek(self.data_start + b)
        raw = self.f.read(e - b)
        if dtype == "F32":
            a = array.array("f")
            a.frombytes(raw)
            if sys.byteorder != "little":
                a.byteswap()
            return a
        if dtype == "F16":
            return half_to_f32(raw)
        if dtype == "BF16":
            return bf16_to_f32(raw)
        fail("tensor '%s' has dtype %s (F32, F16 or BF16 needed)" % (name, dtype))


class StateDictSource:
    """A PyTorch state dict (timm model or .pth/.bin file); needs torch."""

    def __init__(self, state_dict, label):
        self.sd, self.path = state_dict, label

    def names(self):
        return list(self.sd)

    def shape(self, name):
        return list(self.sd[name].shape)

    def dtype(self, name):
        return {"torch.float32": "F32", "torch.float16": "F16", "torch.bfloat16": "BF16"}.get(str(self.sd[name].dtype), str(self.sd[name].dtype))

    def read_f32(self, name):
        import torch
        t = self.sd[name].detach().to(torch.float32).contiguous().cpu()
        return array.array("f", t.flatten().tolist())


def load_torch_state_dict(path):
    try:
        import torch
    except ImportError:
        fail("reading '%s' needs PyTorch (pip install torch), or convert a .safetensors instead" % path)
    obj = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "state_dict_ema"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}


def timm_source(name, image_size=None):
    try:
        import timm
    except ImportError:
        fail("'%s' is not a file or folder; converting a timm model name needs timm (pip install timm)" % name)
    # At another size timm resamples pos_embed itself (checkpoint_filter_fn); the hub entry then
    # carries that img_size and input_size, like a hub folder whose model_args set img_size.
    model = timm.create_model(name, pretrained=True, **({"img_size": image_size} if image_size else {}))
    cfg = dict(model.pretrained_cfg)
    hub = {"architecture": name, "num_classes": model.num_classes, "global_pool": getattr(model, "global_pool", "token"),
           "pretrained_cfg": {k: cfg[k] for k in ("input_size", "interpolation", "crop_pct", "crop_mode", "mean", "std") if k in cfg}}
    if image_size:
        hub["model_args"] = {"img_size": image_size}
        hub["pretrained_cfg"]["input_size"] = [3, image_size, image_size]
    return StateDictSource(model.state_dict(), name), hub


# ---------------------------------------------------------------- conversion

def convert(source, hub, arch, output, config_label, image_size=None):
    c, p = config_from_hub(hub, arch, config_label)
    trained = dict(c)  # the checkpoint's shapes
    if image_size:
        set_image_size(image_size, c, p)
    class_names = []
    if isinstance(hub.get("label_names"), list):
        class_names = [str(x) for x in hub["label_names"]]
        if len(class_names) != c["num_classes"]:
            class_names = []
    if not class_names and c["num_classes"] == 1000:
        class_names = imagenet_class_names()
    wanted = set()
    for name, shape, _ in expected_tensors(trained):
        wanted.add(name)
        if name not in source.names():
            fail("'%s': tensor '%s' is missing for %s" % (source.path, name, c["architecture"]))
        if source.shape(name) != shape:
            fail("'%s': tensor '%s' has shape %s, %s needs %s" % (source.path, name, source.shape(name), c["architecture"], shape))
        if source.dtype(name) not in ("F32", "F16", "BF16"):
            fail("'%s': tensor '%s' has dtype %s (F32, F16 or BF16 needed)" % (source.path, name, source.dtype(name)))
    for name in source.names():
        if name not in wanted:
            fail("'%s': unexpected tensor '%s' (not part of %s; wrong architecture or model_args?)" % (source.path, name, c["architecture"]))

    specs = expected_tensors(c)
    header = header_json(c, p, class_names)
    pre = MAGIC + struct.pack("<IIQ", FORMAT_VERSION, 0, len(header))
    head = pre + header
    head += b"\0" * (align_up(len(head)) - len(head))
    out_dir = os.path.dirname(os.path.abspath(output))
    if os.path.isdir(output):
        fail("output '%s' is a directory" % output)
    try:
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=os.path.basename(output) + ".tmp.")
    except OSError as e:
        fail("cannot write output '%s': %s" % (output, e.strerror))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(head)
            written = 0
            for name, shape, linear in specs:
                if written % ALIGN:
                    pad = ALIGN - written % ALIGN
                    f.write(b"\0" * pad)
                    written += pad
                values = source.read_f32(name)
                if name == "pos_embed" and c["img_size"] != trained["img_size"]:
                    prefix = 0 if c["no_embed_class"] else num_prefix(c)
                    values = resample_pos_embed(values, prefix, trained["img_size"] // c["patch_size"],
                                                c["img_size"] // c["patch_size"], c["embed_dim"])
                if linear:
                    values = pack_panels(values, shape)
                if sys.byteorder != "little":
                    values.byteswap()
                f.write(values.tobytes())
                written += 4 * len(values)
        os.chmod(tmp, 0o644)
        os.replace(tmp, output)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return c, len(specs), sum(math.prod(s) for _, s, _ in expected_tensors(trained)), len(class_names)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="timm model name, hub folder, .safetensors, or .pth/.bin")
    ap.add_argument("-o", "--output", required=True, help="the .pomt file to write")
    ap.add_argument("--config", help="config.json for a bare weights file")
    ap.add_argument("--arch", help="timm architecture name (overrides config.json's)")
    ap.add_argument("--image-size", help="convert for S x S inputs (pos_embed resampled as timm's img_size=S)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    try:
        image_size = None
        if args.image_size is not None:
            try:
                image_size = int(args.image_size)
            except ValueError:
                fail("--image-size must be an integer, got '%s'" % args.image_size)
            if not 0 < image_size <= 4096:
                fail("--image-size must be between 1 and 4096, got %s" % args.image_size)
        src = args.source
        config_path = args.config
        if os.path.isdir(src):
            weights = os.path.join(src, "model.safetensors")
            if not os.path.isfile(weights):
                fail("hub folder weights '%s': No such file or directory" % weights)
            config_path = config_path or os.path.join(src, "config.json")
            source = SafetensorsSource(weights)
        elif os.path.exists(src):
            source = load_state_dict_source(src)
        else:
            if config_path or args.arch:
                fail("'%s': No such file or directory" % src)
            source, hub = timm_source(src, image_size)
            image_size = None  # timm resampled it
            config_path = None
        if os.path.exists(src) or os.path.isdir(src):
            if config_path:
                try:
                    with open(config_path, encoding="utf-8") as f:
                        hub = json.load(f)
                except OSError as e:
                    fail("config file '%s': %s" % (config_path, e.strerror))
                except ValueError as e:
                    fail("'%s': malformed JSON: %s" % (config_path, e))
            elif args.arch:
                hub = {}
            else:
                fail("'%s' is a bare weights file: give --config config.json or --arch NAME" % src)
        label = "'%s'" % config_path if config_path else ("--arch" if args.arch else src)
        c, n, params, names = convert(source, hub, args.arch, args.output, label, image_size)
        if not args.quiet:
            print("wrote %s: %s, %d tensors, %.2f M parameters, %d class names" % (args.output, c["architecture"], n, params / 1e6, names))
        return 0
    except ConvertError as e:
        print("convert_timm.py: error: %s" % e, file=sys.stderr)
        return 2


def load_state_dict_source(path):
    if path.endswith(".safetensors"):
        return SafetensorsSource(path)
    if path.endswith((".pth", ".bin", ".pt")):
        return StateDictSource(load_torch_state_dict(path), path)
    return SafetensorsSource(path)


if __name__ == "__main__":
    sys.exit(main())
