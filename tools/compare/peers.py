"""The engines tools/compare/compare_peers.py sets beside pomt: ONNX Runtime, OpenVINO, ncnn and MNN.

Each peer is a function PEER_rows(ctx) that turns one model's ONNX graph (onnx_export.py's, the
graph torch.onnx.export writes for timm's VisionTransformer) into rows of the table, and a
function PEER_version() that raises ImportError (the peer is skipped) when it is not installed.
A row (class Row) is one engine configuration: row.make(threads, x) builds it for that thread
count with the input x bound and returns a function that runs one inference and returns the logits
(1, classes). What each peer builds, exactly:

  ort       fp32: an InferenceSession on the CPU provider, intra_op_num_threads T, inter_op 1,
            sequential, ORT_ENABLE_ALL. int8: quantize_dynamic's model (quantize_ort below).
  openvino  Core().read_model of the .onnx file, compile_model on "CPU" with PERFORMANCE_HINT
            LATENCY, NUM_STREAMS 1, INFERENCE_NUM_THREADS T, in two rows: no precision hint (the
            plugin's default: f32 on AVX2 and AVX-512 without BF16, bf16 on AVX512_BF16 / AMX
            hosts, f16 on ARM) and INFERENCE_PRECISION_HINT f32. The precision shown is the
            compiled model's INFERENCE_PRECISION_HINT and the runtime precision of its
            FullyConnected / MatMul nodes. int8: nncf.compress_weights(mode=INT8_SYM), data-free
            (the `nncf` package): Linear weights int8 per output channel, symmetric; whether the
            CPU plugin then also quantizes the activations at run time (its dynamic quantization,
            DYNAMIC_QUANTIZATION_GROUP_SIZE) is found out by comparing the logits with that
            switched off, and shown. Neither OpenVINO nor nncf sends its usage telemetry from
            this process (openvino_telemetry is made unimportable; both then use a stub).
            Running ORT's quantize_dynamic graph in OpenVINO is no int8 row: its CPU plugin folds
            the DequantizeLinear of the weights and runs the FullyConnected layers in f32 (seen
            with OpenVINO 2026.4: slower than the fp32 graph).
  ncnn      pnnx (the `pnnx` wheel's binary; not its Python module, which imports torch) converts
            the .onnx: `pnnx model.onnx inputshape=[1,3,S,S] fp16=0` (fp32 weights in the .bin);
            pnnx fuses the attention into ncnn's MultiHeadAttention and the Linears into Gemm.
            ncnn.Net with opt.num_threads = T, run through an Extractor per inference, in two
            rows: ncnn's default options (use_fp16_storage etc. on: weights and activations stored
            as fp16 where the CPU converts them, F16C on x86, every aarch64; fp16 arithmetic on
            ARMv8.2 asimdhp) and fp32 (use_fp16_packed / _storage / _arithmetic and bf16 off).
            No int8 row: ncnn's int8 models come from its ncnn2table (calibration) and ncnn2int8
            tools, which are built from ncnn's source tree and are in neither the `ncnn` nor the
            `pnnx` wheel.
  mnn       the wheel's converter (its _tools.mnnconvert, what the `mnnconvert` command calls)
            turns the .onnx into .mnn twice: with its defaults, which replace the exact Erf GELU by
            the tanh approximation (the row "converter default": the logits differ from the
            graph's by that), and with --useGeluApproximation 0 (the row "fp32, exact GELU").
            Both run through MNN's session API (Interpreter, createSession {backend CPU,
            numThread T, precision normal (fp32 on x86; fp16 needs precision low on ARMv8.2),
            memory normal}, input copied in and logits copied out inside the timed call); not
            through MNN.nn.load_module_from_file, whose int8 models gave garbage logits (1e+20 and
            more, changing from call to call) where the session API gives the same numbers each
            time. int8: the wheel's offline quantizer (its _tools.mnnquant, the `mnnquant`
            command) on the default .mnn, feature_quantize_method KL, weights MAX_ABS,
            calibrated on MNN_CALIB_IMAGES images (the --calibrate list's first ones, else seeded
            uniform-noise images): static int8 activations. MNN's other int8, --weightQuantBits 8,
            is no int8 row: this wheel dequantizes such weights at load time (the logits and the
            time are those of an fp32 model with int8-rounded weights, also with memory low).
            The `mnnconvert` and `mnnquant` commands themselves are not used: their Python
            wrappers import MNN.tools.utils.log, which runs `pip install aliyun-log-python-sdk`
            into whatever `pip` is on PATH and sends usage logs to Alibaba; and `mnnquant`'s
            wrapper passes its arguments wrongly (std::length_error). _tools is called in a
            subprocess, as `python -c`: the quantizer can crash (KL on the exact-GELU model
            segfaults, "Don't support quantizing UnaryOP").
"""
import contextlib
import importlib.util
import os
import subprocess
import sys
import tempfile

