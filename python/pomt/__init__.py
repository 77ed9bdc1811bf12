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
docs/SCHEDULES.md) or a `pomt.Schedule` (Schedule.parse(spec), Schedule.load(path),
Schedule.from_json(text)). A schedule file chosen in another precision (Schedule.precision "int8"
or "bf16", as pomt.search_pareto may choose for an fp32 model) runs on that precision's model, as the command
line runs it: run, classify, show_tokens, profile and evaluate use Model.for_schedule(prune).
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
    "ScheduleResult", "TokenPoint", "ParetoPlan", "ParetoResult", "load", "from_arch", "evaluate", "schedule",
    "search_pareto", "convert", "quantize", "read_weights",
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
# threads and max_memory as the engine takes them (0: the default), or ("precision", "int8", the
# fp32 model's source) for the int8 version Model.for_schedule made of it.
_Source = Tuple[Any, ...]


class Model:
    """A loaded model (pomt.load / pomt.from_arch / pomt.from_timm). Thread-safe; see the package doc."""

    def __init__(self, engine: "_pomt.Model", source: Optional[_Source] = None):
        self._m = engine
        self._source = source
        self._in_precision: Dict[str, Model] = {}  # for_schedule's conversions, made once
        self._in_precision_lock = threading.Lock()

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

    @property
    def precision(self) -> str:
        """The weights' numeric format: "fp32", "int8" or "bf16" (a `pomt quantize` file or its version in memory)."""
        return self._m.precision

    def for_schedule(self, prune: Prune) -> "Model":
        """The model a schedule runs on: this one, or for a plan chosen in int8 or bf16
        (Schedule.precision, as pomt.search_pareto writes it) from this fp32 model its version in
        that precision, made in memory once (kept on this Model) exactly as pomt.quantize makes the
        file: the same logits as running that file. A plan in another precision than an int8 or
        bf16 model's is a pomt.Error (their weights cannot be widened back)."""
        s = _schedule(prune)
        want = s.precision if s is not None else ""
        if not want or want == self._m.precision:
            return self
        with self._in_precision_lock:  # one conversion, however many threads ask at once
            m = self._in_precision.get(want)
            if m is None:
                source = ("precision", want, self._source) if self._source is not None else None
                m = self._in_precision[want] = Model(self._m.for_schedule(s), source)
        return m

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
        s = _schedule(prune)
        engine = self._m if s is None or not s.precision else self.for_schedule(s)._m
        engine.run_into(x, out, s)
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
        s = _schedule(prune)
        rgb, input_height, _ = self.for_schedule(s)._m.show_tokens(np.ascontiguousarray(x), s)
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
        median, p10, p90, mn, n, slow, disturbed, warning = self.for_schedule(s)._m.profile(s, t, batch, runs, warmup)
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
        n, done, skipped, top1, top5, rows = model.for_schedule(s)._m.evaluate(data_path, root_path, s, limit, t,
                                                                                skip_bad)
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
    # The same checks as the local run (schedule, list, labels, precision), here and before any task
    # starts; the int8 version a plan may need is made by each worker, not here.
    _check_precision(model, s)
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
        return _worker_model(self.source, self.identity)


def _worker_model(source: _Source, identity: Tuple[str, int]) -> Model:
    """The model `source` describes, in an executor's worker: loaded once per process."""
    if source[0] == "precision":  # kept on its fp32 model (Model.for_schedule), so made once too
        return _worker_model(source[2], identity).for_schedule(Schedule.from_json('{"precision": "%s"}' % source[1]))
    with _worker_models_lock:
        m = _worker_models.get(source)
    if m is None:
        if source[0] == "file":
            _, path, threads, max_memory = source
            m = Model(_pomt.load(path, max_memory, threads), source)
            if (m.architecture, m.num_outputs) != identity:  # another file at that path
                raise Error("the model file %s on this worker is a %s with %d outputs, not the %s with %d "
                            "outputs pomt.load read" % ((path, m.architecture, m.num_outputs) + identity))
        else:
            _, name, seed, threads, max_memory = source
            m = Model(_pomt.random(name, seed, max_memory, threads), source)
        with _worker_models_lock:
            while len(_worker_models) >= 2:
                del _worker_models[next(iter(_worker_models))]
            _worker_models[source] = m
    return m


