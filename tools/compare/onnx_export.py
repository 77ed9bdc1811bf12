#!/usr/bin/env python3
"""Build a timm-faithful ONNX graph of a .pomt model, without PyTorch.

    pip install . onnx numpy        # the pomt package reads the .pomt; onnxruntime too, to run the graph
    python3 tools/compare/onnx_export.py model.pomt -o model.onnx

PyTorch's CPU wheels are not on PyPI (the PyPI wheel brings the whole CUDA stack), so instead of
`torch.onnx.export(timm.create_model(...))` this writes, with the `onnx` helper API, the graph that
export produces for timm's VisionTransformer at batch 1 and opset 17:

  Conv patch embedding (or --patch-embed matmul: unfold + MatMul), Reshape + Transpose to tokens,
  Concat of class / distillation / register tokens, Add position embedding (before or after the
  concat: `no_embed_class`), optional norm_pre; per block: LayerNormalization, MatMul + Add (qkv),
  Reshape / Transpose / Gather into q, k, v per head, q·scale, MatMul(q, kᵀ), Softmax(-1),
  MatMul(·, v), Transpose + Reshape, MatMul + Add (proj), LayerScale Mul, residual Add;
  LayerNormalization, MatMul + Add (fc1), exact GELU x·½·(1 + Erf(x/√2)), MatMul + Add (fc2),
  LayerScale, residual; final norm over all tokens, pooling (class token, or mean of the patch
  tokens with fc_norm; or timm's AttentionPoolLatent for global_pool 'map'), head MatMul + Add
  (distilled: mean of head and head_dist). The MLP activation is exact-erf GELU or QuickGELU.

Weights come from the .pomt file through pomt.read_weights (pomt's own reader: every format
version, every tensor checked against the configuration). An int8 file (format version 3) is
exported DEQUANTIZED: each int8 Linear weight becomes the float32 wq · scale (what pomt's reference
path computes), so the graph is an fp32 graph of the int8 model's weights; activations are not
quantized in it (ORT's own int8 graphs come from peers.quantize_ort). ONNX Runtime
fuses these patterns itself (LayerNorm, Gelu / BiasGelu, MatMul+Add → Gemm / FusedMatMul,
attention) at ORT_ENABLE_ALL, exactly as it does on a torch export.
"""
import argparse
import sys

import numpy as np

OPSET = 17


def dequantize(tensors):
    """Replaces each int8 Linear weight of pomt.read_weights' tensors by the float32 wq · scale (its
    _scale and _sum dropped); returns how many there were (0: an fp32 model)."""
    int8 = [n for n, a in tensors.items() if a.dtype == np.int8]
    for name in int8:
        scale = tensors.pop(name + "_scale")
        del tensors[name + "_sum"]  # the kernels' bookkeeping, not a parameter
        q = tensors[name]
        tensors[name] = q.astype(np.float32) * scale.reshape((-1,) + (1,) * (q.ndim - 1))
    return len(int8)


def read_pomt(path):
    """(model config dict, {timm name: float32 ndarray}) of a .pomt file, int8 weights dequantized."""
    import pomt
    cfg, tensors = pomt.read_weights(path)
    dequantize(tensors)
    return cfg, tensors


def num_prefix(cfg):
    """Class, distillation and register tokens before the patch tokens."""
    return int(cfg["class_token"]) + int(cfg["distilled"]) + cfg["reg_tokens"]


class _Graph:
    def __init__(self):
        from onnx import helper, numpy_helper
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.inits, self.count, self.names = [], [], 0, set()

    def const(self, name, value):
        if name not in self.names:  # a name is one value: a second request reuses the first
            self.names.add(name)
            self.inits.append(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def ints(self, name, values):
        return self.const(name, np.asarray(values, dtype=np.int64))

    def op2(self, op_type, inputs, **attrs):
        """An op with two outputs (TopK: values, indices)."""
        self.count += 1
        outs = ["%s_%d_%d" % (op_type.lower(), self.count, i) for i in range(2)]
        self.nodes.append(self.helper.make_node(op_type, inputs, outs, name="n%d_%s" % (self.count, op_type), **attrs))
        return outs

    def op(self, op_type, inputs, out=None, **attrs):
        self.count += 1
        out = out or "%s_%d" % (op_type.lower(), self.count)
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name="n%d_%s" % (self.count, op_type), **attrs))
        return out