import numpy as np

# No usage telemetry from this process (or its children), whatever the peers' defaults:
# - ONNX Runtime 1.32's Linux wheel starts 1DS telemetry at import (a background thread resolving
#   mobile.events.data.microsoft.com); ORT_DISABLE_TELEMETRY=1 before the import stops it
#   (disable_telemetry_events() after it does not);
# - `import openvino` sends a usage event to Google Analytics (openvino.tools.ovc's telemetry, through
#   the openvino-telemetry package, unless CI=true or an opt-out file exists), and nncf's calls do too;
#   both fall back to a stub when openvino_telemetry cannot be imported: here, it cannot;
# - MNN: see mnn_rows (its logging wrapper is never imported).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
sys.modules.setdefault("openvino_telemetry", None)

MNN_CALIB_IMAGES = 8
PEER_NAMES = ["ort", "openvino", "ncnn", "mnn"]
INSTALL = {"ort": "pip install onnxruntime", "openvino": "pip install openvino (int8 row: nncf)",
           "ncnn": "pip install ncnn; pip install --no-deps pnnx", "mnn": "pip install MNN"}


class PeerError(Exception):
    """A peer could not build a model (conversion failed): that peer's rows are skipped for it."""


class Row:
    """One engine configuration of the table.

    key        unique id ("ort_fp32", "openvino_default", ...)
    engine     the engine and its version ("ONNX Runtime 1.32.0")
    label      what was asked ("fp32", "default (no precision hint)", "int8 ...")
    precision  what the engine used (filled in or refined by make(), which sees the compiled model)
    kind       "fp32" (compared with pomt fp32), "int8" (compared with pomt int8)
    judged     its logits must agree with pomt fp32 within the tolerance (fp32 arithmetic asked or
               found); else they are reported only
    make       make(threads, x) -> run(): one inference on x, returning the logits (1, classes)
    """

    def __init__(self, key, engine, label, precision, kind, make, judged, peer):
        self.key, self.engine, self.label, self.precision = key, engine, label, precision
        self.kind, self.make, self.judged, self.peer = kind, make, judged, peer
        self.note = ""

    def title(self):
        return "%s %s" % (self.engine, self.label)