def _evaluate_shard(ref: _ModelRef, data: str, root: str, s: Optional["_pomt.Schedule"], threads: int,
                    skip_bad: bool, first: int, count: int, call: str) -> Tuple[Any, ...]:
    """One task of pomt.evaluate(executor=...): images [first, first + count) of the list (`call`
    only tells calls apart). Module-level so that pickle and cloudpickle send it by name; it needs
    only this package and the files."""
    return ref.get().for_schedule(s)._m.evaluate(data, root, s, 0, threads, skip_bad, first, count)


def _check_precision(model: Model, s: Optional["_pomt.Schedule"]) -> None:
    """What Model.for_schedule refuses, without converting anything (Classifier::for_schedule's words)."""
    if s is not None and s.precision and s.precision != model.precision and model.precision != "fp32":
        raise Error("the plan runs in %s and the model is %s: give the fp32 model file it was chosen with"
                    % (s.precision, model.precision))


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


@dataclasses.dataclass(frozen=True)
class ParetoPlan:
    """One candidate plan of pomt.search_pareto and what the search learnt about it
    (include/pomt/search.h, ParetoPlan): accuracy in percent on its first `images` estimation
    images, the loss in top-1 points against the unpruned model on the same images with its
    interval, the measured median when it was timed, and the confirmation images' figures when the
    budget's rule (or the report) evaluated it there."""
    method: str            # "none", "pomt", "topk", "tome", "random", "compare" (the compare= file)
    family: str            # how it was generated ("constant", "one block", "given", ...)
    spec: str              # a prune spec (docs/SCHEDULES.md), "@FILE" for the compare= plan
    precision: str         # "fp32", "int8" or "bf16"
    predicted_ms: float
    predicted_ratio: float
    images: int
    top1: float
    top5: float
    loss: float
    loss_low: float
    loss_high: float
    dropped_round: int     # the halving round that dropped it; -1: evaluated on every image
    measured: bool
    measured_ms: float
    measured_ratio: float
    on_front: bool
    confirmed: bool
    confirm_images: int
    confirm_top1: float
    confirm_loss: float
    confirm_high: float


@dataclasses.dataclass(frozen=True)
class ParetoResult:
    """What pomt.search_pareto found (include/pomt/search.h, ParetoSearchResult): every candidate
    (plans[0] the unpruned model), the chosen plan and why, and `json`, the schedule file
    `pomt schedule --search pareto -o` writes ("" when nothing was chosen). `schedule` is the chosen
    plan as a Schedule carrying its precision: Model.run(x, prune=r.schedule) runs it as chosen."""
    architecture: str
    threads: int
    batch: int
    images: int                 # estimation images
    tokens_full: int
    z: float
    plans: List[ParetoPlan]
    chosen_index: int           # into plans; -1: no plan meets the budget
    choice: str                 # the budget and why this plan
    compare_index: int          # the compare= plan, or -1
    confirm_images: int         # confirmation images (0: none)
    confirm_source: str
    loss_rule: str              # "confirmed", "estimate", "bound"
    confidence: float
    data_note: str
    rounds: List[Tuple[int, int]]  # (images, candidates) of each halving round
    image_evaluations: int
    precisions: List[str]       # searched, plans[0]'s first
    precision_sources: List[str]  # where each one's block latency B(n) came from
    block_latency: List[List[Tuple[int, float, float, float, int]]]  # each one's B(n): (tokens, median, p10, p90, runs)
    overhead_ms: float
    after_prune_share: float
    last_block_share: float
    verify_runs: int
    baseline_ms: float          # the unpruned model's measured median
    verify_remeasured: bool
    verify_warning: str
    json: str
    schedule: Optional["Schedule"] = dataclasses.field(default=None, compare=False)

    @property
    def chosen(self) -> Optional[ParetoPlan]:
        return self.plans[self.chosen_index] if self.chosen_index >= 0 else None


def _number(value: Any, what: str, lo: float, hi: float, lo_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            (value > lo if lo_open else value >= lo) and value <= hi):
        raise Error("%s must be a number in %s%g, %g], got %r" % (what, "(" if lo_open else "[", lo, hi, value))
    return float(value)