def pomt_prune_tokens(g, x, att, v, n, prefix, R, name):
    """POMT (prune/prune_pomt.h) at one block, after the attention residual: patch tokens ranked by
    a_j / max(a) + softmax(s)_j, a_j = Σ_{rows i ≥ prefix} max_h att[h,i,j], s_j = Σ_c max_h v[h,j,c]
    (softmax over all tokens, prefix dropped); the best n − R − 2 kept in position order, the rest
    replaced by their mean appended as one token. Static shapes: (1, n, D) → (1, prefix + n − R − 1, D)."""
    P, kept = n - prefix, n - R - 2
    cut = lambda t, axis, lo: g.op("Slice", [t, g.ints(name + "lo%d_%d" % (axis, lo), [lo]),  # noqa: E731
                                             g.ints(name + "hi%d" % axis, [n]), g.ints(name + "ax%d" % axis, [axis])])
    a = g.op("ReduceMax", [cut(cut(att, 2, prefix), 3, prefix)], axes=[1], keepdims=0)  # (1, P, P)
    a = g.op("ReduceSum", [a, g.ints(name + "axis1", [1])], keepdims=0)  # (1, P)
    a = g.op("Div", [a, g.op("ReduceMax", [a], axes=[1], keepdims=1)])
    sv = g.op("ReduceSum", [g.op("ReduceMax", [v], axes=[1], keepdims=0), g.ints(name + "axis2", [2])], keepdims=0)
    score = g.op("Add", [a, cut(g.op("Softmax", [sv], axis=-1), 1, prefix)])  # (1, P)
    _, best = g.op2("TopK", [score, g.ints(name + "k", [kept])], axis=-1, largest=1, sorted=1)
    order, _ = g.op2("TopK", [best, g.ints(name + "k2", [kept])], axis=-1, largest=0, sorted=1)  # by position
    rows = g.op("Add", [g.op("Reshape", [order, g.ints(name + "flat", [kept])]), g.ints(name + "prefix", prefix)])
    kept_rows = g.op("Gather", [x, rows], axis=1)  # (1, kept, D)
    patches = cut(x, 1, prefix)
    rest = g.op("Sub", [g.op("ReduceSum", [patches, g.ints(name + "axis1b", [1])], keepdims=1),
                        g.op("ReduceSum", [kept_rows, g.ints(name + "axis1c", [1])], keepdims=1)])
    mean = g.op("Div", [rest, g.const(name + "merged", np.array(P - kept, dtype=np.float32))])
    parts = ([g.op("Slice", [x, g.ints(name + "p0", [0]), g.ints(name + "p1", [prefix]), g.ints(name + "pax", [1])])]
             if prefix else [])
    return g.op("Concat", parts + [kept_rows, mean], axis=1), prefix + kept + 1


def parse_pomt_spec(spec):
    """'pomt:R=56,layer=3' → (56, 3): the one pruning spec this export writes."""
    import re
    m = re.fullmatch(r"pomt:R=(\d+),layer=(\d+)", spec.strip())
    if not m:
        raise ValueError("'%s': this export writes POMT only, as pomt:R=INT,layer=INT (not ToMe, Top-K or random)" % spec)
    return int(m.group(1)), int(m.group(2))


