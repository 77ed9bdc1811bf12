"""pomt: Vision Transformer inference with token pruning on CPUs, numpy in and out.

    import pomt
    m = pomt.load("vit_tiny.pomt")                      # or pomt.from_arch("deit_tiny_patch16_224")
    x = m.preprocess("cat.jpg")                         # (3, 224, 224) float32, timm's eval transform
    logits = m.run(x[None], prune="pomt:R=56,layer=3")  # (1, 1000) float32
    print(m.classify("cat.jpg", top=3))                 # [(index, probability, name), ...]

A Model is an immutable handle on a memory-mapped model: any number of Python threads may call one
Model at once, and every computing call (run, preprocess, profile, evaluate, convert) releases the
GIL while it works. Each concurrent call uses its own workspace (buffers and a pool of
`Model.threads` threads), kept for the next call.

Errors are `pomt.Error` (a subclass of ValueError) with the one-line message the `pomt` command
line prints; nothing a caller passes can crash the interpreter.

Pruning (`prune=`): None, a spec string ("pomt:R=56,layer=3", "topk:r=8", "tome:r=13",
docs/SCHEDULES.md) or a `pomt.Schedule` (Schedule.parse(spec), Schedule.load(path)).
"""
from __future__ import annotations

import atexit
import dataclasses
import os
import tempfile
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _pomt
from ._pomt import Error

__all__ = [
    "Error", "Schedule", "Model", "Latency", "EvalResult", "ImageOutcome", "ConvertReport",
    "ScheduleResult", "TokenPoint", "load", "from_arch", "evaluate", "schedule", "convert", "quantize", "read_weights",
    "from_timm", "isa", "architectures", "__version__",
]

__version__: str = _pomt.__version__  # include/pomt/version.h, the same as the package metadata's

Error.__doc__ = ("A pomt failure: bad input, spec, schedule, image or model file. Subclass of ValueError; "
                 "str(e) is the one-line message the pomt command line prints.")

Schedule = _pomt.Schedule

Prune = Union[None, str, "_pomt.Schedule"]
Image = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, np.ndarray, Any]

_schedule_cache: Dict[str, "_pomt.Schedule"] = {}  # parsed specs, so run(prune="...") parses once
atexit.register(_schedule_cache.clear)  # before the extension is torn down


def _schedule(prune: Prune) -> Optional["_pomt.Schedule"]:
    if prune is None:
        return None
    if isinstance(prune, _pomt.Schedule):
        return prune
    if isinstance(prune, str):
        s = _schedule_cache.get(prune)
        if s is None:
            s = _pomt.Schedule.parse(prune)
            if len(_schedule_cache) < 256:
                _schedule_cache[prune] = s
        return s
    raise Error("prune must be None, a spec string (e.g. 'pomt:R=56,layer=3') or a pomt.Schedule, got %s"
                % type(prune).__name__)


def _threads(threads: Optional[int], what: str = "threads") -> int:
    if threads is None:
        return 0
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 1024:
        raise Error("%s must be an integer in [1, 1024], got %r" % (what, threads))
    return threads


def _max_memory(max_memory: Optional[int]) -> int:
    if max_memory is None:
        return 0
    if isinstance(max_memory, bool) or not isinstance(max_memory, int) or max_memory <= 0:
        raise Error("max_memory must be a positive number of bytes, got %r" % (max_memory,))
    return max_memory


@dataclasses.dataclass(frozen=True)
class Latency:
    """Whole-model latency (profiler/model_latency.h): milliseconds per run of `batch` images."""
    median_ms: float
    p10_ms: float
    p90_ms: float
    min_ms: float
    runs: int
    threads: int
    batch: int
    schedule: str
    # Interference (docs/PROFILING.md, "Interference"): runs over 1.5x the p10, whether the
    # measurement looks disturbed (slow runs, a slow median, other processes busy), and then a
    # one-line warning saying why ("" otherwise).
    slow_runs: int = 0
    disturbed: bool = False
    warning: str = ""


@dataclasses.dataclass(frozen=True)
class ImageOutcome:
    """One image of pomt.evaluate, in list order."""
    path: str
    label: int
    top1: int          # predicted class; -1 when the image was skipped
    correct1: bool
    correct5: bool
    error: str         # why it was skipped ("" otherwise)