def _count(value: Any, what: str, lo: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise Error("%s must be an integer of at least %d, got %r" % (what, lo, value))
    return value


def _path(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, (str, os.PathLike)) or not os.fsdecode(value):
        raise Error("%s must be a file path, got %r" % (what, value))
    return os.fsdecode(value)


def _names(value: Any, separator: str, what: str) -> List[str]:
    """None, a string of names joined by `separator` (as the command line takes them) or a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return value.split(separator)
    if isinstance(value, (list, tuple)) and all(isinstance(x, str) for x in value):
        return list(value)
    raise Error("%s, got %r" % (what, value))


def _writable(path: str, what: str) -> None:
    """Refused before the search, not after minutes of it."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise Error("cannot write %s %s: its folder %s does not exist or is not writable" % (what, path, folder))


def _write_atomic(path: str, text: str) -> None:
    """As the command line writes a file: a temporary file beside it, renamed over it (readers see
    the old file or the new one, never a part)."""
    tmp = "%s.tmp-%d-%s" % (path, os.getpid(), os.urandom(4).hex())
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise Error("cannot write %s: %s" % (path, e.strerror or e)) from None


def search_pareto(model: Model, data: Union[str, "os.PathLike[str]"], *, root: Optional[str] = None,
                  images: int = 1024, confirm: Optional[int] = None,
                  confirm_data: Optional[Union[str, "os.PathLike[str]"]] = None, confirm_root: Optional[str] = None,
                  precision: Optional[Union[str, Sequence[str]]] = None, max_loss: Optional[float] = None,
                  max_ms: Optional[float] = None, max_ratio: Optional[float] = None, alpha: Optional[float] = None,
                  rule: Optional[str] = None, confidence: Optional[float] = None, threads: Optional[int] = None,
                  batch: int = 1, fast: bool = False, first_images: Optional[int] = None,
                  max_measured: Optional[int] = None, latency_step: Optional[int] = None, z: float = 1.96,
                  block_latency: Optional[str] = None, block_latency_int8: Optional[str] = None,
                  block_latency_bf16: Optional[str] = None, latency: Optional[str] = None,
                  compare: Optional[str] = None,
                  also: Optional[Union[str, Sequence[str]]] = None, verify_runs: int = 30, skip_bad: bool = False,
                  executor: Any = None, chunk: Optional[int] = None, out: Optional[Union[str, "os.PathLike[str]"]] = None,
                  svg_prefix: Optional[str] = None,
                  progress: Optional[Callable[[str, int, int], Optional[bool]]] = None) -> ParetoResult:
    """The Pareto search of `pomt schedule --search pareto` (docs/RESULTS.md): every method's
    candidate plans (POMT at one or two blocks, Top-K, ToMe, random) in each precision, latency
    predicted from per-block tables B(n) (measured here, or read from `pomt profile --mode block
    --csv` files of the target: block_latency=, and block_latency_int8= / block_latency_bf16= for
    the int8 / bf16 version of an fp32 model), accuracy by successive halving on the first `images`
    images of `data` (a "path label" list or class folders), the front measured here for real, and
    one plan chosen by the budget: max_loss (top-1 points, judged by `rule`: "confirmed" (default)
    on confirmation images at `confidence` (default 0.9), "estimate" or "bound"), max_ms, max_ratio
    (of the unpruned latency) or alpha (the paper's utility; the default when no budget is given).

    confirm: confirmation images after the estimation ones (None: automatic, 0: none), or from
    confirm_data (confirm_root as root). precision: "fp32", "int8", "bf16", "fp32,int8,bf16" or a
    list (default: "fp32,int8" from an fp32 model, an int8 or bf16 model's own; bf16 pays only on
    CPUs with bf16 dot products, docs/SCHEDULES.md). also: more candidates, prune specs (a list, or
    "a|b"). compare: a schedule file carried to the end and measured (the paper's plan). latency:
    the model-mode rows of a `pomt profile` CSV. threads: of the latency measurements and of each
    evaluation, here or in an executor's task (None: every core here, the model's threads in a
    task, and a CSV's rows of any thread count, as the command line). first_images, max_measured,
    latency_step: the command line's defaults (halved work with fast=True) when None.

    executor: any concurrent.futures.Executor (dask's Client.get_executor(), ...) for the accuracy
    evaluations: each halving round's and each confirmation's plans, their images cut into tasks of
    `chunk` images (default 256), each loading the model itself as pomt.evaluate's tasks do (so the
    model must come from pomt.load or pomt.from_arch, and the workers must see `data` at the same
    path) and running the plan in its precision (the int8 or bf16 version made once per worker).
    Latency is still measured here, so run this on the machine the latency is for, or give
    block_latency CSVs profiled there. The accuracies are the local run's, image by image.

    out: writes the schedule file of the chosen plan, the same JSON as the command line's -o
    (atomically). svg_prefix: PREFIX-front.svg. progress(phase, done, total): as pomt.schedule's.
    A budget no plan meets raises pomt.Error with the reason (the command line's exit 2 line); the
    ParetoResult is its `result` attribute.
    """
    if not isinstance(model, Model):
        raise Error("search_pareto needs a pomt.Model, got %s" % type(model).__name__)
    data_path, root_path = _path(data, "data"), _path(root, "root")
    _count(images, "images", 0)
    confirm_n = -1 if confirm is None else _count(confirm, "confirm", 0)
    confirm_path, confirm_root_path = _path(confirm_data, "confirm_data"), _path(confirm_root, "confirm_root")
    if confirm_root_path and not confirm_path:
        raise Error("confirm_root applies only with confirm_data")
    precisions = _names(precision, ",", "precision must be 'fp32', 'int8', 'bf16', 'fp32,int8,bf16' or a list of them")
    for p in precisions:
        if p not in ("fp32", "int8", "bf16"):
            raise Error("precision takes fp32, int8 and/or bf16, not %r" % (p,))
    budgets = [name for name, v in (("max_loss", max_loss), ("max_ms", max_ms), ("max_ratio", max_ratio),
                                    ("alpha", alpha)) if v is not None]
    if len(budgets) > 1:
        raise Error("give one budget: max_loss, max_ms, max_ratio or alpha (got %s)" % ", ".join(budgets))
    loss = -1.0 if max_loss is None else _number(max_loss, "max_loss", 0, 100)
    ms = 0.0 if max_ms is None else _number(max_ms, "max_ms", 0, 1e9, lo_open=True)
    ratio = 0.0 if max_ratio is None else _number(max_ratio, "max_ratio", 0, 100, lo_open=True)
    a = -1.0 if alpha is None else _number(alpha, "alpha", 0, 1)
    if rule is not None and rule not in ("confirmed", "estimate", "bound"):
        raise Error("rule must be 'confirmed', 'estimate' or 'bound', got %r" % (rule,))
    if (rule is not None or confidence is not None) and max_loss is None:
        raise Error("%s applies only with max_loss" % ("rule" if rule is not None else "confidence"))
    if confidence is not None and rule not in (None, "confirmed"):
        raise Error("confidence applies only to rule 'confirmed'")
    conf = 0.9 if confidence is None else _number(confidence, "confidence", 0.5, 0.9999)
    extra = _names(also, "|", "also must be prune specs: a list of strings or 'spec|spec'")
    knobs = [0 if v is None else _count(v, what) for v, what in ((first_images, "first_images"),
                                                                (max_measured, "max_measured"),
                                                                (latency_step, "latency_step"))]
    if not isinstance(fast, bool) or not isinstance(skip_bad, bool):
        raise Error("fast and skip_bad must be True or False")
    out_path, svg = _path(out, "out"), _path(svg_prefix, "svg_prefix")
    if out_path:
        _writable(out_path, "the schedule file")
    if svg:
        _writable(svg + "-front.svg", "the SVG")
    remote = None
    if executor is not None:
        if skip_bad:
            raise Error("skip_bad cannot be used with an executor (the image positions must match)")
        remote = _remote_accuracy(model, data_path, root_path, confirm_path or data_path,
                                  confirm_root_path if confirm_path else root_path, _threads(threads), executor, chunk)
    elif chunk is not None:
        raise Error("chunk splits the work for an executor: give executor= too")
    r, text = _pomt.search_pareto(
        model._m, data_path, root_path, images, skip_bad, confirm_n, confirm_path, confirm_root_path, precisions,
        loss, ms, ratio, a, rule or "confirmed", conf, _number(z, "z", 0, 10, lo_open=True), _threads(threads),
        _count(batch, "batch"), fast, knobs[0], knobs[1], knobs[2], _count(verify_runs, "verify_runs"),
        _path(block_latency, "block_latency"), _path(block_latency_int8, "block_latency_int8"),
        _path(block_latency_bf16, "block_latency_bf16"),
        _path(latency, "latency"), _path(compare, "compare"), extra, svg, remote, progress)
    r["plans"] = [ParetoPlan(**p) for p in r["plans"]]
    r["rounds"] = [tuple(x) for x in r["rounds"]]
    r["block_latency"] = [list(t) for t in r["block_latency"]]
    result = ParetoResult(json=text, schedule=Schedule.from_json(text) if text else None, **r)
    if result.chosen_index < 0:
        e = Error(result.choice)
        e.result = result  # type: ignore[attr-defined]
        raise e
    if out_path:
        _write_atomic(out_path, text)
    return result


def _remote_accuracy(model: Model, data: str, root: str, confirm_data: str, confirm_root: str, threads: int,
                     executor: Any, chunk: Optional[int]) -> Callable[[List[Dict[str, Any]]], List[Any]]:
    """search_pareto's accuracy on an executor: remote(requests) -> [(top1, top5), ...], each
    request's images cut into tasks of `chunk`, their flags joined in request and image order."""
    if not callable(getattr(executor, "submit", None)):
        raise Error("executor must be a concurrent.futures.Executor (e.g. ThreadPoolExecutor, or dask's "
                    "Client.get_executor()), got %s" % type(executor).__name__)
    size = 256 if chunk is None else _count(chunk, "chunk")
    if model._source is None:
        raise Error("search_pareto with an executor needs a model loaded from a file (pomt.load) or an architecture "
                    "(pomt.from_arch): each worker loads it again, and this one has neither")
    ref = _ModelRef(model)
    call = os.urandom(8).hex()  # as in pomt.evaluate: no result of another call reused

    def remote(requests: List[Dict[str, Any]]) -> List[Any]:
        tasks: List[Tuple[int, Any]] = []
        try:
            for k, q in enumerate(requests):
                lst, rt = (confirm_data, confirm_root) if q["confirmation"] else (data, root)
                end = q["first"] + q["count"]
                for first in range(q["first"], end, size):
                    tasks.append((k, executor.submit(_evaluate_plan_shard, ref, lst, rt, q["schedule"], threads,
                                                     first, min(size, end - first), call)))
            replies: List[Tuple[List[Any], List[Any]]] = [([], []) for _ in requests]
            for k, f in tasks:
                got = f.result()
                try:  # the engine checks every entry; here only that there are two sequences to join
                    top1, top5 = got
                    replies[k][0].extend(top1)
                    replies[k][1].extend(top5)
                except (TypeError, ValueError):
                    raise Error("remote accuracy: a task returned %s, not a (top1, top5) pair of per-image flags"
                                % type(got).__name__) from None
        except BaseException:
            for _, f in tasks:
                f.cancel()  # the tasks not started yet
            raise
        return replies

    return remote


def _evaluate_plan_shard(ref: _ModelRef, data: str, root: str, schedule_text: str, threads: int, first: int,
                         count: int, call: str) -> Tuple[bytes, bytes]:
    """One task of search_pareto(executor=...): the per-image top-1 and top-5 correctness (one byte
    each, 0/1) of the plan a schedule file's text describes, in its precision, on images
    [first, first + count) of the list (`call` only tells calls apart)."""
    s = Schedule.from_json(schedule_text)
    rows = ref.get().for_schedule(s)._m.evaluate(data, root, s, 0, threads, False, first, count)[5]
    return bytes(r[3] for r in rows), bytes(r[4] for r in rows)


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


def quantize(src: Union[str, "os.PathLike[str]"], out: Union[str, "os.PathLike[str]"], attention: str = "fp32",
             precision: str = "int8") -> None:
    """An fp32 .pomt -> its int8 (or bf16) version, as `pomt quantize src -o out --precision PRECISION
    --attention ATTENTION`.

    precision "int8" (default): Linear weights int8 per output channel, activations quantized per
    token at run time (.pomt format version 3). precision "bf16": Linear weights rounded to bf16, each
    Linear's input rounded to bf16, sums in fp32 (.pomt format version 4; no calibration).
    attention: "fp32" (default), "int8" (int8 models: Q·Kᵀ and P·V on the int8 kernels, Q, K, V per
    token and head, the probabilities per row) or "bf16" (Q, K, V and the probabilities rounded to
    bf16, on the bf16 kernels); softmax in fp32, recorded in the file. pomt.load(out) runs it with
    the int8 or bf16 kernels."""
    if precision not in ("int8", "bf16"):
        raise Error("precision must be 'int8' or 'bf16', got %r" % (precision,))
    if attention not in ("fp32", "int8", "bf16"):
        raise Error("attention must be 'fp32', 'int8' or 'bf16', got %r" % (attention,))
    _pomt.quantize(os.fsdecode(src), os.fsdecode(out), attention, precision)


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
    A bf16 file (version 4) gives its bf16 Linear weights widened to float32 (exactly: every bf16
    value is a float32), the other tensors as stored.
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
