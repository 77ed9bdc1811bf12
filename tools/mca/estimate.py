"""A Raspberry Pi latency estimate from the llvm-mca cycles of tools/mca/mca.py (`make mca`).

One thread, batch 1, the forward pass as pomt runs it (vit/forward.cpp): per block LayerNorm, qkv,
attention per head (Q·Kᵀ, exp and sum, P·V), proj, LayerNorm, fc1 + GELU, fc2; the last block on
the class row only after qkv (the pooled last block); the patch embedding and the head as GEMMs.
Each GEMM costs its tiles' k-loop cycles (row blocks split evenly as kernels/gemm.cpp and
gemm_int8.cpp do, every 16-column panel a full tile) plus its epilogue, and never less than its
weights' bytes over the DRAM bandwidth below. int8 models: every Linear layer int8 (the neon
variant on the A72, neon-dot on the A76), attention and LayerNorm fp32, plus the quantization
of each GEMM's input.

Memory assumption: a GEMM with M ≥ 16 rows does ≥ 16 MACs per weight byte loaded from DRAM, and
its 16-column weight panel (K·64 bytes) is reused from L1/L2 by every row block, which asks of
L2 ≤ 64 bytes per k step of a 5-row tile (3.2 B/cycle on the A72, 6.4 on the A76): compute-bound.
Activations (≤ 0.6 MB at 197 tokens) stay in L2 / the Pi 5's L3: the streaming ops run at their
loop cycles. Only the one-row GEMMs (pooled last block, head) are bound by DRAM, at the
single-core read bandwidth assumed below.
"""

MODELS = [  # name, width, heads, patch, image; depth 12, MLP 4 × width, 1000 classes
    ("DeiT-Tiny", 192, 3, 16, 224),
    ("DeiT-Small", 384, 6, 16, 224),
    ("ViT-B/32 @ 384", 768, 12, 32, 384),
]
DEPTH, CLASSES = 12, 1000
PIS = [  # label, core model, GHz, assumed single-core DRAM read bandwidth (GB/s)
    ("Pi 4, 1.5 GHz", "A72", 1.5, 3.0),
    ("Pi 4, 1.8 GHz", "A72", 1.8, 3.0),
    ("Pi 5, 2.4 GHz", "N1", 2.4, 6.0),
]
# ncnn's published ViT-B/32 @ 384 fp32 benchmark (ncnn benchmark/README.md, `vision_transformer`;
# its Pi 4 ran at 1.8 GHz): 1 thread / 4 threads.
NCNN = {"Pi 4": (6606, 1909), "Pi 5": (1250, 612)}
# Cycles per output vector of 4 for the bias / residual part of an epilogue (a load, an add, a
# store; not analysed by llvm-mca) and for the int8 dequantization (convert, one FMA, one multiply).
EPILOGUE, DEQUANT = 2.0, 2.0
# K transposed and V copied per (image, head): one load and one store per element, in vectors.
TRANSPOSE = 0.5