@contextlib.contextmanager
def quiet_fds():
    """Sends what C++ libraries print to fds 1 and 2 to /dev/null (MNN prints its CPU features at
    every load); Python's own prints are flushed first."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved + [null]:
            os.close(fd)


def run_quiet(cmd, cwd=None, what=None):
    """Runs cmd, output captured; PeerError with its last lines when it fails."""
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    if p.returncode != 0:
        tail = "\n".join(p.stdout.strip().splitlines()[-4:])
        raise PeerError("%s failed (exit %d): %s" % (what or os.path.basename(cmd[0]), p.returncode, tail))
    return p.stdout


# ---- ONNX Runtime

def ort_version():
    import onnxruntime
    return onnxruntime.__version__


def ort_session(onnx_bytes, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])


def ort_logits(sess, x):
    return np.concatenate([sess.run(None, {"pixels": x[i:i + 1]})[0] for i in range(x.shape[0])])


def ort_int8_settings(per_channel, reduce_range=False):
    """The exact quantize_dynamic call (recorded in the output and in docs/RESULTS.md)."""
    return {"weight_type": "QInt8", "per_channel": bool(per_channel), "reduce_range": bool(reduce_range),
            "op_types_to_quantize": "default (Conv, MatMul, Attention, LSTM, Gather, Transpose, EmbedLayerNormalization)",
            "extra_options": "default (MatMulConstBOnly=True, WeightSymmetric=True, ActivationSymmetric=False)",
            "pre_process": "none"}


def quantize_ort(onnx_bytes, per_channel, reduce_range=False):
    """ONNX Runtime's dynamic int8 model of an fp32 graph: quantize_dynamic with its defaults except
    weight_type QInt8 (per_channel and reduce_range as asked). Weights of every MatMul with a constant B (the
    Linears) and of the patch-embedding Conv become symmetric s8 (one scale per tensor, or per output
    column); activations are quantized at run time to u8 with one scale and zero point per tensor
    (DynamicQuantizeLinear) before MatMulInteger / ConvInteger. The attention products (Q·Kᵀ, P·V:
    no constant operand), LayerNorm, Softmax and GELU stay fp32. No pre-processing pass. reduce_range
    makes the weights 7-bit, which ORT advises on CPUs without VNNI, "especially for per-channel mode"
    (its u8·s8 AVX2 kernel can saturate int16 pair sums; VNNI's vpdpbusd cannot)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    with tempfile.TemporaryDirectory(prefix="pomt_ortq_") as d:
        src, dst = os.path.join(d, "fp32.onnx"), os.path.join(d, "int8.onnx")
        with open(src, "wb") as f:
            f.write(onnx_bytes)
        import logging
        logging.getLogger().setLevel(logging.ERROR)  # its "consider pre-processing" warning: we do not, on purpose
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=per_channel, reduce_range=reduce_range)
        onnx.checker.check_model(dst)
        with open(dst, "rb") as f:
            return f.read()


def quantized_op_counts(onnx_bytes):
    import onnx
    ops = {}
    for n in onnx.load_from_string(onnx_bytes).graph.node:
        if n.op_type in ("MatMulInteger", "ConvInteger", "DynamicQuantizeLinear", "MatMul", "Conv"):
            ops[n.op_type] = ops.get(n.op_type, 0) + 1
    return ops


def _ort_runner(onnx_bytes, threads, x):
    sess = ort_session(onnx_bytes, threads)
    feed = {"pixels": x}
    return lambda: sess.run(None, feed)[0]


def ort_rows(ctx):
    engine = "ONNX Runtime " + ort_version()
    rows = [Row("ort_fp32", engine, "fp32", "fp32", "fp32",
                lambda t, x: _ort_runner(ctx.onnx_bytes, t, x), True, "ort")]
    if ctx.int8:
        onnx8 = quantize_ort(ctx.onnx_bytes, ctx.per_channel)
        ctx.saved["ort_int8.onnx"] = onnx8
        ops = quantized_op_counts(onnx8)
        rows.append(Row("ort_int8", engine, "int8 (quantize_dynamic, QInt8 %s)" % ("per channel" if ctx.per_channel else "per tensor"),
                        "int8 weights, u8 activations per tensor at run time (%d MatMulInteger, %d ConvInteger); "
                        "attention fp32" % (ops.get("MatMulInteger", 0), ops.get("ConvInteger", 0)), "int8",
                        lambda t, x: _ort_runner(onnx8, t, x), False, "ort"))
    return rows


# ---- OpenVINO

def openvino_version():
    import openvino
    return openvino.__version__.split("-")[0]


def _ov_precision(compiled):
    """('f32', 'FullyConnected 49×f32'): the compiled model's INFERENCE_PRECISION_HINT and the runtime
    precisions of its matrix-product nodes."""
    hint = compiled.get_property("INFERENCE_PRECISION_HINT")
    hint = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
    counts = {}
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        if "layerType" not in info or "runtimePrecision" not in info:
            continue
        t, p = info["layerType"].astype(str), info["runtimePrecision"].astype(str)
        if t in ("FullyConnected", "MatMul"):
            counts[(t, p)] = counts.get((t, p), 0) + 1
    return hint, ", ".join("%s %d×%s" % (t, n, p) for (t, p), n in sorted(counts.items())) or "no FullyConnected / MatMul node"


def _ov_runner(compiled, x):
    import openvino as ov
    req = compiled.create_infer_request()
    req.set_input_tensor(ov.Tensor(np.ascontiguousarray(x)))

    def run():
        req.infer()
        return req.get_output_tensor(0).data.copy()
    run.keep = (compiled, x)
    return run


