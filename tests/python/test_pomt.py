"""The Python package: timm fixtures through Model.run (plain and pruned), the real ViT-Tiny on a
real JPEG, preprocessing paths, bad inputs, threads, the GIL, and the no-extra-copy output."""
import contextlib
import io
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc

import numpy as np
import pytest

import pomt
from conftest import FAMILIES, REPO, VIT_TINY, shared


def spec_of(case):
    if case["method"] == "pomt":
        return "pomt:R=%d,layer=%d" % (case["R"], case["layer"])
    return "%s:r=%d" % (case["method"], case["r"])


# ---- fidelity against timm (../shared fixtures)

@pytest.mark.parametrize("family", FAMILIES)
def test_fixture_baseline_and_pruned(converted, family):
    folder = shared("fixtures/" + family)
    cases = json.load(open(os.path.join(folder, "cases.json")))
    m = pomt.load(converted("fixtures/" + family), threads=2)
    x = np.load(os.path.join(folder, "input.npy"))
    ref = np.load(os.path.join(folder, "logits.npy"))
    got = m.run(x)
    assert got.shape == ref.shape and got.dtype == np.float32
    assert np.abs(got - ref).max() <= cases["baseline_tol"], family
    assert got.argmax() == ref.argmax()
    for case in cases["pruned"]:
        ref = np.load(os.path.join(folder, case["file"]))
        got = m.run(x, prune=spec_of(case))
        err = np.abs(got - ref).max()
        assert err <= case["tol"], "%s %s: max |diff| %g > %g" % (family, spec_of(case), err, case["tol"])
        assert got.argmax() == ref.argmax()
    # image.png through Model.preprocess: the timm eval transform, bit for bit.
    pre = m.preprocess(os.path.join(folder, "image.png"))
    assert np.array_equal(pre, np.load(os.path.join(folder, "image_pre.npy"))[0])
    assert np.abs(m.run(pre[None]) - np.load(os.path.join(folder, "image_logits.npy"))).max() <= cases["baseline_tol"]


def test_every_fixture_family_is_tested():
    fixtures = shared("fixtures")
    others = sorted(d for d in os.listdir(fixtures) if os.path.isdir(os.path.join(fixtures, d)) and d not in FAMILIES)
    assert not others, "fixture folders no test runs: " + ", ".join(others)


def test_batch_equals_single_images(micro):
    x = np.random.default_rng(0).standard_normal((3,) + micro.input_shape).astype(np.float32)
    for prune in (None, "pomt:R=56,layer=1", "topk:r=8", "tome:r=8"):
        batch = micro.run(x, prune)
        singles = np.stack([micro.run(x[i], prune) for i in range(3)])
        np.testing.assert_allclose(batch, singles, rtol=0, atol=1e-4, err_msg=str(prune))


# ---- real model, real JPEG

def test_classify_real_jpeg_with_converted_vit_tiny(converted):
    ref_dir = shared(VIT_TINY + "/reference")
    data = shared("data/imagenet-val-1300")
    m = pomt.load(converted(VIT_TINY))
    assert m.num_classes == 1000 and m.input_shape == (3, 224, 224)
    path, label, timm_top1 = open(os.path.join(ref_dir, "images.txt")).readline().split()
    top = m.classify(os.path.join(data, path), top=5)
    assert len(top) == 5 and all(isinstance(t, tuple) and len(t) == 3 for t in top)
    assert top[0][0] == int(timm_top1)
    assert abs(sum(p for _, p, _ in m.classify(os.path.join(data, path), top=1000)) - 1) < 1e-6
    assert top[0][1] >= top[1][1] and isinstance(top[0][2], str) and top[0][2]
    # The same image as bytes, as a PIL image (when PIL is importable) and as an HWC uint8 array.
    raw = open(os.path.join(data, path), "rb").read()
    pre = m.preprocess(os.path.join(data, path))
    assert np.array_equal(m.preprocess(raw), pre)
    # The reference logits (timm float64 on timm's own preprocessing) within the real-image bound.
    ref = np.load(os.path.join(ref_dir, "logits.npy"))[0]
    assert m.run(np.load(os.path.join(ref_dir, "input.npy"))[:1])[0].argmax() == ref.argmax()
    try:
        from PIL import Image
    except ImportError:
        return
    img = Image.open(io.BytesIO(raw))
    rgb = np.asarray(img.convert("RGB"))
    assert np.array_equal(m.preprocess(rgb), m.preprocess(img))
    # PIL's and pomt's (stb_image) JPEG decoders differ by a few levels here and there: same class.
    assert m.run(m.preprocess(img)).argmax() == top[0][0]


def test_evaluate_a_few_real_images(converted):
    data = shared("data/imagenet-val-1300/labels.txt")
    m = pomt.load(converted(VIT_TINY), threads=2)
    r = pomt.evaluate(m, data, limit=8)
    assert r.images == 8 and r.evaluated == 8 and r.skipped == 0 and len(r.per_image) == 8
    assert 0 <= r.top1 <= r.top5 <= 100 and r.top1 >= 50
    pruned = pomt.evaluate(m, data, prune="pomt:R=56,layer=3", limit=8)
    assert pruned.evaluated == 8


# ---- evaluate on an executor: shards merged in list order, the local run image by image

EXECUTOR_ARCH = "deit_tiny_patch16_112"  # 49 patches: a few milliseconds an image


def write_labelled_images(folder, count, broken=()):
    """`count` small random PPM images (sizes vary, so the crop does work) and labels.txt; the
    indices in `broken` are files that are not images. Returns the list's path."""
    rng = np.random.default_rng(7)
    os.makedirs(os.path.join(str(folder), "img"), exist_ok=True)
    lines = []
    for i in range(count):
        rel = "img/%02d.%s" % (i, "jpg" if i in broken else "ppm")
        with open(os.path.join(str(folder), rel), "wb") as f:
            if i in broken:
                f.write(b"\xff\xd8\xff\xe0 not a JPEG")
            else:
                h, w = 40 + 3 * i, 56 - 2 * i
                f.write(b"P6\n%d %d\n255\n" % (w, h) + rng.integers(0, 256, (h, w, 3), dtype=np.uint8).tobytes())
        lines.append("%s %d" % (rel, i * 97 % 1000))
    path = os.path.join(str(folder), "labels.txt")
    open(path, "w").write("\n".join(lines) + "\n")
    return path


def relabel_to_hit(model, path):
    """Labels that a random model ranks first, third or 500th, image after image, so that neither
    top-1 nor top-5 accuracy is 0 or 100."""
    root = os.path.dirname(path)
    rows = [line.split() for line in open(path)]
    with open(path, "w") as f:
        for i, (rel, _) in enumerate(rows):
            f.write("%s %d\n" % (rel, model.classify(os.path.join(root, rel), top=1000)[(0, 2, 499)[i % 3]][0]))


@pytest.fixture(scope="module")
def executor_case(tmp_path_factory):
    """A random model from its architecture, 10 labelled images, a schedule file."""
    folder = tmp_path_factory.mktemp("executor")
    m = pomt.from_arch(EXECUTOR_ARCH, seed=1, threads=1)
    data = write_labelled_images(folder, 10)
    relabel_to_hit(m, data)
    schedule = os.path.join(str(folder), "schedule.json")
    json.dump({"steps": [{"method": "pomt", "layer": 1, "R": 20}], "prune": "topk:r=2,layer=3"}, open(schedule, "w"))
    return m, data, schedule