def split(m, rmax):
    """Row block sizes of m rows in blocks of at most rmax, split evenly (split_range)."""
    b = -(-m // rmax)
    return [m // b + (1 if i < m % b else 0) for i in range(b)]


class Core:
    """The per-loop cycles of one core model, from mca.py's rows."""

    def __init__(self, rows, core):
        self.c = {r["label"]: r for r in rows if r["core"] == core}
        self.core = core

    def cycles(self, label):
        return self.c[label]["cycles"]

    def bound(self, label):  # the loop's resource bound per iteration (for ILP-rich epilogues)
        return self.c[label]["cycles"] * self.c[label]["pct"] / 100.0

    def elements(self, label):  # the elements one iteration of a streaming loop handles ("16 elements")
        return int(self.c[label]["work"].split()[0])

    def per4(self, label, bound=False):  # cycles per 4 elements (a NEON vector) of a streaming loop
        return (self.bound(label) if bound else self.cycles(label)) * 4 / self.elements(label)

    def gemm(self, m, n, k, int8, gelu=False):
        panels = -(-n // 16)
        if not int8:
            tile = sum(k * self.cycles("fp32 GEMM %d×16" % r) for r in split(m, 5))
        elif self.core == "A72":  # neon: 2 rows, a step is two groups of 4 inputs
            tile = sum(-(-k // 8) * self.cycles("int8 neon %d×16" % r) for r in split(m, 2))
        else:  # neon-dot: 5 rows, a step is one group
            tile = sum(-(-k // 4) * self.cycles("int8 neon-dot %d×16" % r) for r in split(m, 5))
        vectors = m * panels * 4
        # An int8 fc1 feeding an int8 fc2 applies Activation::GeluFast (vit/layers.h hidden_activation).
        act = self.per4("GELU fast" if int8 else "GELU", bound=True) if gelu else 0
        epi = vectors * (EPILOGUE + (DEQUANT if int8 else 0) + act)
        return panels * tile + epi

    def layernorm(self, rows, d):
        return rows * d / 4 * (self.per4("LayerNorm: sum") + self.per4("LayerNorm: variance") +
                               self.per4("LayerNorm: normalise"))

    def quantize(self, rows, k):
        variant = "neon" if self.core == "A72" else "neon-dot"
        return rows * k / 4 * (self.per4("quantize %s: min, max" % variant) +
                               self.per4("quantize %s: quantize" % variant))

    def attention_head(self, n, q, hd):
        npad, dpad = -(-n // 16) * 16, -(-hd // 16) * 16
        logits = sum(npad // 16 * hd * self.cycles("fp32 GEMM %d×16" % r) for r in split(q, 5))
        exp = q * npad / 4 * self.per4("attention 5 rows: exp, sum")
        pv = sum(dpad // 16 * n * self.cycles("fp32 GEMM %d×16" % r) for r in split(q, 5))
        return logits + exp + pv + TRANSPOSE * 2 * n * hd


def forward_seconds(core, ghz, gbps, d, heads, patch, image, int8):
    """(seconds, share of the time in DRAM-bound GEMMs) of one forward pass."""
    n = (image // patch) ** 2 + 1
    h, hd = 4 * d, d // heads
    wbytes = 1 if int8 else 4
    cycles, dram = 0.0, 0.0

    def gemm(m, nn, k, gelu=False):
        nonlocal cycles, dram
        compute = core.gemm(m, nn, k, int8, gelu)
        memory = nn * k * wbytes / (gbps * 1e9) * ghz * 1e9
        if memory > compute:
            dram += memory
        cycles += max(compute, memory)

    def quantize(m, k):
        nonlocal cycles
        if int8:
            cycles += core.quantize(m, k)

    quantize(n - 1, 3 * patch * patch)
    gemm(n - 1, d, 3 * patch * patch)  # patch embedding
    for layer in range(DEPTH):
        q = 1 if layer == DEPTH - 1 else n  # the pooled last block: the class row after qkv
        cycles += core.layernorm(n, d)
        quantize(n, d)
        gemm(n, 3 * d, d)
        cycles += heads * core.attention_head(n, q, hd)
        quantize(q, d)
        gemm(q, d, d)  # proj + residual
        cycles += core.layernorm(q, d)
        quantize(q, d)
        gemm(q, h, d, gelu=True)
        quantize(q, h)
        gemm(q, d, h)  # fc2 + residual
    cycles += core.layernorm(1, d)
    quantize(1, d)
    gemm(1, CLASSES, d)
    return cycles / (ghz * 1e9), dram / cycles


def table(rows):
    """The Markdown table of predicted latencies, ncnn's published figures beside."""
    out = ["| model | precision | " + " | ".join(p[0] for p in PIS) + " |",
           "|---|---|" + "--:|" * len(PIS)]
    for name, d, heads, patch, image in MODELS:
        for int8 in (False, True):
            cells = []
            for _, core, ghz, gbps in PIS:
                s, dram = forward_seconds(Core(rows, core), ghz, gbps, d, heads, patch, image, int8)
                cells.append("%.0f ms" % (s * 1e3) if s >= 0.1 else "%.1f ms" % (s * 1e3))
            out.append("| %s | %s | %s |" % (name, "int8" if int8 else "fp32", " | ".join(cells)))
        if name.startswith("ViT-B/32"):
            out.append("| %s, ncnn (published, 1 thread) | fp32 |  | %d ms | %d ms |" %
                       (name, NCNN["Pi 4"][0], NCNN["Pi 5"][0]))
    return "\n".join(out) + "\n"