def openvino_rows(ctx):
    import openvino as ov
    core = ov.Core()
    engine = "OpenVINO " + openvino_version()
    base = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}

    def compile_(model, threads, extra):
        return core.compile_model(model, "CPU", dict(base, INFERENCE_NUM_THREADS=threads, **extra))

    def make(row, extra, model_fn):
        def m(t, x):
            compiled = compile_(model_fn(), t, extra)
            hint, nodes = _ov_precision(compiled)
            row.precision = "%s (compiled INFERENCE_PRECISION_HINT; %s)" % (hint, nodes)
            if row.kind == "fp32":
                row.judged = hint == "f32"
            return _ov_runner(compiled, x)
        return m

    fp32_model = lambda: core.read_model(ctx.onnx_path)  # noqa: E731
    rows = []
    r = Row("openvino_default", engine, "default (no precision hint)", "?", "fp32", None, False, "openvino")
    r.make = make(r, {}, fp32_model)
    rows.append(r)
    r = Row("openvino_f32", engine, "INFERENCE_PRECISION_HINT=f32", "?", "fp32", None, True, "openvino")
    r.make = make(r, {"INFERENCE_PRECISION_HINT": "f32"}, fp32_model)
    rows.append(r)
    if ctx.int8:
        try:
            import nncf
        except ImportError:
            ctx.log("  SKIP: OpenVINO int8 row: no nncf (pip install nncf): its compress_weights makes the data-free int8 model")
            return rows
        import logging
        nncf.set_log_level(logging.ERROR)
        with quiet_fds():  # its progress bars
            model8 = nncf.compress_weights(core.read_model(ctx.onnx_path), mode=nncf.CompressWeightsMode.INT8_SYM)
        engine8 = "%s (nncf %s)" % (engine, nncf.__version__)
        r = Row("openvino_int8", engine8, "int8 weights (nncf.compress_weights INT8_SYM, data-free)", "?", "int8",
                None, False, "openvino")

        def make8(t, x, r=r):
            compiled = compile_(model8, t, {})
            hint, nodes = _ov_precision(compiled)
            if not r.note:  # once: are the activations quantized too? (its dynamic quantization)
                off = _ov_runner(compile_(model8, 1, {"DYNAMIC_QUANTIZATION_GROUP_SIZE": 0}), x)()
                on = _ov_runner(compile_(model8, 1, {}), x)()
                group = compiled.get_property("DYNAMIC_QUANTIZATION_GROUP_SIZE")
                r.note = ("activations f32 (the plugin's dynamic quantization is inactive on this CPU: logits equal with it off)"
                          if np.array_equal(on, off) else "activations int8 (the plugin's dynamic quantization, group size %s)" % group)
            r.precision = "int8 weights per channel (%s); %s; compiled hint %s" % (nodes, r.note, hint)
            return _ov_runner(compiled, x)
        r.make = make8
        rows.append(r)
    return rows


# ---- ncnn (through pnnx)

def pnnx_binary():
    """The pnnx executable of the `pnnx` wheel, found without importing its package (which imports torch)."""
    spec = importlib.util.find_spec("pnnx")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("no pnnx")
    path = os.path.join(list(spec.submodule_search_locations)[0], "pnnx")
    if not os.access(path, os.X_OK):
        raise ImportError("the pnnx wheel has no pnnx binary at %s" % path)
    return path


def ncnn_version():
    import ncnn
    pnnx_binary()
    import importlib.metadata
    try:
        pv = importlib.metadata.version("pnnx")
    except importlib.metadata.PackageNotFoundError:
        pv = "?"
    return "%s (pnnx %s)" % (ncnn.__version__, pv)


def _ncnn_blobs(param_path):
    """(input blob, output blob) of an ncnn .param: the Input layer's top, and pnnx's 'out0'
    (else the last layer's top)."""
    inp, last = None, None
    with open(param_path) as f:
        lines = f.read().splitlines()[2:]
    for line in lines:
        p = line.split()
        if len(p) < 4:
            continue
        nin, nout = int(p[2]), int(p[3])
        tops = p[4 + nin:4 + nin + nout]
        if p[0] == "Input":
            inp = tops[0]
        if tops:
            last = tops[-1]
    outs = set()
    for line in lines:
        p = line.split()
        if len(p) >= 4:
            outs.update(p[4 + int(p[2]):4 + int(p[2]) + int(p[3])])
    return inp, ("out0" if "out0" in outs else last)