def spawn_pool():
    import concurrent.futures
    import multiprocessing
    # spawn: a fresh interpreter that has only the pickled task, as a cluster's worker.
    return concurrent.futures.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))


def assert_same_as_local(m, data, executor, **kw):
    local = pomt.evaluate(m, data, **kw)
    assert local.evaluated > 0
    for split in ({"chunk": 3}, {"shards": 2}, {}):
        got = pomt.evaluate(m, data, executor=executor, **dict(kw, **split))
        assert got == local, (kw, split)  # every field, every ImageOutcome, top1/top5 to the bit


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_evaluate_on_an_executor_is_the_local_run(executor_case, kind):
    import concurrent.futures
    m, data, schedule_file = executor_case
    with concurrent.futures.ThreadPoolExecutor(3) if kind == "threads" else spawn_pool() as ex:
        r = pomt.evaluate(m, data, executor=ex, chunk=3)
        assert r.images == 10 and 0 < r.top1 < r.top5 < 100
        for prune in (None, "pomt:R=20,layer=1", pomt.Schedule.parse("tome:r=4"), pomt.Schedule.load(schedule_file)):
            assert_same_as_local(m, data, ex, prune=prune)
        assert_same_as_local(m, data, ex, limit=7, threads=2)
        assert pomt.evaluate(m, data, limit=7, executor=ex, chunk=3).images == 7


def test_evaluate_on_an_executor_skips_and_fails_as_locally(tmp_path):
    import concurrent.futures
    m = pomt.from_arch(EXECUTOR_ARCH, seed=2, threads=1)
    data = write_labelled_images(tmp_path, 9, broken=(4, 7))  # shards [0,3) [3,6) [6,9): both bad ones in later shards
    for ex in (concurrent.futures.ThreadPoolExecutor(2), spawn_pool()):
        with ex:
            local = pomt.evaluate(m, data, skip_bad=True)
            assert local.skipped == 2 and local.per_image[4].error and local.per_image[7].error
            assert pomt.evaluate(m, data, skip_bad=True, executor=ex, chunk=3) == local
            # Without skip_bad the first bad image in list order stops both, with the same message.
            with pytest.raises(pomt.Error) as want:
                pomt.evaluate(m, data)
            with pytest.raises(pomt.Error) as got:
                pomt.evaluate(m, data, executor=ex, chunk=3)
            assert str(got.value) == str(want.value) and "04.jpg" in str(got.value)


def test_evaluate_on_an_executor_refuses_bad_arguments(executor_case, tmp_path):
    import concurrent.futures
    m, data, _ = executor_case
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        bad = [
            (dict(executor=object()), "concurrent.futures.Executor"),
            (dict(executor=ex, chunk=0), "chunk must be a positive integer"),
            (dict(executor=ex, shards=True), "shards must be a positive integer"),
            (dict(executor=ex, chunk=2, shards=2), "not both"),
            (dict(chunk=4), "give executor="),
            (dict(executor=ex, prune="pomt:R=20,layer=40"), "out of range"),
            (dict(executor=ex, limit=-1), "limit"),
        ]
        for kw, words in bad:
            with pytest.raises(pomt.Error, match=words) as e:
                pomt.evaluate(m, data, **kw)
            assert "\n" not in str(e.value)
        with pytest.raises(pomt.Error, match="no_list.txt"):
            pomt.evaluate(m, str(tmp_path / "no_list.txt"), executor=ex)
        # A model with no file to load again (as pomt.from_timm makes: its temporary file is gone).
        orphan = pomt.Model(m._m)
        with pytest.raises(pomt.Error, match="needs a model loaded from a file .* or an architecture"):
            pomt.evaluate(orphan, data, executor=ex)
    # The slice arguments of the engine's evaluate.
    for first, count in ((-1, -1), (0, -2), (11, -1), (8, 3), (1 << 30, 1 << 30)):
        with pytest.raises(pomt.Error, match="first|count|not within"):
            m._m.evaluate(data, "", None, 0, 1, False, first, count)
    n, _, _, _, _, rows = m._m.evaluate(data, "", None, 0, 1, False, 8, 2)
    assert n == 2 and [r[0] for r in rows] == [o.path for o in pomt.evaluate(m, data).per_image[8:]]
    assert m._m.count_images(data, "", None, 4) == 4


def test_schedules_pickle_as_their_spec_or_file_text(tmp_path):
    import pickle
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"steps": [{"method": "topk", "r": 8}]}))
    s = pomt.Schedule.load(str(path))
    path.unlink()  # the file's text travels with the schedule
    for t in (pomt.Schedule.parse("pomt:R=56,layer=3"), s):
        u = pickle.loads(pickle.dumps(t))
        assert repr(u) == repr(t) and u.empty == t.empty
    m = pomt.from_arch("vit_tiny_patch16_224", threads=1)
    assert m.describe(pickle.loads(pickle.dumps(s))) == m.describe(s)
    with pytest.raises(pomt.Error, match="R must be"):
        pickle.loads(pickle.dumps(pomt.Schedule.parse("pomt:R=56,layer=3")).replace(b"R=56", b"R=xx"))


def test_evaluate_real_images_on_processes(converted):
    """The real ViT-Tiny loaded from its file in each worker process: 64 ImageNet images, pruned."""
    data = shared("data/imagenet-val-1300/labels.txt")
    m = pomt.load(converted(VIT_TINY), threads=1)
    local = pomt.evaluate(m, data, "pomt:R=56,layer=3", limit=64)
    assert local.images == 64 and local.top1 >= 50
    with spawn_pool() as ex:
        assert pomt.evaluate(m, data, "pomt:R=56,layer=3", limit=64, executor=ex, shards=2) == local


def test_executor_workers_refuse_another_model_at_the_path(tmp_path, converted):
    import shutil
    path = str(tmp_path / "m.pomt")
    shutil.copy(converted("fixtures/micro"), path)
    m = pomt.load(path, threads=1)
    shutil.copy(converted("fixtures/deit3_micro"), path + ".new")
    os.replace(path + ".new", path)  # a new file: the mapping of the one loaded stays intact
    data = write_labelled_images(tmp_path, 2)
    open(data, "w").write("img/00.ppm 0\nimg/01.ppm 1\n")
    with spawn_pool() as ex, pytest.raises(pomt.Error, match="is a deit3_small_patch16_224 with 20 outputs, not the "
                                                             "vit_tiny_patch16_224 with 10 outputs pomt.load read"):
        pomt.evaluate(m, data, executor=ex)


@contextlib.contextmanager
def dask_executor():
    """A dask cluster's executor (skipped visibly when dask is not importable). One per test: a
    cluster left running disturbs the later tests' allocation and timing measurements."""
    try:
        import distributed
    except ImportError as e:  # not only absent: a broken install is a skip with its reason too
        pytest.skip("dask distributed is not importable (%s): pip install 'dask[distributed]', as the test "
                    "extras do" % e)
    # Two worker processes on the loopback, no dashboard: the cluster starts in about a second.
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client.get_executor()


def test_evaluate_on_a_dask_cluster(executor_case):
    m, data, schedule_file = executor_case
    with dask_executor() as ex:
        for prune in (None, pomt.Schedule.load(schedule_file)):
            local = pomt.evaluate(m, data, prune, limit=9)
            assert pomt.evaluate(m, data, prune, limit=9, executor=ex, chunk=4) == local


# ---- API surface