def build_onnx(cfg, w, patch_embed="conv", pomt_prune=None):
    """An onnx.ModelProto for batch 1: input 'pixels' (1,3,S,S) float32, output 'logits' (1,classes).
    pomt_prune = (R, block): POMT as `pomt run --prune pomt:R=R,layer=block` (the only pruning
    this export knows; ToMe and Top-K are not written)."""
    import onnx
    from onnx import TensorProto, helper

    g = _Graph()
    D, P, S = cfg["embed_dim"], cfg["patch_size"], cfg["img_size"]
    heads, depth, eps = cfg["num_heads"], cfg["depth"], float(cfg["ln_eps"])
    hd = D // heads
    grid = S // P
    npatch = grid * grid
    prefix = num_prefix(cfg)
    N = npatch + prefix
    C = cfg["num_classes"]

    def linear(x, name, out=None):
        wt = g.const(name + ".weight_t", np.ascontiguousarray(w[name + ".weight"].T))
        y = g.op("MatMul", [x, wt])
        return g.op("Add", [y, g.const(name + ".bias", w[name + ".bias"])], out)

    def layernorm(x, name):
        return g.op("LayerNormalization", [x, g.const(name + ".weight", w[name + ".weight"]),
                                           g.const(name + ".bias", w[name + ".bias"])], axis=-1, epsilon=eps)

    def mlp(h, name):
        """fc2(act(fc1(h))): exact-erf GELU, or QuickGELU h·σ(1.702·h) (act_layer 'quick_gelu')."""
        h = linear(h, name + "fc1")
        if cfg.get("act_layer", "gelu") == "quick_gelu":
            s = g.op("Sigmoid", [g.op("Mul", [h, g.const(name + "k1702", np.array(1.702, dtype=np.float32))])])
            h = g.op("Mul", [h, s])
        else:
            e = g.op("Erf", [g.op("Div", [h, g.const(name + "sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))])])
            e = g.op("Add", [e, g.const(name + "one", np.array(1.0, dtype=np.float32))])
            h = g.op("Mul", [g.op("Mul", [h, e]), g.const(name + "half", np.array(0.5, dtype=np.float32))])
        return linear(h, name + "fc2")

    # Patch embedding → (1, npatch, D)
    if patch_embed == "conv":
        y = g.op("Conv", ["pixels", g.const("patch_embed.proj.weight", w["patch_embed.proj.weight"])]
                 + ([g.const("patch_embed.proj.bias", w["patch_embed.proj.bias"])] if not cfg["pre_norm"] else []),
                 kernel_shape=[P, P], strides=[P, P])
        y = g.op("Reshape", [y, g.ints("shape_patch_flat", [1, D, npatch])])
        x = g.op("Transpose", [y], perm=[0, 2, 1])
    else:  # unfold (1,3,g,P,g,P) → (1,g,g,3,P,P) → (1, npatch, 3·P·P), then MatMul
        y = g.op("Reshape", ["pixels", g.ints("shape_unfold", [1, 3, grid, P, grid, P])])
        y = g.op("Transpose", [y], perm=[0, 2, 4, 1, 3, 5])
        y = g.op("Reshape", [y, g.ints("shape_patches", [1, npatch, 3 * P * P])])
        wt = g.const("patch_embed.weight_t", np.ascontiguousarray(w["patch_embed.proj.weight"].reshape(D, -1).T))
        x = g.op("MatMul", [y, wt])
        if not cfg["pre_norm"]:
            x = g.op("Add", [x, g.const("patch_embed.proj.bias", w["patch_embed.proj.bias"])])

    # Prefix tokens and position embedding (timm's _pos_embed)
    pos = g.const("pos_embed", w["pos_embed"])
    tokens = []
    if cfg["class_token"]: tokens.append(g.const("cls_token", w["cls_token"]))
    if cfg["distilled"]: tokens.append(g.const("dist_token", w["dist_token"]))
    if cfg["reg_tokens"]: tokens.append(g.const("reg_token", w["reg_token"]))
    if cfg["no_embed_class"]:
        x = g.op("Add", [x, pos])
        if tokens: x = g.op("Concat", tokens + [x], axis=1)
    else:
        if tokens: x = g.op("Concat", tokens + [x], axis=1)
        x = g.op("Add", [x, pos])
    if cfg["pre_norm"]:
        x = layernorm(x, "norm_pre")

    scale = g.const("attn_scale", np.array(hd ** -0.5, dtype=np.float32))
    idx = [g.ints("idx%d" % i, i) for i in range(3)]
    n = N  # tokens entering the block (fewer after a POMT block)
    for i in range(depth):
        b = "blocks.%d." % i
        shape_qkv = g.ints("shape_qkv" if n == N else "shape_qkv%d" % n, [1, n, 3, heads, hd])
        shape_tokens = g.ints("shape_tokens" if n == N else "shape_tokens%d" % n, [1, n, D])
        # Attention
        h = layernorm(x, b + "norm1")
        if cfg["qkv_bias"]:
            qkv = linear(h, b + "attn.qkv")
        else:
            qkv = g.op("MatMul", [h, g.const(b + "attn.qkv.weight_t", np.ascontiguousarray(w[b + "attn.qkv.weight"].T))])
        qkv = g.op("Reshape", [qkv, shape_qkv])
        qkv = g.op("Transpose", [qkv], perm=[2, 0, 3, 1, 4])  # (3, 1, heads, N, hd)
        q = g.op("Gather", [qkv, idx[0]], axis=0)
        k = g.op("Gather", [qkv, idx[1]], axis=0)
        v = g.op("Gather", [qkv, idx[2]], axis=0)
        q = g.op("Mul", [q, scale])
        kt = g.op("Transpose", [k], perm=[0, 1, 3, 2])
        att = g.op("Softmax", [g.op("MatMul", [q, kt])], axis=-1)
        o = g.op("MatMul", [att, v])  # (1, heads, N, hd)
        o = g.op("Reshape", [g.op("Transpose", [o], perm=[0, 2, 1, 3]), shape_tokens])
        o = linear(o, b + "attn.proj")
        if cfg["layer_scale"]:
            o = g.op("Mul", [o, g.const(b + "ls1.gamma", w[b + "ls1.gamma"])])
        x = g.op("Add", [x, o])
        if pomt_prune and pomt_prune[1] == i:
            x, n = pomt_prune_tokens(g, x, att, v, n, prefix, pomt_prune[0], b + "pomt.")
        # MLP
        h = layernorm(x, b + "norm2")
        h = mlp(h, b + "mlp.")
        if cfg["layer_scale"]:
            h = g.op("Mul", [h, g.const(b + "ls2.gamma", w[b + "ls2.gamma"])])
        x = g.op("Add", [x, h])

    # Head (timm: norm → pool → fc_norm → head)
    if not cfg["fc_norm"]:
        x = layernorm(x, "norm")
    if cfg["global_pool"] == "map":
        # timm's AttentionPoolLatent over the non-prefix tokens: latent query, kv, attention per
        # head, proj, then o + mlp(norm(o)); latent_len 1, so the pooled row is that one row.
        m = n - prefix
        toks = g.op("Slice", [x, g.ints("map_start", [prefix]), g.ints("map_end", [n]), g.ints("map_axes", [1])])
        q = linear(g.const("attn_pool.latent", w["attn_pool.latent"]), "attn_pool.q")  # (1, 1, D)
        q = g.op("Transpose", [g.op("Reshape", [q, g.ints("map_q_shape", [1, 1, heads, hd])])], perm=[0, 2, 1, 3])
        kv = g.op("Reshape", [linear(toks, "attn_pool.kv"), g.ints("map_kv_shape", [1, m, 2, heads, hd])])
        kv = g.op("Transpose", [kv], perm=[2, 0, 3, 1, 4])  # (2, 1, heads, m, hd)
        k = g.op("Gather", [kv, idx[0]], axis=0)
        v = g.op("Gather", [kv, idx[1]], axis=0)
        att = g.op("Softmax", [g.op("MatMul", [g.op("Mul", [q, scale]), g.op("Transpose", [k], perm=[0, 1, 3, 2])])], axis=-1)
        o = g.op("Reshape", [g.op("Transpose", [g.op("MatMul", [att, v])], perm=[0, 2, 1, 3]), g.ints("map_o_shape", [1, D])])
        o = linear(o, "attn_pool.proj")
        o = g.op("Add", [o, mlp(layernorm(o, "attn_pool.norm"), "attn_pool.mlp.")])
        pooled = [o]
    elif cfg["global_pool"] == "avg":
        pooled = g.op("ReduceMean", [g.op("Slice", [x, g.ints("slice_start", [prefix]), g.ints("slice_end", [n]),
                                                    g.ints("slice_axes", [1])])], axes=[1], keepdims=0)
        pooled = [pooled]
    else:
        pooled = [g.op("Gather", [x, idx[0]], axis=1)]
        if cfg["distilled"]:
            pooled.append(g.op("Gather", [x, idx[1]], axis=1))
    if cfg["fc_norm"]:
        pooled = [layernorm(p, "fc_norm") for p in pooled]
    if C > 0:
        if cfg["distilled"]:
            a = linear(pooled[0], "head")
            d = linear(pooled[1], "head_dist")
            out = g.op("Mul", [g.op("Add", [a, d]), g.const("half_head", np.array(0.5, dtype=np.float32))], "logits")
        else:
            out = linear(pooled[0], "head", "logits")
        outs = C
    else:
        out = g.op("Identity", [pooled[0]], "logits")
        outs = D

    graph = helper.make_graph(
        g.nodes, cfg["architecture"],
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 3, S, S])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, outs])],
        initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="pomt onnx_export.py")
    model.ir_version = 8  # readable by ONNX Runtime 1.14+
    onnx.checker.check_model(model)
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a .pomt file")
    ap.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    ap.add_argument("--patch-embed", choices=["conv", "matmul"], default="conv")
    ap.add_argument("--prune", metavar="pomt:R=INT,layer=INT", help="POMT in the graph, as `pomt run --prune`")
    args = ap.parse_args(argv)
    cfg, w = read_pomt(args.model)
    model = build_onnx(cfg, w, args.patch_embed, parse_pomt_spec(args.prune) if args.prune else None)
    with open(args.output, "wb") as f:
        f.write(model.SerializeToString())
    print("wrote %s: %s, %d nodes, opset %d" % (args.output, cfg["architecture"], len(model.graph.node), OPSET))
    return 0


if __name__ == "__main__":
    sys.exit(main())