def ncnn_default_precision(cpu_flags):
    """What ncnn's default Option does on this CPU."""
    import ncnn
    o = ncnn.Option()
    arm = ncnn.cpu_support_arm_neon()
    if arm and ncnn.cpu_support_arm_asimdhp() and o.use_fp16_arithmetic:
        return "fp16 storage and arithmetic (ARMv8.2 asimdhp)", False
    if o.use_fp16_storage and (arm or "f16c" in cpu_flags):
        return "fp16 storage (%s), fp32 arithmetic" % ("F16C" if not arm else "NEON"), False
    if o.use_bf16_storage:
        return "bf16 storage, fp32 arithmetic", False
    return "fp32", True


def ncnn_rows(ctx):
    import ncnn
    pnnx = pnnx_binary()
    engine = "ncnn " + ncnn_version()
    d = os.path.join(ctx.workdir, "ncnn_" + ctx.name)
    os.makedirs(d, exist_ok=True)
    src = os.path.join(d, "model.onnx")
    if not os.path.exists(src):
        os.symlink(ctx.onnx_path, src)
    s = ctx.cfg["img_size"]
    run_quiet([pnnx, "model.onnx", "inputshape=[1,3,%d,%d]" % (s, s), "fp16=0"], cwd=d, what="pnnx")
    param, binf = os.path.join(d, "model.ncnn.param"), os.path.join(d, "model.ncnn.bin")
    if not (os.path.isfile(param) and os.path.isfile(binf)):
        raise PeerError("pnnx wrote no model.ncnn.param / .bin in %s" % d)
    blob_in, blob_out = _ncnn_blobs(param)

    def make(fp32):
        def m(t, x):
            net = ncnn.Net()
            net.opt.num_threads = t
            if fp32:
                for k in ("use_fp16_packed", "use_fp16_storage", "use_fp16_arithmetic", "use_bf16_storage", "use_bf16_packed"):
                    if hasattr(net.opt, k):
                        setattr(net.opt, k, False)
            if net.load_param(param) != 0 or net.load_model(binf) != 0:
                raise PeerError("ncnn could not load %s" % param)
            x0 = np.ascontiguousarray(x[0])
            mat = ncnn.Mat(x0)

            def run():
                ex = net.create_extractor()
                ex.input(blob_in, mat)
                _, out = ex.extract(blob_out)
                return np.array(out).reshape(1, -1)
            run.keep = (net, x0, mat)
            return run
        return m

    prec, exact = ncnn_default_precision(ctx.cpu_flags)
    return [Row("ncnn_default", engine, "default options", prec, "fp32", make(False), exact, "ncnn"),
            Row("ncnn_fp32", engine, "fp32 (fp16 / bf16 options off)", "fp32", "fp32", make(True), True, "ncnn")]


# ---- MNN

def mnn_version():
    import MNN
    if importlib.util.find_spec("_tools") is None:
        raise ImportError("the MNN wheel has no _tools (converter) module")
    return MNN.version()


def _mnn_tool(ctx, fn, args, what):
    """MNN's _tools.mnnconvert / mnnquant in a subprocess (see the module docstring: not its commands)."""
    code = "import sys, _tools; _tools.%s(sys.argv[1:])" % fn
    return run_quiet([sys.executable, "-c", code, fn] + args, cwd=ctx.workdir, what=what)


_CALIB_DESC = {}  # calibration folder -> its description (one folder per image size and run)