def test_schedule_describe_profile(micro, tmp_path):
    s = pomt.Schedule.parse("pomt:R=56,layer=1")
    assert "56" in micro.describe(s) and micro.describe(None) == "none"
    assert micro.describe("topk:r=4") == micro.describe(pomt.Schedule.parse("topk:r=4"))
    assert "pomt:R=56,layer=1" in repr(s)
    lat = micro.profile("tome:r=8", runs=5, warmup=1, threads=1)
    assert lat.runs == 5 and 0 < lat.p10_ms <= lat.median_ms <= lat.p90_ms and lat.threads == 1
    # The disturbance verdict: counted, and a warning exactly when disturbed (no timing asserted).
    assert 0 <= lat.slow_runs <= lat.runs and lat.disturbed == lat.warning.startswith("warning: ")
    with pytest.raises(pomt.Error):
        pomt.Schedule.load(str(tmp_path / "missing.json"))
    with pytest.raises(pomt.Error, match="block 40 is out of range"):
        micro.describe("pomt:R=56,layer=40")  # the micro model has 4 blocks
    assert "Model.run" in pomt.__doc__ or "run(" in pomt.__doc__
    assert pomt.Model.run.__doc__ and pomt.load.__doc__ and pomt.Schedule.__doc__


def test_from_arch_and_features():
    m = pomt.from_arch("deit_tiny_patch16_224", seed=3, threads=1)
    assert m.num_classes == 1000 and m.architecture == "deit_tiny_patch16_224"
    x = np.zeros((1, 3, 224, 224), np.float32)
    a, b = m.run(x), pomt.from_arch("deit_tiny_patch16_224", seed=3, threads=1).run(x)
    assert np.array_equal(a, b)


def test_version_is_the_package_metadata_and_the_cpp_header():
    from importlib.metadata import version
    assert pomt.__version__ == version("pomt")
    header = open(os.path.join(REPO, "include", "pomt", "version.h")).read()
    assert '#define POMT_VERSION "%s"' % pomt.__version__ in header


def test_architectures_and_the_unknown_name_message():
    names = pomt.architectures()
    assert "deit_tiny_patch16_224" in names and "vit_so400m_patch14_siglip_224" in names
    with pytest.raises(pomt.Error, match="did you mean vit_tiny_patch16_224.*pomt.architectures()"):
        pomt.from_arch("vit_tiny")


def test_schedule_warnings():
    m = pomt.from_arch("vit_tiny_patch16_224", threads=1)
    assert m.warnings(None) == [] and m.warnings("pomt:R=56,layer=3") == [] and m.warnings("tome:r=13") == []
    (w,) = m.warnings("pomt:R=56,layer=11")  # the last block computes the class token's row only
    assert "changes nothing" in w
    (w,) = m.warnings(pomt.Schedule.parse("tome:r=130"))
    assert "1 (2 tokens in all)" in w
    with pytest.raises(pomt.Error, match="out of range"):
        m.warnings("pomt:R=56,layer=12")


def test_show_tokens_picture():
    # A synthetic image and a random ViT-Tiny: the picture is the crop where nothing is pruned,
    # dimmed patches are (3v + 5) // 10 of the crop, and schedules give different pictures.
    m = pomt.from_arch("vit_tiny_patch16_224", seed=1, threads=1)
    yy, xx = np.mgrid[0:240, 0:260]
    img = np.stack([xx % 256, (yy * 3) % 256, (xx + yy) % 256], axis=-1).astype(np.uint8)
    x = m.preprocess(img)
    crop = m.show_tokens(x, legend=False)
    assert crop.dtype == np.uint8 and crop.shape == (224, 224, 3)
    mean, std = np.array([0.5, 0.5, 0.5]), np.array([0.5, 0.5, 0.5])  # vit_tiny's preprocessing config
    expect = np.clip(np.round(255 * (x.transpose(1, 2, 0) * std + mean)), 0, 255).astype(np.uint8)
    assert np.array_equal(crop, expect)
    full = m.show_tokens(img, "topk:r=8,layer=0")
    assert full.shape[0] > 224 and full.shape[1:] == (224, 3)  # the legend strip
    pic = full[:224].astype(int)
    patches = (pic.reshape(14, 16, 14, 16, 3) != crop.reshape(14, 16, 14, 16, 3)).any(axis=(1, 3, 4))
    assert patches.sum() == 8
    dimmed = (3 * crop.astype(int) + 5) // 10
    mask = np.repeat(np.repeat(patches, 16, 0), 16, 1)
    assert np.array_equal(pic[mask], dimmed[mask])
    assert not np.array_equal(m.show_tokens(x, "tome:r=8", legend=False), m.show_tokens(x, "pomt:R=56,layer=3", legend=False))
    with pytest.raises(pomt.Error):
        m.show_tokens(np.zeros((3, 10, 10), np.float32))


# ---- bad inputs: pomt.Error (a ValueError), never a crash

def test_bad_inputs_are_errors(micro, tmp_path):
    assert issubclass(pomt.Error, ValueError)
    shape = micro.input_shape
    bad_runs = [
        (np.zeros((1,) + shape, np.float64), "float32"),
        (np.zeros((1,) + shape, np.int32), "float32"),
        (np.zeros(shape[1:], np.float32), "dimensions"),
        (np.zeros((1, 1, 1, 1, 1), np.float32), "dimensions"),
        (np.zeros((1, 3, 32, 32), np.float32), "shape"),
        (np.zeros((0,) + shape, np.float32), "empty"),
        ([[0.0]], "numpy array"),
    ]
    for x, words in bad_runs:
        with pytest.raises(pomt.Error, match=words):
            micro.run(x)
    x = np.zeros((1,) + shape, np.float32)
    for spec in ("", "pomt:R=56", "nonsense", "pomt:R=-1,layer=0", "topk:r=abc", "pomt:R=56,layer=99"):
        with pytest.raises(pomt.Error):
            micro.run(x, prune=spec)
    with pytest.raises(pomt.Error):
        micro.run(x, prune=42)
    with pytest.raises(pomt.Error, match="out"):
        micro.run(x, out=np.empty((2, 10), np.float32))
    # Non-contiguous input is accepted (copied once) and gives the same logits.
    big = np.zeros((1, 3) + (shape[1] * 2, shape[2]), np.float32)[:, :, ::2]
    assert not big.flags.c_contiguous and np.array_equal(micro.run(big), micro.run(x))
    # Files, images, models.
    missing = str(tmp_path / "nope.jpg")
    with pytest.raises(pomt.Error, match="nope.jpg"):
        micro.preprocess(missing)
    with pytest.raises(pomt.Error):
        micro.preprocess(b"\xff\xd8\xff\xe0 this is not a jpeg")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(pomt.Error):
        micro.preprocess(corrupt)
    with pytest.raises(pomt.Error):
        micro.preprocess(b"")
    for arr in (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4, 3), np.float32),
                np.zeros((0, 4, 3), np.uint8)):
        with pytest.raises(pomt.Error):
            micro.preprocess(arr)
    with pytest.raises(pomt.Error):
        micro.preprocess(12345)
    with pytest.raises(pomt.Error, match="max_pixels|pixels"):
        micro.preprocess(np.zeros((100, 100, 3), np.uint8), max_pixels=10)
    with pytest.raises(pomt.Error, match="nope.pomt"):
        pomt.load(str(tmp_path / "nope.pomt"))
    (tmp_path / "junk.pomt").write_bytes(b"POMTVIT\0garbage")
    with pytest.raises(pomt.Error):
        pomt.load(str(tmp_path / "junk.pomt"))
    with pytest.raises(pomt.Error):
        pomt.from_arch("resnet50")
    with pytest.raises(pomt.Error):
        pomt.load(str(tmp_path / "junk.pomt"), threads=0)
    with pytest.raises(pomt.Error):
        pomt.convert(str(tmp_path / "no_such_folder"), str(tmp_path / "out.pomt"))
    with pytest.raises(pomt.Error):
        pomt.evaluate(micro, str(tmp_path / "no_list.txt"))
    with pytest.raises(pomt.Error):
        micro.classify(np.zeros((8, 8, 3), np.uint8), top=0)
    # The message is one line, as the CLI prints it.
    try:
        micro.run(x, prune="pomt:R=56,layer=99")
    except pomt.Error as e:
        assert "\n" not in str(e) and str(e)