@dataclasses.dataclass(frozen=True)
class EvalResult:
    """Accuracy on a labelled image set (eval/evaluate.h); top1/top5 in percent of the evaluated images."""
    images: int
    evaluated: int
    skipped: int
    top1: float
    top5: float
    per_image: List[ImageOutcome]


@dataclasses.dataclass(frozen=True)
class ConvertReport:
    """What pomt.convert wrote: the .pomt path, its architecture, tensor and parameter counts, class names."""
    output: str
    architecture: str
    tensors: int
    parameters: int
    class_names: int


# How a model was made, for executor workers to make it again (pomt.evaluate(executor=...)):
# ("file", absolute path, threads, max_memory) or ("arch", name, seed, threads, max_memory), with
# threads and max_memory as the engine takes them (0: the default).
_Source = Tuple[Any, ...]


class Model:
    """A loaded model (pomt.load / pomt.from_arch / pomt.from_timm). Thread-safe; see the package doc."""

    def __init__(self, engine: "_pomt.Model", source: Optional[_Source] = None):
        self._m = engine
        self._source = source

    # ---- description
    @property
    def architecture(self) -> str:
        return self._m.architecture

    @property
    def num_classes(self) -> int:
        """Classes of the head (0: no head; run() then gives the pooled features)."""
        return self._m.num_classes

    @property
    def num_outputs(self) -> int:
        """Values per image that run() returns: num_classes, or the feature width without a head."""
        return self._m.num_outputs

    @property
    def input_shape(self) -> Tuple[int, int, int]:
        """(channels, height, width) that run() takes per image."""
        return self._m.input_shape

    @property
    def class_names(self) -> List[str]:
        return self._m.class_names

    @property
    def threads(self) -> int:
        """Threads of each run (the `threads` given at load; default every core)."""
        return self._m.threads

    def __repr__(self) -> str:
        return "pomt.Model(%r, classes=%d, input=%s, threads=%d)" % (
            self.architecture, self.num_classes, self.input_shape, self.threads)

    # ---- inference
    def run(self, x: np.ndarray, prune: Prune = None, *, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Logits of a batch: x float32 (N, C, H, W) -> (N, num_outputs) float32.

        A single (C, H, W) image gives (num_outputs,). x must be float32 (other dtypes are refused,
        not silently converted); a non-contiguous x is copied once. The logits are written by C++
        directly into the returned array (or into `out`, a C-contiguous float32 array of the right
        size, which is then returned): no other copy of the output is made. The GIL is released
        while the model runs.
        """
        if not isinstance(x, np.ndarray):
            raise Error("input must be a numpy array, got %s" % type(x).__name__)
        if x.dtype != np.float32:
            raise Error("input must be float32, got %s (convert with x.astype(np.float32))" % x.dtype)
        if x.ndim not in (3, 4):
            raise Error("input must be (N, C, H, W) or (C, H, W), got %d dimensions %s" % (x.ndim, x.shape))
        if not x.flags.c_contiguous:
            x = np.ascontiguousarray(x)
        shape = (x.shape[0], self._m.num_outputs) if x.ndim == 4 else (self._m.num_outputs,)
        if out is None:
            out = np.empty(shape, dtype=np.float32)
        elif not (isinstance(out, np.ndarray) and out.dtype == np.float32 and out.flags.c_contiguous
                  and out.flags.writeable and out.shape == shape):
            raise Error("out must be a writeable C-contiguous float32 array of shape %s" % (shape,))
        self._m.run_into(x, out, _schedule(prune))
        return out

    __call__ = run

    def preprocess(self, image: Image, *, max_pixels: int = 100_000_000) -> np.ndarray:
        """timm's eval transform of an image -> (C, H, W) float32, bit-identical to the C++ path.

        image: a file path (str / PathLike), encoded bytes (JPEG, PNG, BMP, GIF, TGA, PNM), a PIL
        image (converted with .convert('RGB')) or an (H, W, 3) uint8 array (RGB).
        """
        if isinstance(image, (str, os.PathLike)):
            return self._m.preprocess_file(os.fsdecode(image), max_pixels)
        if isinstance(image, (bytes, bytearray, memoryview)):
            return self._m.preprocess_bytes(bytes(image), "<bytes>", max_pixels)
        if isinstance(image, np.ndarray):
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                raise Error("an image array must be (H, W, 3) uint8 RGB, got %s %s" % (image.dtype, image.shape))
            if image.shape[0] * image.shape[1] > max_pixels:
                raise Error("image of %dx%d pixels exceeds max_pixels %d" % (image.shape[1], image.shape[0], max_pixels))
            return self._m.preprocess_rgb(np.ascontiguousarray(image))
        if _is_pil_image(image):
            return self.preprocess(np.asarray(image.convert("RGB")), max_pixels=max_pixels)
        raise Error("cannot read an image from %s (give a path, bytes, a PIL image or an (H, W, 3) uint8 array)"
                    % type(image).__name__)

    def classify(self, image: Image, top: int = 5, prune: Prune = None) -> List[Tuple[int, float, str]]:
        """The `top` most probable classes of one image: [(index, probability, name), ...], best first."""
        if self.num_classes <= 0:
            raise Error("the model has no classifier head (num_classes 0)")
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise Error("top must be a positive integer, got %r" % (top,))
        logits = self.run(self.preprocess(image), prune)
        return [tuple(p) for p in self._m.top_k(logits, top)]  # type: ignore[misc]

    def show_tokens(self, image: Image, prune: Prune = None, *, legend: bool = True) -> np.ndarray:
        """A picture of the tokens a schedule keeps for one image (`pomt classify --show-tokens`):
        (H, W, 3) uint8, the model's input de-normalised to RGB with dropped patches dimmed,
        POMT-merged patches dimmed and hatched magenta, ToMe groups filled with their mean colour,
        and (legend=True) the legend strip under it, so (H + strip, W, 3). Drawing rules:
        docs/SCHEDULES.md. image: anything preprocess() takes, or its (C, H, W) float32 output.
        """
        x = image if isinstance(image, np.ndarray) and image.dtype == np.float32 else self.preprocess(image)
        if x.shape != self.input_shape:
            raise Error("show_tokens needs one (C, H, W) image of shape %s, got %s" % (self.input_shape, x.shape))
        rgb, input_height, _ = self._m.show_tokens(np.ascontiguousarray(x), _schedule(prune))
        return rgb if legend else rgb[:input_height]

    def describe(self, prune: Prune) -> str:
        """Checks a schedule against this model: "pomt R=56 at block 3", "none"; raises pomt.Error if it cannot apply."""
        return self._m.describe(_schedule(prune))

    def warnings(self, prune: Prune) -> List[str]:
        """What the command line warns about this schedule on this model, one line each (empty: nothing):
        a step that changes nothing (R=0, or at the last block of a class-token model, which computes the
        class token's row only), or pruning that leaves almost no patch token. Raises pomt.Error as describe."""
        return list(self._m.warnings(_schedule(prune)))

    def profile(self, prune: Prune = None, *, threads: Optional[int] = None, batch: int = 1, runs: int = 30,
                warmup: int = 3) -> Latency:
        """Latency of this model (with a schedule) as `pomt bench` measures it: median/p10/p90 ms per run."""
        s = _schedule(prune)
        t = _threads(threads) or self.threads
        median, p10, p90, mn, n, slow, disturbed, warning = self._m.profile(s, t, batch, runs, warmup)
        return Latency(median, p10, p90, mn, n, t, batch, self._m.describe(s), slow, disturbed, warning)

    def _time_cpp_runs(self, x: np.ndarray, runs: int) -> List[float]:
        """Per-call milliseconds of the C++ Workspace::run_batch on one image (overhead measurements)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        return self._m.time_cpp_runs(x, runs)


def _is_pil_image(obj: Any) -> bool:
    try:
        from PIL import Image as PILImage
    except ImportError:
        return False
    return isinstance(obj, PILImage.Image)


def load(path: Union[str, "os.PathLike[str]"], threads: Optional[int] = None,
         max_memory: Optional[int] = None) -> Model:
    """Memory-maps a .pomt model (convert timm weights with pomt.convert).

    threads: threads per run (default every core). max_memory: activation bytes a run may use
    (default half the physical memory).
    """
    path, mm, t = os.fsdecode(path), _max_memory(max_memory), _threads(threads)
    # The absolute path: executor workers load the file again, whatever their (or our later) cwd.
    return Model(_pomt.load(path, mm, t), ("file", os.path.abspath(path), t, mm))


def from_arch(name: str, seed: int = 0, threads: Optional[int] = None, max_memory: Optional[int] = None) -> Model:
    """A timm architecture ("deit_tiny_patch16_224", ...) with seeded random weights: latency work, tests."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise Error("seed must be a non-negative integer, got %r" % (seed,))
    mm, t = _max_memory(max_memory), _threads(threads)
    return Model(_pomt.random(name, seed, mm, t), ("arch", name, seed, t, mm))


def evaluate(model: Model, data: Union[str, "os.PathLike[str]"], prune: Prune = None, limit: int = 0,
             threads: Optional[int] = None, *, root: Optional[str] = None, skip_bad: bool = False,
             executor: Any = None, chunk: Optional[int] = None, shards: Optional[int] = None) -> EvalResult:
    """Top-1/top-5 accuracy on a labelled set, as `pomt eval`: data is a "path label" list file
    (e.g. imagenet-val-1300/labels.txt; paths relative to `root`, default the list's folder) or a
    folder with one sub-folder per class. limit: the first `limit` images (0: all). skip_bad:
    count unreadable images as skipped and go on (else the first one, in list order, raises).

    executor: any concurrent.futures.Executor (ThreadPoolExecutor, ProcessPoolExecutor, dask's
    Client.get_executor(), ...) to spread the work: the images are cut into shards of `chunk`
    consecutive images (default 256), or into `shards` shards of equal size, one task each. Each
    task loads the model itself (so the model must come from pomt.load or pomt.from_arch: it is
    loaded again from its absolute path or rebuilt from (architecture, seed), with the same
    threads and max_memory) and reads `data` and the images at the paths given here, so workers
    must see the same files at the same paths (give absolute paths when their folder differs).
    `threads` applies per task; the schedule is shipped pickled (a spec, or a schedule file's
    text). The shards are merged in list order: the result is the local run's, image by image
    (the same EvalResult, per-image outcomes, top1/top5 and first error), as long as the workers'
    CPUs run the same kernels (pomt.isa()).
    """
    if not isinstance(model, Model):
        raise Error("evaluate needs a pomt.Model, got %s" % type(model).__name__)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise Error("limit must be a non-negative integer, got %r" % (limit,))
    data_path, root_path = os.fsdecode(data), os.fsdecode(root) if root else ""
    s, t = _schedule(prune), _threads(threads)
    if executor is None:
        if chunk is not None or shards is not None:
            raise Error("chunk and shards split the work for an executor: give executor= too")
        n, done, skipped, top1, top5, rows = model._m.evaluate(data_path, root_path, s, limit, t, skip_bad)
        return EvalResult(n, done, skipped, top1, top5, [ImageOutcome(*r) for r in rows])
    return _evaluate_sharded(model, data_path, root_path, s, limit, t, skip_bad, executor, chunk, shards)


def _evaluate_sharded(model: Model, data: str, root: str, s: Optional["_pomt.Schedule"], limit: int, threads: int,
                      skip_bad: bool, executor: Any, chunk: Optional[int], shards: Optional[int]) -> EvalResult:
    if not callable(getattr(executor, "submit", None)):
        raise Error("executor must be a concurrent.futures.Executor (e.g. ThreadPoolExecutor, or dask's "
                    "Client.get_executor()), got %s" % type(executor).__name__)
    for value, what in ((chunk, "chunk"), (shards, "shards")):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise Error("%s must be a positive integer, got %r" % (what, value))
    if chunk is not None and shards is not None:
        raise Error("give chunk (images per shard) or shards (number of shards), not both")
    if model._source is None:
        raise Error("evaluate with an executor needs a model loaded from a file (pomt.load) or an architecture "
                    "(pomt.from_arch): each worker loads it again, and this one has neither")
    # The same checks as the local run (schedule, list, labels), here and before any task starts.
    n = model._m.count_images(data, root, s, limit)
    size = -(-n // shards) if shards is not None else chunk or 256
    ref = _ModelRef(model)
    # Distinct per call: executors that reuse results by arguments (dask's tasks are "pure" by
    # default) must not hand back an earlier call's shard after the files changed.
    call = os.urandom(8).hex()
    futures = [executor.submit(_evaluate_shard, ref, data, root, s, threads, skip_bad, first, min(size, n - first),
                               call) for first in range(0, n, size)]
    rows: List[Any] = []
    try:
        for f in futures:  # in list order, so a failure raises the local run's error: the first bad image's
            rows.extend(f.result()[5])
    except BaseException:
        for f in futures:
            f.cancel()  # the shards not started yet
        raise
    per_image = [ImageOutcome(*r) for r in rows]
    done = sum(o.top1 >= 0 for o in per_image)
    c1, c5 = sum(o.correct1 for o in per_image), sum(o.correct5 for o in per_image)
    # The percentages as eval/evaluate.h computes them, to the last bit.
    return EvalResult(n, done, n - done, 100.0 * c1 / done if done else 0.0, 100.0 * c5 / done if done else 0.0,
                      per_image)


_worker_models: Dict[_Source, Model] = {}  # in an executor's worker process: the last models loaded
_worker_models_lock = threading.Lock()
atexit.register(_worker_models.clear)  # before the extension is torn down


class _ModelRef:
    """The model of an executor task: the live Model in this process (a thread pool: nothing is
    pickled), and once pickled to another process only its source, to load it there (once per
    process: the last two models are kept)."""

    def __init__(self, model: Model):
        self.source = model._source
        self.identity = (model.architecture, model.num_outputs)
        self.model: Optional[Model] = model

    def __getstate__(self) -> Tuple[Any, ...]:
        return (self.source, self.identity)

    def __setstate__(self, state: Tuple[Any, ...]) -> None:
        self.source, self.identity = state
        self.model = None

    def get(self) -> Model:
        if self.model is not None:
            return self.model
        with _worker_models_lock:
            m = _worker_models.get(self.source)
        if m is None:
            if self.source[0] == "file":
                _, path, threads, max_memory = self.source
                m = Model(_pomt.load(path, max_memory, threads), self.source)
                if (m.architecture, m.num_outputs) != self.identity:  # another file at that path
                    raise Error("the model file %s on this worker is a %s with %d outputs, not the %s with %d "
                                "outputs pomt.load read" % ((path, m.architecture, m.num_outputs) + self.identity))
            else:
                _, name, seed, threads, max_memory = self.source
                m = Model(_pomt.random(name, seed, max_memory, threads), self.source)
            with _worker_models_lock:
                while len(_worker_models) >= 2:
                    del _worker_models[next(iter(_worker_models))]
                _worker_models[self.source] = m
        return m


def _evaluate_shard(ref: _ModelRef, data: str, root: str, s: Optional["_pomt.Schedule"], threads: int,
                    skip_bad: bool, first: int, count: int, call: str) -> Tuple[Any, ...]:
    """One task of pomt.evaluate(executor=...): images [first, first + count) of the list (`call`
    only tells calls apart). Module-level so that pickle and cloudpickle send it by name; it needs
    only this package and the files."""
    return ref.get()._m.evaluate(data, root, s, 0, threads, skip_bad, first, count)


@dataclasses.dataclass(frozen=True)
class TokenPoint:
    """One token count n of the paper's search: L(n), A(n) (measured or interpolated) and U(n)."""
    tokens: int
    latency_ms: float
    accuracy: float
    accuracy_measured: bool
    utility: float


@dataclasses.dataclass(frozen=True)
class ScheduleResult:
    """What pomt.schedule found: n* = argmax U(n), the POMT schedule leaving n* tokens after `layer`,
    the curves behind it, and (when verified) the deployed schedule's latency measured interleaved
    with the unpruned model. `json` is the schedule file `pomt schedule -o` writes."""
    n_star: int
    tokens_full: int
    layer: int
    r: int
    reference_r: int
    description: str
    images: int
    latency: List[Tuple[int, float, float, float, int]]  # (tokens, median_ms, p10_ms, p90_ms, runs): L(n)
    points: List[TokenPoint]
    verified: bool
    baseline_ms: float
    schedule_ms: float
    reference_ms: float
    json: str
    # The verification looked disturbed by other load and was measured again (the numbers above are
    # the second measurement); verify_warning is a one-line warning when that one did too, else "".
    verify_remeasured: bool = False
    verify_warning: str = ""

    @property
    def schedule(self) -> Optional["Schedule"]:
        """The schedule itself, for Model.run(prune=...); None when no pruning pays."""
        return Schedule.parse("pomt:R=%d,layer=%d" % (self.r, self.layer)) if self.r > 0 else None


def schedule(model: Model, data: Union[str, "os.PathLike[str]"], *, root: Optional[str] = None, images: int = 1024,
             alpha: float = 0.5, layer: Optional[int] = None, tokens: Optional[Tuple[int, int, int]] = None,
             coarse_step: int = 8, threads: Optional[int] = None, latency_csv: Optional[str] = None,
             fast: bool = False, verify: bool = True, verify_runs: int = 30, seed: int = 0, skip_bad: bool = False,
             progress: Optional[Callable[[str, int, int], Optional[bool]]] = None) -> ScheduleResult:
    """The paper's offline computation on this device, as `pomt schedule`: L(n) measured here (or
    read from a `pomt profile` CSV), A(n) of random pruning on the first `images` images of `data`
    (a "path label" list or class folders), U(n) = alpha(1 - L/max L) + (1 - alpha) A/max A,
    n* = argmax U, and POMT at `layer` (default block 3) pruning to n*. tokens = (lowest, highest,
    step) limits n (0 = the model's bound). progress(phase, done, total) is called as it goes;
    returning False cancels (pomt.Error)."""
    if not isinstance(model, Model):
        raise Error("schedule needs a pomt.Model, got %s" % type(model).__name__)
    lo, hi, step = tokens if tokens is not None else (0, 0, 1)
    r = _pomt.search_schedule(model._m, os.fsdecode(data), os.fsdecode(root) if root else "", images, skip_bad,
                              seed, float(alpha), -1 if layer is None else layer, lo, hi, step, coarse_step,
                              _threads(threads), os.fsdecode(latency_csv) if latency_csv else "", fast, verify,
                              verify_runs, progress)
    n_star, full, lay, rr, ref_r, desc, n_img, latency, points, verified, base, sched, ref, text, again, warning = r
    return ScheduleResult(n_star, full, lay, rr, ref_r, desc, n_img, list(latency), [TokenPoint(*p) for p in points],
                          verified, base, sched, ref, text, again, warning)


def convert(src: Union[str, "os.PathLike[str]"], out: Union[str, "os.PathLike[str]"], arch: Optional[str] = None,
            config: Optional[str] = None, *, image_size: Optional[int] = None) -> ConvertReport:
    """timm weights -> a .pomt file, as `pomt convert`: src is a hub folder (config.json +
    model.safetensors) or a .safetensors file (with config= a config.json, or arch= a timm name).
    image_size=S converts for S x S inputs as timm's create_model(..., img_size=S) does (the
    position embedding resampled bicubically with antialiasing, the preprocessing's input size S)."""
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size <= 0):
        raise Error("image_size must be a positive integer, got %r" % (image_size,))
    a, n, p, names = _pomt.convert(os.fsdecode(src), os.fsdecode(out), os.fsdecode(config) if config else "",
                                   arch or "", int(image_size or 0))
    return ConvertReport(os.fsdecode(out), a, n, p, names)


def quantize(src: Union[str, "os.PathLike[str]"], out: Union[str, "os.PathLike[str]"], attention: str = "fp32") -> None:
    """An fp32 .pomt -> its int8 version, as `pomt quantize src -o out --attention ATTENTION`
    (Linear weights int8 per output channel, activations quantized per token at run time; .pomt
    format version 3). attention: "fp32" (default) or "int8" (Q·Kᵀ and P·V on the int8 kernels,
    Q, K, V per token and head, the probabilities per row; softmax in fp32), recorded in the file.
    pomt.load(out) runs it with the int8 kernels."""
    if attention not in ("fp32", "int8"):
        raise Error("attention must be 'fp32' or 'int8', got %r" % (attention,))
    _pomt.quantize(os.fsdecode(src), os.fsdecode(out), attention)


def read_weights(path: Union[str, "os.PathLike[str]"]) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """Every tensor of a .pomt file, read by pomt's own reader (any format version; everything
    checked as pomt.load checks it): (config, tensors).

    config: the model configuration, the header's "model" object (docs/FORMAT.md: architecture,
    img_size, patch_size, embed_dim, depth, num_heads, mlp_hidden, num_classes, class_token,
    distilled, reg_tokens, global_pool, ...). tensors: {timm name: C-contiguous numpy array of timm's
    shape}, in the file's order; the stored layouts are undone, so a Linear weight is [out, in] as in
    the timm state dict. An fp32 file (versions 1 and 2) gives float32 arrays, one per parameter.
    An int8 file (version 3) gives each int8 Linear weight "NAME" as int8 wq (timm's shape), with
    "NAME_scale" (float32 [out]) and "NAME_sum" (int32 [out]: each output's sum of wq) beside it;
    the float weight is wq times the scale of its output (per output channel, symmetric:
    wq * scale.reshape(-1, 1, ...)). Its other tensors, and a Linear layer left in fp32, are float32.
    """
    text, tensors = _pomt.read_weights(os.fsdecode(path))
    import json
    return json.loads(text), dict(tensors)


def architectures() -> List[str]:
    """The timm architecture names from_arch takes (as `pomt info --architectures`); the vit_/deit_/deit3_
    names also take other _patchP_IMG sizes."""
    return list(_pomt.architectures())


def isa() -> str:
    """The instruction set the kernels dispatched to on this CPU (e.g. "avx512", "avx2", "neon")."""
    return _pomt.isa()


# ---- timm (optional: torch and timm are not dependencies)

_DTYPES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}


def _write_safetensors(path: str, tensors: Dict[str, np.ndarray]) -> None:
    """A .safetensors file of numpy arrays (F32/F16), written by hand: no safetensors dependency."""
    import json
    header: Dict[str, Any] = {}
    offset = 0
    arrays = []
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        if a.dtype not in (np.float32, np.float16):
            a = a.astype(np.float32)
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        header[name] = {"dtype": _DTYPES[a.dtype.name], "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        arrays.append(a)
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(len(blob).to_bytes(8, "little"))
        f.write(blob)
        for a in arrays:
            f.write(a.tobytes())


def _write_hub(folder: str, hub: Dict[str, Any], tensors: Dict[str, np.ndarray]) -> None:
    """A timm hub folder (config.json + model.safetensors), as pomt.convert reads it."""
    import json
    _write_safetensors(os.path.join(folder, "model.safetensors"), tensors)
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        json.dump(hub, f)


def _timm_hub_config(model: Any) -> Dict[str, Any]:
    """config.json of a live timm VisionTransformer: its architecture name plus the overrides
    (model_args) pomt needs to rebuild its shape."""
    cfg = dict(getattr(model, "pretrained_cfg", None) or {})
    arch = cfg.get("architecture")
    if not arch:
        raise Error("from_timm: the model has no pretrained_cfg['architecture'] (create it with timm.create_model)")
    blocks = list(model.blocks)
    embed = int(model.embed_dim)
    fc1 = blocks[0].mlp.fc1
    ls = getattr(blocks[0], "ls1", None)
    args: Dict[str, Any] = {
        "embed_dim": embed, "depth": len(blocks), "num_heads": int(blocks[0].attn.num_heads),
        "mlp_ratio": fc1.out_features / embed,
        "patch_size": int(model.patch_embed.patch_size[0]), "img_size": int(model.patch_embed.img_size[0]),
        "in_chans": int(model.patch_embed.proj.in_channels),
        "qkv_bias": blocks[0].attn.qkv.bias is not None,
        "class_token": getattr(model, "cls_token", None) is not None,
        "no_embed_class": bool(getattr(model, "no_embed_class", False)),
        "reg_tokens": int(getattr(model, "num_reg_tokens", 0)),
        "init_values": 1.0 if ls is not None and hasattr(ls, "gamma") else None,
        "fc_norm": type(getattr(model, "fc_norm", None)).__name__ not in ("Identity", "NoneType"),
        "pre_norm": type(getattr(model, "norm_pre", None)).__name__ not in ("Identity", "NoneType"),
    }
    keep = ("input_size", "interpolation", "crop_pct", "crop_mode", "mean", "std")
    return {"architecture": arch, "num_classes": int(model.num_classes),
            "global_pool": getattr(model, "global_pool", "token") or "token", "model_args": args,
            "pretrained_cfg": {k: cfg[k] for k in keep if k in cfg}}


def from_timm(model: Any, threads: Optional[int] = None, max_memory: Optional[int] = None) -> Model:
    """A live timm ViT/DeiT/DeiT III (needs torch + timm) as a pomt Model: its state_dict and config
    go through a temporary hub folder (hand-written safetensors) and pomt.convert, in memory otherwise."""
    hub = _timm_hub_config(model)
    tensors = {k: v.detach().cpu().float().numpy() for k, v in model.state_dict().items()}
    with tempfile.TemporaryDirectory(prefix="pomt-timm-") as d:
        _write_hub(d, hub, tensors)
        out = os.path.join(d, "model.pomt")
        convert(d, out)
        # The model is memory-mapped: the mapping outlives the temporary folder's removal (POSIX).
        # No source: the file is gone, so no executor worker can load it again.
        return Model(load(out, threads, max_memory)._m)