def _mnn_calibration_dir(ctx):
    """A folder of MNN_CALIB_IMAGES images for mnnquant: links to --calibrate's first images, or
    seeded uniform-noise PPM images of the model's size. Returns (folder, description)."""
    d = os.path.join(ctx.workdir, "mnn_calib_%d" % ctx.cfg["img_size"])
    if d in _CALIB_DESC:
        return d, _CALIB_DESC[d]
    os.makedirs(d)
    if ctx.calib_images:
        for i, p in enumerate(ctx.calib_images[:MNN_CALIB_IMAGES]):
            os.symlink(p, os.path.join(d, "%03d%s" % (i, os.path.splitext(p)[1].lower())))
        desc = "the first %d --calibrate images" % min(MNN_CALIB_IMAGES, len(ctx.calib_images))
    else:
        s = ctx.cfg["img_size"]
        rng = np.random.default_rng(5)
        for i in range(MNN_CALIB_IMAGES):
            with open(os.path.join(d, "noise%03d.ppm" % i), "wb") as f:
                f.write(b"P6 %d %d 255\n" % (s, s) + rng.integers(0, 256, (s, s, 3), dtype=np.uint8).tobytes())
        desc = "%d seeded uniform-noise images" % MNN_CALIB_IMAGES
    _CALIB_DESC[d] = desc
    return d, desc


def mnn_rows(ctx):
    import MNN
    engine = "MNN " + mnn_version()
    base = os.path.join(ctx.workdir, ctx.name)
    default, exact = base + ".mnn", base + ".erf.mnn"
    conv = ["-f", "ONNX", "--modelFile", ctx.onnx_path, "--bizCode", "pomt"]
    _mnn_tool(ctx, "mnnconvert", conv + ["--MNNModel", default], "mnnconvert")
    _mnn_tool(ctx, "mnnconvert", conv + ["--MNNModel", exact, "--useGeluApproximation", "0"], "mnnconvert --useGeluApproximation 0")
    s = ctx.cfg["img_size"]

    def make(path):
        def m(t, x):
            with quiet_fds():
                it = MNN.Interpreter(path)
                sess = it.createSession({"backend": "CPU", "numThread": t, "precision": "normal", "memory": "normal"})
            inp = it.getSessionInput(sess)
            x0 = np.ascontiguousarray(x)
            host_in = MNN.Tensor((1, 3, s, s), MNN.Halide_Type_Float, x0, MNN.Tensor_DimensionType_Caffe)
            out = it.getSessionOutput(sess)
            shape = out.getShape()
            host_out = MNN.Tensor(shape, MNN.Halide_Type_Float, np.zeros(shape, np.float32), MNN.Tensor_DimensionType_Caffe)

            def run():
                inp.copyFrom(host_in)
                it.runSession(sess)
                out.copyToHostTensor(host_out)
                return np.array(host_out.getData(), dtype=np.float32).reshape(1, -1)
            run.keep = (it, sess, x0, host_in, host_out)
            return run
        return m

    rows = [Row("mnn_default", engine, "converter default (tanh-approximate GELU)", "fp32 (precision normal)", "fp32",
                make(default), True, "mnn"),
            Row("mnn_fp32", engine, "fp32, exact GELU (--useGeluApproximation 0)", "fp32 (precision normal)", "fp32",
                make(exact), True, "mnn")]
    rows[0].note = "tanh-approximate GELU (MNN converter default)"
    if ctx.int8:
        calib, desc = _mnn_calibration_dir(ctx)
        cfg = {"format": "RGB", "mean": [123.675, 116.28, 103.53], "normal": [1 / 58.395, 1 / 57.12, 1 / 57.375],
               "width": s, "height": s, "path": calib + "/", "used_image_num": MNN_CALIB_IMAGES,
               "feature_quantize_method": "KL", "weight_quantize_method": "MAX_ABS"}
        cfg_path, q8 = base + ".mnnquant.json", base + ".int8.mnn"
        import json
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        try:
            _mnn_tool(ctx, "mnnquant", [default, q8, cfg_path], "mnnquant")
        except PeerError as e:
            ctx.log("  SKIP: MNN int8 row of %s: %s" % (ctx.name, e))
            return rows
        rows.append(Row("mnn_int8", engine, "int8 (mnnquant KL, %s)" % desc,
                        "int8 weights and static int8 activations (calibrated), precision normal", "int8",
                        make(q8), False, "mnn"))
    return rows


PEERS = {"ort": (ort_version, ort_rows), "openvino": (openvino_version, openvino_rows),
         "ncnn": (ncnn_version, ncnn_rows), "mnn": (mnn_version, mnn_rows)}