def test_non_contiguous_and_hwc_paths_agree(micro):
    rgb = (np.arange(60 * 80 * 3) % 251).astype(np.uint8).reshape(60, 80, 3)
    a = micro.preprocess(rgb)
    b = micro.preprocess(np.asfortranarray(rgb))  # same pixels, another memory layout
    assert a.shape == micro.input_shape and a.dtype == np.float32 and np.array_equal(a, b)


# ---- threads, GIL, copies

def test_threads_share_one_model(micro):
    rng = np.random.default_rng(1)
    inputs = [rng.standard_normal((2,) + micro.input_shape).astype(np.float32) for _ in range(6)]
    specs = [None, "pomt:R=56,layer=1", "topk:r=4", "tome:r=8", None, "pomt:R=100,layer=2"]
    serial = [micro.run(x, p) for x, p in zip(inputs, specs)]
    results, errors = {}, []

    def worker(t):
        try:
            for rep in range(5):
                i = (t + rep) % len(inputs)
                results[(t, rep)] = (i, micro.run(inputs[i], specs[i]))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 20
    for i, out in results.values():
        assert np.array_equal(out, serial[i])


def test_gil_released_during_run():
    m = pomt.from_arch("vit_base_patch16_224", seed=0, threads=1)
    x = np.zeros((2, 3, 224, 224), np.float32)
    progress = {"count": 0, "during": 0}
    running = threading.Event()
    done = threading.Event()

    def counter():
        while not done.is_set():
            progress["count"] += 1
            if running.is_set():
                progress["during"] += 1
            time.sleep(0)

    t = threading.Thread(target=counter)
    t.start()
    try:
        m.run(x[:1])  # warm-up: buffers
        running.set()
        t0 = time.perf_counter()
        m.run(x)
        elapsed = time.perf_counter() - t0
        running.clear()
    finally:
        done.set()
        t.join()
    # With the GIL held the counter could not run at all while run() works (hundreds of ms here).
    assert elapsed > 0.05
    assert progress["during"] > 100, progress


def test_output_is_the_only_copy(micro):
    """run() hands back the array C++ wrote into: it owns its buffer (no base, no wrapper), `out=`
    is returned as is, and the only numpy allocation of the call is that one output array
    (tracemalloc sees numpy's data allocations; the C++ session's own buffers are not numpy's)."""
    x = np.zeros((16,) + micro.input_shape, np.float32)
    y = micro.run(x)
    assert y.base is None and y.flags.owndata and y.flags.c_contiguous
    buf = np.full((16, micro.num_outputs), np.nan, np.float32)
    assert micro.run(x, out=buf) is buf and np.array_equal(buf, y)
    micro.run(x)  # warm
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        y = micro.run(x)
        peak = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        micro.run(x, out=buf)
        peak_out = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert y.nbytes <= peak < y.nbytes + 4096, (peak, y.nbytes)  # one output array, plus small objects
    assert peak_out < 4096, peak_out                              # into `out=`: no array at all
    # preprocess() returns the C++ tensor's own buffer (owned by a capsule), not a copy of it.
    pre = micro.preprocess(np.zeros((32, 32, 3), np.uint8))
    assert pre.base is not None and not pre.flags.owndata


# ---- timm (optional)

class Identity:  # stands for torch.nn.Identity in the fake timm models below
    pass


def fake_timm_model(hub, layer_scale):
    """The attributes of a timm VisionTransformer that pomt.from_timm reads, for a fixture's config."""
    from types import SimpleNamespace as NS
    a, e = hub["model_args"], hub["model_args"]["embed_dim"]
    block = NS(attn=NS(num_heads=a["num_heads"], qkv=NS(bias=0)), mlp=NS(fc1=NS(out_features=4 * e)),
               ls1=NS(gamma=0) if layer_scale else Identity())
    cfg = dict(hub["pretrained_cfg"], architecture=hub["architecture"])
    return NS(pretrained_cfg=cfg, blocks=[block] * a["depth"], embed_dim=e, num_classes=hub["num_classes"],
              patch_embed=NS(patch_size=(16, 16), img_size=(224, 224), proj=NS(in_channels=3)), cls_token=0,
              no_embed_class=layer_scale, num_reg_tokens=0, fc_norm=Identity(), norm_pre=Identity(),
              global_pool="token")


@pytest.mark.parametrize("family,layer_scale", [("micro", False), ("deit3_micro", True)])
def test_from_timm_path_without_torch(tmp_path, converted, family, layer_scale):
    """from_timm's config (read off the live model) and hand-written safetensors give the same .pomt
    as converting the fixture's hub folder; the tensors read back from that .pomt by pomt.read_weights."""
    folder = shared("fixtures/" + family)
    _, tensors = pomt.read_weights(converted("fixtures/" + family))
    hub = pomt._timm_hub_config(fake_timm_model(json.load(open(os.path.join(folder, "config.json"))), layer_scale))
    pomt._write_hub(str(tmp_path), hub, tensors)
    pomt.convert(str(tmp_path), str(tmp_path / "a.pomt"))
    pomt.convert(folder, str(tmp_path / "b.pomt"))
    assert open(tmp_path / "a.pomt", "rb").read() == open(tmp_path / "b.pomt", "rb").read()


def read_safetensors(path):
    """{name: float32 array} of a .safetensors file (F32 / F16 tensors)."""
    raw = open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    out = {}
    for name, t in json.loads(raw[8:8 + n]).items():
        if name != "__metadata__":
            b, e = t["data_offsets"]
            dtype = {"F32": "<f4", "F16": "<f2"}[t["dtype"]]
            out[name] = np.frombuffer(raw[8 + n + b:8 + n + e], dtype).astype(np.float32).reshape(t["shape"])
    return out


@pytest.mark.parametrize("family", ["micro", "deit_tiny_distilled_d2", "siglip_map_d3"])
def test_read_weights_gives_the_timm_tensors(converted, family):
    """pomt.read_weights of a converted fp32 file (version 2, Linear weights stored in panels): the
    model config and every tensor of the hub folder, bit for bit, in timm's shapes."""
    folder = shared("fixtures/" + family)
    cfg, tensors = pomt.read_weights(converted("fixtures/" + family))
    m = pomt.load(converted("fixtures/" + family), threads=1)
    assert cfg["architecture"] == m.architecture and cfg["num_classes"] == m.num_classes
    assert (3, cfg["img_size"], cfg["img_size"]) == m.input_shape
    want = read_safetensors(os.path.join(folder, "model.safetensors"))
    assert sorted(tensors) == sorted(want)
    for name, a in tensors.items():
        assert a.dtype == np.float32 and a.flags.c_contiguous and a.shape == want[name].shape, name
        assert a.tobytes() == want[name].tobytes(), name


def test_read_weights_of_an_int8_file(tmp_path, converted):
    """pomt.read_weights of an int8 file (version 3): each Linear weight int8 in timm's shape with its
    per-output scales and sums beside it; dequantized, within half a step of the fp32 weight; every
    other tensor the fp32 file's."""
    fp32 = converted("fixtures/deit_tiny_distilled_d2")
    pomt.quantize(fp32, str(tmp_path / "q.pomt"))
    cfg, q = pomt.read_weights(str(tmp_path / "q.pomt"))
    cfg32, w = pomt.read_weights(fp32)
    assert cfg == cfg32
    linear = [n for n, a in q.items() if a.dtype == np.int8]
    assert len(linear) == 1 + 4 * cfg["depth"] + 2  # patch_embed, 4 per block, head and head_dist
    assert sorted(q) == sorted(list(w) + [n + "_scale" for n in linear] + [n + "_sum" for n in linear])
    for name, a in q.items():
        if name in linear:
            scale, sums = q[name + "_scale"], q[name + "_sum"]
            assert a.shape == w[name].shape and np.abs(a.astype(np.int32)).max() <= 127, name
            assert scale.dtype == np.float32 and scale.shape == (a.shape[0],) and (scale > 0).all(), name
            assert sums.dtype == np.int32 and (sums == a.reshape(a.shape[0], -1).sum(1, dtype=np.int64)).all(), name
            deq = a.astype(np.float32) * scale.reshape((-1,) + (1,) * (a.ndim - 1))
            step = scale.reshape(deq.shape[:1] + (1,) * (a.ndim - 1))
            assert (np.abs(deq - w[name]) <= 0.5001 * step).all(), name
        elif not name.endswith(("_scale", "_sum")):
            assert a.tobytes() == w[name].tobytes(), name


def test_read_weights_refuses_what_pomt_load_refuses(tmp_path):
    (tmp_path / "bad.pomt").write_bytes(b"POMTVIT\0" + bytes(40))
    for path in (tmp_path / "bad.pomt", tmp_path / "none.pomt"):
        with pytest.raises(pomt.Error):
            pomt.read_weights(path)


CONVERT_TIMM = os.path.join(REPO, "weights_tools", "convert_timm.py")


def test_convert_timm_writes_through_the_package(tmp_path):
    """weights_tools/convert_timm.py with the pomt package importable: a hub folder and a bare
    .safetensors give pomt.convert's bytes (tests/test_convert.cpp checks the binary path)."""
    folder = shared("fixtures/micro")
    pomt.convert(folder, str(tmp_path / "want.pomt"), image_size=160)
    want = open(tmp_path / "want.pomt", "rb").read()
    for args in ([folder], [os.path.join(folder, "model.safetensors"), "--config", os.path.join(folder, "config.json")]):
        p = subprocess.run([sys.executable, CONVERT_TIMM] + args + ["--image-size", "160", "-o", str(tmp_path / "a.pomt")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith("wrote %s: vit_tiny_patch16_224, " % (tmp_path / "a.pomt"))
        assert open(tmp_path / "a.pomt", "rb").read() == want
    p = subprocess.run([sys.executable, CONVERT_TIMM, folder, "--image-size", "100", "-o", str(tmp_path / "b.pomt")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "not a multiple of the patch size" in p.stderr
    assert not os.path.exists(tmp_path / "b.pomt")


def test_convert_timm_state_dict(tmp_path):
    """A .pth state dict through convert_timm.py: the bytes of pomt.convert on the hub folder."""
    torch = pytest.importorskip("torch", reason="torch is not installed (pip install torch to test .pth conversion)")
    folder = shared("fixtures/deit3_micro")
    sd = {k: torch.from_numpy(v.copy()) for k, v in read_safetensors(os.path.join(folder, "model.safetensors")).items()}
    torch.save({"model": sd}, str(tmp_path / "m.pth"))
    pomt.convert(folder, str(tmp_path / "want.pomt"))
    p = subprocess.run([sys.executable, CONVERT_TIMM, str(tmp_path / "m.pth"), "--config",
                        os.path.join(folder, "config.json"), "--quiet", "-o", str(tmp_path / "a.pomt")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert p.returncode == 0, p.stderr
    assert open(tmp_path / "a.pomt", "rb").read() == open(tmp_path / "want.pomt", "rb").read()


def test_convert_at_another_image_size(tmp_path):
    """image_size=S: the model and its preprocessing at S (pos_embed resampled as timm does;
    tests/test_image_size.cpp checks the values against timm's resize_224 fixtures)."""
    folder = shared("fixtures/micro")
    pomt.convert(folder, str(tmp_path / "m160.pomt"), image_size=160)
    m = pomt.load(str(tmp_path / "m160.pomt"), threads=1)
    assert m.input_shape == (3, 160, 160)
    assert m.run(np.zeros((1, 3, 160, 160), np.float32)).shape == (1, m.num_outputs)
    for bad in (0, 100, -16, 2.5):
        with pytest.raises(pomt.Error):
            pomt.convert(folder, str(tmp_path / "bad.pomt"), image_size=bad)
    assert not os.path.exists(tmp_path / "bad.pomt")


def test_quantize_writes_an_int8_model(tmp_path):
    """pomt.quantize: the int8 .pomt (format version 3) that `pomt quantize` writes, loadable and
    runnable; an already-int8 model is refused and nothing is written."""
    folder = shared("fixtures/micro")
    pomt.convert(folder, str(tmp_path / "m.pomt"))
    pomt.quantize(str(tmp_path / "m.pomt"), str(tmp_path / "q.pomt"))
    assert open(tmp_path / "q.pomt", "rb").read(12)[8] == 3
    m = pomt.load(str(tmp_path / "q.pomt"), threads=1)
    assert m.run(np.zeros((1,) + m.input_shape, np.float32)).shape == (1, m.num_outputs)
    with pytest.raises(pomt.Error, match="already int8"):
        pomt.quantize(str(tmp_path / "q.pomt"), str(tmp_path / "qq.pomt"))
    assert not os.path.exists(tmp_path / "qq.pomt")
    # int8 attention: recorded in the file's quantization record; on the fixture's image both int8
    # models stay near timm's fp32 logits with its top-1 (as tests/test_forward_int8.cpp checks the
    # Session: micro measured 0.058 with fp32 attention, 0.078 with int8; on a noise input the
    # random micro model's int8 error is ~1, no yardstick), and the two differ: the setting acts.
    pomt.quantize(str(tmp_path / "m.pomt"), str(tmp_path / "qa.pomt"), attention="int8")
    header = open(tmp_path / "qa.pomt", "rb").read(65536)
    assert b'"attention":"int8"' in header
    assert b'"attention":"fp32"' in open(tmp_path / "q.pomt", "rb").read(65536)
    x = np.load(os.path.join(folder, "input.npy"))
    timm = np.load(os.path.join(folder, "logits.npy"))
    ya = pomt.load(str(tmp_path / "qa.pomt"), threads=1).run(x)
    yf = m.run(x)
    for y in (ya, yf):
        assert 1e-4 <= np.linalg.norm(y - timm) / np.linalg.norm(timm) <= 0.35
        assert (y.argmax(-1) == timm.argmax(-1)).all()
    assert not np.array_equal(ya, yf)
    # bf16 attention likewise (its rounding is smaller than int8's quantization).
    pomt.quantize(str(tmp_path / "m.pomt"), str(tmp_path / "qb.pomt"), attention="bf16")
    assert b'"attention":"bf16"' in open(tmp_path / "qb.pomt", "rb").read(65536)
    yb = pomt.load(str(tmp_path / "qb.pomt"), threads=1).run(x)
    assert 1e-4 <= np.linalg.norm(yb - timm) / np.linalg.norm(timm) <= 0.35
    assert (yb.argmax(-1) == timm.argmax(-1)).all()
    assert not np.array_equal(yb, yf)
    with pytest.raises(pomt.Error, match="attention must be"):
        pomt.quantize(str(tmp_path / "m.pomt"), str(tmp_path / "qx.pomt"), attention="fp16")
    assert not os.path.exists(tmp_path / "qx.pomt")


def test_quantize_writes_a_bf16_model(tmp_path):
    """pomt.quantize(precision="bf16"): the bf16 .pomt (format version 4) that `pomt quantize
    --precision bf16` writes: its Linear weights read back widened (each the fp32 weight rounded to
    bf16), loadable, precision "bf16", near timm's logits with its top-1; refusals write nothing."""
    folder = shared("fixtures/micro")
    pomt.convert(folder, str(tmp_path / "m.pomt"))
    pomt.quantize(str(tmp_path / "m.pomt"), str(tmp_path / "b.pomt"), precision="bf16")
    assert open(tmp_path / "b.pomt", "rb").read(12)[8] == 4
    _, w = pomt.read_weights(str(tmp_path / "m.pomt"))
    _, b = pomt.read_weights(str(tmp_path / "b.pomt"))
    assert sorted(w) == sorted(b)
    weight = w["blocks.0.mlp.fc1.weight"]
    bits = weight.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32).view(np.float32)
    assert b["blocks.0.mlp.fc1.weight"].dtype == np.float32
    assert np.array_equal(b["blocks.0.mlp.fc1.weight"], rounded)  # nearest even, as the file holds it
    assert np.array_equal(b["pos_embed"], w["pos_embed"])  # everything else stays fp32
    m = pomt.load(str(tmp_path / "b.pomt"), threads=1)
    assert m.precision == "bf16"
    x = np.load(os.path.join(folder, "input.npy"))
    timm = np.load(os.path.join(folder, "logits.npy"))
    y = m.run(x)
    assert 1e-4 <= np.linalg.norm(y - timm) / np.linalg.norm(timm) <= 0.1
    assert (y.argmax(-1) == timm.argmax(-1)).all()
    with pytest.raises(pomt.Error, match="already bf16"):
        pomt.quantize(str(tmp_path / "b.pomt"), str(tmp_path / "bb.pomt"), precision="bf16")
    with pytest.raises(pomt.Error, match="precision must be"):
        pomt.quantize(str(tmp_path / "m.pomt"), str(tmp_path / "bb.pomt"), precision="fp16")
    with pytest.raises(pomt.Error, match="runs in bf16 or fp32, not int8"):
        pomt.quantize(str(tmp_path / "m.pomt"), str(tmp_path / "bb.pomt"), precision="bf16", attention="int8")
    assert not os.path.exists(tmp_path / "bb.pomt")
    # --attention bf16: the bf16 model's attention in bf16 too, near timm with its top-1.
    pomt.quantize(str(tmp_path / "m.pomt"), str(tmp_path / "ba.pomt"), precision="bf16", attention="bf16")
    assert b'"attention":"bf16"' in open(tmp_path / "ba.pomt", "rb").read(65536)
    ya = pomt.load(str(tmp_path / "ba.pomt"), threads=1).run(x)
    assert 1e-4 <= np.linalg.norm(ya - timm) / np.linalg.norm(timm) <= 0.1
    assert (ya.argmax(-1) == timm.argmax(-1)).all()
    assert not np.array_equal(ya, y)


def test_from_timm_matches_timm():
    torch = pytest.importorskip("torch", reason="torch is not installed (pip install torch timm to test from_timm)")
    timm = pytest.importorskip("timm", reason="timm is not installed (pip install timm to test from_timm)")
    model = timm.create_model("deit_tiny_patch16_224", pretrained=False, depth=2).eval()
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    got = pomt.from_timm(model, threads=1).run(x)
    assert np.abs(got - ref).max() < 1e-3


# ---- the schedule search (include/pomt/search.h)

def test_schedule_search_over_the_library(converted):
    data = shared("data/imagenet-val-1300/labels.txt")
    m = pomt.load(converted(VIT_TINY), threads=1)
    phases = []
    r = pomt.schedule(m, data, images=8, tokens=(149, 197, 8), fast=True, verify_runs=3,
                      progress=lambda phase, done, total: phases.append(phase))
    assert r.tokens_full == 197 and r.layer == 3 and r.images == 8
    assert 149 <= r.n_star <= 197
    assert [p.tokens for p in r.points] == [row[0] for row in r.latency]
    assert max(p.utility for p in r.points) == pytest.approx(next(p.utility for p in r.points if p.tokens == r.n_star))
    assert {"images", "L(n)", "A(n)"} <= set(phases)
    assert r.verified and r.baseline_ms > 0 and r.schedule_ms > 0
    assert json.loads(r.json)  # the schedule file pomt schedule -o writes
    verified = json.loads(r.json)["search"]["verified_latency"]
    assert verified["remeasured"] == r.verify_remeasured and verified["disturbed"] == bool(r.verify_warning)
    if r.r > 0:
        assert m.describe(r.schedule) == r.description
        assert m.run(np.zeros((1,) + m.input_shape, np.float32), prune=r.schedule).shape == (1, 1000)
    else:
        assert r.schedule is None

    with pytest.raises(pomt.Error, match="cancelled"):
        pomt.schedule(m, data, images=8, tokens=(149, 197, 8), fast=True, progress=lambda *a: False)

    def boom(*a):
        raise RuntimeError("stop here")
    with pytest.raises(pomt.Error, match="progress callback raised.*stop here"):
        pomt.schedule(m, data, images=8, tokens=(149, 197, 8), fast=True, progress=boom)
    with pytest.raises(pomt.Error, match="alpha"):
        pomt.schedule(m, data, alpha=2.0)


# ---- the Pareto search (pomt.search_pareto) and plans chosen in int8

def write_block_csv(path, scale, tokens):
    """A `pomt profile --mode block --csv` file as a device would give it: B(n) linear in n for
    every count up to the full one, and the whole model's row there. Fixed, so the searches of a
    test predict the same latencies (only the block shares are measured here) and skip B(n)."""
    rows = ["mode,tokens,batch,threads,median_ms,p10_ms,p90_ms,runs"]
    for n in range(1, tokens + 1):
        rows.append("block,%d,1,1,%g,%g,%g,5" % ((n,) + (scale * (0.02 + 0.004 * n),) * 3))
    rows.append("model,%d,1,1,%g,%g,%g,5" % ((tokens,) + (scale * (12 * (0.02 + 0.004 * tokens) + 0.05),) * 3))
    open(path, "w").write("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def pareto_case(tmp_path_factory):
    """A random model of 17 tokens (a search of it takes under a second), 10 labelled images (6 to
    estimate on, 4 to confirm), fixed block latency CSVs for fp32 and int8, the small settings
    every search here uses, and the local search."""
    folder = tmp_path_factory.mktemp("pareto")
    m = pomt.from_arch("deit_tiny_patch16_64", seed=3, threads=1)
    data = write_labelled_images(folder, 10)
    relabel_to_hit(m, data)
    csv, csv8 = str(folder / "block.csv"), str(folder / "block_int8.csv")
    write_block_csv(csv, 1.0, 17)  # 16 patches and the class token
    write_block_csv(csv8, 0.6, 17)
    kw = dict(images=6, fast=True, first_images=3, max_measured=3, verify_runs=2, threads=1, block_latency=csv,
              block_latency_int8=csv8, max_loss=100)
    return m, data, kw, pomt.search_pareto(m, data, **kw)


def assert_same_accuracy(a, b):
    """Every plan both searches evaluated on the same images has the same top-1/top-5 (latency
    noise may change which plans survive a round, so only those are compared), and so does every
    plan both confirmed."""
    def by(r, key, value):
        return {key(p): value(p) for p in r.plans if value(p) is not None}
    key = lambda p: (p.spec, p.precision, p.images)  # noqa: E731
    est_a = by(a, key, lambda p: (p.top1, p.top5, p.loss) if p.images else None)
    est_b = by(b, key, lambda p: (p.top1, p.top5, p.loss) if p.images else None)
    common = set(est_a) & set(est_b)
    assert ("none", "fp32", 6) in common and len(common) >= 10
    assert {k: est_a[k] for k in common} == {k: est_b[k] for k in common}
    conf_a = by(a, key, lambda p: (p.confirm_top1, p.confirm_loss) if p.confirmed else None)
    conf_b = by(b, key, lambda p: (p.confirm_top1, p.confirm_loss) if p.confirmed else None)
    assert {k: conf_a[k] for k in set(conf_a) & set(conf_b)} == {k: conf_b[k] for k in set(conf_a) & set(conf_b)}
    assert a.confirm_images == b.confirm_images == 4 and a.images == b.images == 6


def test_search_pareto_chooses_and_writes_the_plan(pareto_case, tmp_path):
    m, data, kw, local = pareto_case
    assert local.plans[0].method == "none" and local.chosen is local.plans[local.chosen_index]
    assert local.chosen.confirmed and local.confirm_source.endswith("images 6..10")
    assert local.precisions == ["fp32", "int8"] and local.precision_sources[1].startswith(kw["block_latency_int8"])
    assert {p.precision for p in local.plans} == {"fp32", "int8"} and local.rounds[0] == (3, sum(p.images > 0 for p in local.plans))
    # The default budget (alpha 0.5), the file, the SVG and the progress.
    out, phases = str(tmp_path / "plan.json"), set()
    r = pomt.search_pareto(m, data, **dict(kw, max_loss=None), out=out, svg_prefix=str(tmp_path / "s"),
                           progress=lambda phase, done, total: phases.add(phase))
    assert "alpha 0.5" in r.choice and {"search", "verify"} <= phases
    assert open(out).read() == r.json and os.path.exists(tmp_path / "s-front.svg")
    chosen = r.chosen
    assert pomt.Schedule.load(out).precision == r.schedule.precision == json.loads(r.json)["precision"] == chosen.precision
    # The plan as chosen: evaluate runs it in its precision, and gets the search's accuracy.
    assert chosen.measured and chosen.images == 6
    assert pomt.evaluate(m, data, pomt.Schedule.load(out), limit=6).top1 == pytest.approx(chosen.top1)
    x = np.zeros((1,) + m.input_shape, np.float32)
    assert np.array_equal(m.run(x, r.schedule), m.for_schedule(r.schedule).run(x, r.schedule))
    # A budget no plan meets: the command line's line, and the result beside it; no file.
    with pytest.raises(pomt.Error, match="no measured plan runs within") as e:
        pomt.search_pareto(m, data, **dict(kw, max_loss=None, max_ms=1e-6), out=str(tmp_path / "none.json"))
    assert "\n" not in str(e.value) and e.value.result.chosen is None and e.value.result.plans[0].measured
    assert not os.path.exists(tmp_path / "none.json")


class CountingExecutor:
    """A thread pool that records each task's image count and can rewrite its result."""

    def __init__(self, workers, rewrite=None):
        import concurrent.futures
        self.pool, self.counts, self.rewrite = concurrent.futures.ThreadPoolExecutor(workers), [], rewrite
        self.schedules = []

    def submit(self, fn, *args):
        self.counts.append(args[6])  # _evaluate_plan_shard(ref, data, root, schedule, threads, first, count, call)
        self.schedules.append(args[3])
        if self.rewrite is None:
            return self.pool.submit(fn, *args)
        return self.pool.submit(lambda: self.rewrite(fn(*args)))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.pool.shutdown()


def test_search_pareto_on_an_executor_is_the_local_run(pareto_case):
    m, data, kw, local = pareto_case
    with CountingExecutor(3) as ex:
        r = pomt.search_pareto(m, data, **kw, executor=ex, chunk=2)
        assert ex.counts and max(ex.counts) == 2 and sum(ex.counts) == r.image_evaluations
    assert_same_accuracy(local, r)
    # Replies as numpy arrays of bools (the engine takes any sequence of 0/1).
    with CountingExecutor(2, lambda got: tuple(np.frombuffer(g, np.uint8).astype(bool) for g in got)) as ex:
        assert_same_accuracy(local, pomt.search_pareto(m, data, **dict(kw, precision="fp32", block_latency_int8=None),
                                                       executor=ex))


def test_search_pareto_in_bf16_too(pareto_case, tmp_path):
    """precision with "bf16": every candidate in it too, its B(n) from block_latency_bf16=, each
    precision's unpruned model measured; an executor's tasks get the bf16 plans as schedules in
    bf16, and their accuracies are what the bf16 version of the model gives here."""
    m, data, kw, local = pareto_case
    csv16 = str(tmp_path / "block_bf16.csv")
    write_block_csv(csv16, 0.95, 17)
    with CountingExecutor(3) as ex:
        r = pomt.search_pareto(m, data, **dict(kw, precision=["fp32", "int8", "bf16"], block_latency_bf16=csv16),
                               executor=ex)
        assert any(json.loads(text)["precision"] == "bf16" for text in ex.schedules)
    assert r.precisions == ["fp32", "int8", "bf16"] and r.precision_sources[2].startswith(csv16)
    assert {p.precision for p in r.plans} == {"fp32", "int8", "bf16"}
    assert sorted(p.precision for p in r.plans if p.method == "none" and p.measured) == ["bf16", "fp32", "int8"]
    assert_same_accuracy(local, r)  # the fp32 and int8 plans both searches evaluated alike
    bf16 = [p for p in r.plans if p.precision == "bf16" and p.images]
    for p in bf16[:1] + bf16[-2:]:  # the unpruned model and two candidates
        plan = pomt.Schedule.from_json(json.dumps({"prune": p.spec, "precision": "bf16"}))
        assert m.for_schedule(plan).precision == "bf16"
        assert pomt.evaluate(m, data, plan, limit=p.images).top1 == pytest.approx(p.top1), p.spec


def test_search_pareto_on_a_dask_cluster(pareto_case):
    m, data, kw, local = pareto_case
    with dask_executor() as ex:  # the workers make the model and its int8 version themselves
        assert_same_accuracy(local, pomt.search_pareto(m, data, **kw, executor=ex))


def test_search_pareto_refuses_bad_arguments(pareto_case, tmp_path):
    m, data, kw, _ = pareto_case
    bad = [
        (dict(max_ms=5.0), "give one budget: max_loss, max_ms, max_ratio or alpha"),
        (dict(rule="cheapest"), "rule must be"),
        (dict(max_loss=None, rule="estimate"), "rule applies only with max_loss"),
        (dict(rule="estimate", confidence=0.8), "confidence applies only to rule 'confirmed'"),
        (dict(max_loss=-1), "max_loss must be a number"),
        (dict(max_loss=None, alpha=2), "alpha must be a number"),
        (dict(precision="fp16"), "precision takes fp32, int8 and/or bf16, not 'fp16'"),
        (dict(precision=["fp32", "fp32"]), "precision fp32 is listed twice"),
        (dict(precision="fp32"), "int8 block latency CSV is given and int8 is not searched"),
        (dict(block_latency_bf16=str(tmp_path / "b16.csv")), "a bf16 block latency CSV is given and bf16 is not searched"),
        (dict(images=-1), "images must be an integer"),
        (dict(first_images=0), "first_images must be an integer"),
        (dict(also="pomt:R=99,layer=0"), "pomt"),
        (dict(executor=object()), "concurrent.futures.Executor"),
        (dict(chunk=4), "give executor= too"),
        (dict(executor=CountingExecutor(1), skip_bad=True), "skip_bad cannot be used with an executor"),
        (dict(out=str(tmp_path / "no" / "plan.json")), "cannot write the schedule file"),
        (dict(confirm_root="/tmp"), "confirm_root applies only with confirm_data"),
        (dict(confirm_data=str(tmp_path / "missing.txt")), "missing.txt"),
    ]
    for extra, words in bad:
        with pytest.raises(pomt.Error, match=words) as e:
            pomt.search_pareto(m, data, **dict(kw, **extra))
        assert "\n" not in str(e.value)
    with pytest.raises(pomt.Error, match="needs a model loaded from a file"):
        pomt.search_pareto(pomt.Model(m._m), data, **kw, executor=CountingExecutor(1))
    # Malformed replies from an executor's tasks: one line each, never a crash or a misaligned
    # accuracy; a task's own exception arrives as itself.
    def lost(got):
        raise KeyboardInterrupt("worker lost")
    for rewrite, words in ((lambda got: (got[0][:1], got[1][:1]), "reply 0's top1 has 1 entries for 3 images"),
                           (lambda got: (b"\x02" * len(got[0]), got[1]), "reply 0's top1 entry 0 is not 0 or 1"),
                           (lambda got: (["x"] * len(got[0]), got[1]), "top1 entry 0 is a str, not 0 or 1"),
                           (lambda got: 7, "a task returned int, not a \\(top1, top5\\) pair")):
        with CountingExecutor(1, rewrite) as ex, pytest.raises(pomt.Error, match=words) as e:
            pomt.search_pareto(m, data, **dict(kw, precision="fp32", block_latency_int8=None), executor=ex)
        assert "\n" not in str(e.value)
    with CountingExecutor(1, lost) as ex, pytest.raises(KeyboardInterrupt, match="worker lost"):
        pomt.search_pareto(m, data, **dict(kw, precision="fp32", block_latency_int8=None), executor=ex)
    # progress: False cancels; an exception it raises arrives as itself.
    fp32 = dict(kw, precision="fp32", block_latency_int8=None)
    with pytest.raises(pomt.Error, match="cancelled"):
        pomt.search_pareto(m, data, **fp32, progress=lambda *a: False)
    with pytest.raises(ZeroDivisionError):
        pomt.search_pareto(m, data, **fp32, progress=lambda *a: 1 / 0)
    # The engine's own checks of what the callback returns.
    args = [m._m, data, "", 6, False, -1, "", "", ["fp32"], 100, 0, 0, -1, "confirmed", 0.9, 1.96, 1, 1, True, 3,
            3, 0, 2, kw["block_latency"], "", "", "", "", [], ""]
    for reply, words in ((lambda q: None, "must return a list"), (lambda q: [], "returned 0 replies to"),
                         (lambda q: [(b"\x01" * x["count"],) for x in q], "reply 0 must be a \\(top1, top5\\) pair")):
        with pytest.raises(pomt.Error, match=words):
            pomt._pomt.search_pareto(*args, reply, None)


def test_an_int8_plan_runs_on_the_int8_version_of_an_fp32_model(converted, tmp_path):
    """Model.for_schedule: the same logits as the file pomt.quantize writes; run applies a plan's
    precision as the command line does; an int8 model refuses fp32 plans."""
    src, q = converted("fixtures/micro"), str(tmp_path / "q.pomt")
    pomt.quantize(src, q)
    m, mq = pomt.load(src, threads=1), pomt.load(q, threads=1)
    plan = pomt.Schedule.from_json('{"prune": "tome:r=2", "precision": "int8"}')
    assert plan.precision == "int8" and pomt.Schedule.parse("tome:r=2").precision == ""
    i8 = m.for_schedule(plan)
    assert (m.precision, i8.precision, mq.precision) == ("fp32", "int8", "int8")
    assert m.for_schedule(plan) is i8 and m.for_schedule("tome:r=2") is m and mq.for_schedule(plan) is mq
    x = np.load(os.path.join(shared("fixtures/micro"), "input.npy"))
    want = mq.run(x, plan)
    assert np.array_equal(i8.run(x, plan), want) and np.array_equal(m.run(x, plan), want)
    assert not np.array_equal(m.run(x, "tome:r=2"), want)
    fp32_plan = pomt.Schedule.from_json('{"prune": "tome:r=2", "precision": "fp32"}')
    with pytest.raises(pomt.Error, match="the plan runs in fp32 and the model is int8"):
        mq.run(x, fp32_plan)
    with pytest.raises(pomt.Error, match='precision must be "fp32", "int8" or "bf16"'):
        pomt.Schedule.from_json('{"prune": "tome:r=2", "precision": "fp16"}')
    assert m.classify(np.zeros((40, 50, 3), np.uint8), top=3, prune=plan) == mq.classify(
        np.zeros((40, 50, 3), np.uint8), top=3, prune=plan)


def test_evaluate_runs_a_plan_in_its_precision(executor_case):
    """pomt.evaluate, locally and on an executor, runs an int8 plan on the int8 version of an fp32
    model; the precision travels with a pickled schedule and with an executor's model reference."""
    import concurrent.futures
    import pickle
    m, data, _ = executor_case
    plan = pomt.Schedule.from_json('{"prune": "topk:r=4", "precision": "int8"}')
    local = pomt.evaluate(m, data, plan)
    assert local == pomt.evaluate(m.for_schedule(plan), data, "topk:r=4")
    assert [o.top1 for o in local.per_image] != [o.top1 for o in pomt.evaluate(m, data, "topk:r=4").per_image]
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        assert pomt.evaluate(m, data, plan, executor=ex, chunk=4) == local
    u = pickle.loads(pickle.dumps(plan))
    assert u.precision == "int8" and repr(u) == repr(plan) == "pomt.Schedule('json (int8)')"
    ref = pickle.loads(pickle.dumps(pomt._ModelRef(m.for_schedule(plan))))  # as a worker process gets it
    assert ref.get().precision == "int8" and ref.get() is ref.get()
    x = np.zeros((1,) + m.input_shape, np.float32)
    assert np.array_equal(ref.get().run(x, "topk:r=4"), m.run(x, plan))
