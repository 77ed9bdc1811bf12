// _pomt: the Python extension over libpomt (nanobind). python/pomt/__init__.py is the documented
// API; this module is its engine and checks everything again itself, so no argument can crash the
// interpreter even when called directly.
//
// GIL: every call that computes (run, preprocessing, profile, evaluate, convert, quantize, read_weights)
// releases it.
// Threads: a Model keeps a free list of pomt::Workspace (buffers + thread pool); each call takes
// one (or makes one) and gives it back, so any number of Python threads may call one Model at once,
// like the C++ Classifier.
// Copies: run() writes the logits straight into the caller's float32 array (Workspace::run_batch);
// preprocess() hands back the C++ tensor's own buffer (a capsule owns it).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "api/internal.h"
#include "core/file_util.h"
#include "eval/dataset.h"
#include "eval/evaluate.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_int8.h"
#include "kernels/isa.h"
#include "kernels/panels.h"
#include "kernels/threads.h"
#include "pomt/error.h"
#include "pomt/pomt.h"
#include "pomt/search.h"
#include "pomt/version.h"
#include "profiler/model_latency.h"
#include "prune/pruning.h"
#include "vit/config.h"
#include "vit/model.h"
#include "vit/weights_file.h"
#include "weights_tools/convert.h"
#include "pomt/quantize.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

using FloatIn = nb::ndarray<const float, nb::c_contig, nb::device::cpu>;
using FloatOut = nb::ndarray<float, nb::c_contig, nb::device::cpu>;
using RgbIn = nb::ndarray<const uint8_t, nb::ndim<3>, nb::c_contig, nb::device::cpu>;
using Array3 = nb::ndarray<nb::numpy, float, nb::ndim<3>>;

// A pruning schedule as parsed (prune/pruning.h) and as the public API takes it.
struct PySchedule {
    pomt::PruneSchedule steps;
    pomt::Schedule api;
    std::string text;  // the spec or "file PATH", for repr
    // What it was made from, so that it pickles (pomt.evaluate ships it to executor workers, which
    // may not see the file, or see it changed): the spec, or the file's path and the text read.
    std::string source;
    std::string file_text;  // empty for a spec

    static PySchedule from_spec(const std::string& spec) {
        if (spec.empty()) pomt::fail("empty pruning spec (e.g. pomt:R=56,layer=3)");
        return make(pomt::parse_prune_spec(spec), spec, spec, "");
    }
    // path "": a schedule file's text given as such (Schedule.from_json), not read from a file.
    static PySchedule from_file_text(const std::string& path, std::string text) {
        pomt::PruneSchedule steps = pomt::parse_schedule_json(text, path.empty() ? "schedule JSON" : "schedule '" + path + "'");
        std::string shown = path.empty() ? "json" : "file " + path;
        if (!steps.precision.empty()) shown += " (" + steps.precision + ")";
        return make(std::move(steps), std::move(shown), path, std::move(text));
    }

private:
    static PySchedule make(pomt::PruneSchedule steps, std::string text, std::string source, std::string file_text) {
        PySchedule s;
        s.api = pomt::schedule_from_steps(steps);
        s.steps = std::move(steps);
        s.text = std::move(text);
        s.source = std::move(source);
        s.file_text = std::move(file_text);
        return s;
    }
};

const pomt::PruneSchedule& steps_of(const PySchedule* s) {
    static const pomt::PruneSchedule none;
    return s ? s->steps : none;
}

// The tensor's own vector becomes the numpy array's buffer.
Array3 to_numpy(pomt::Tensor&& t) {
    auto* v = new std::vector<float>(std::move(t.data));
    nb::capsule owner(v, [](void* p) noexcept { delete static_cast<std::vector<float>*>(p); });
    return Array3(v->data(), {size_t(t.channels), size_t(t.height), size_t(t.width)}, owner);
}

// Milliseconds the last run_into of this thread spent in Workspace::run_batch, for the per-call
// overhead measurement (tools/python_overhead.py): Python wall time minus this, call by call.
thread_local double last_run_ms = 0;

class PyModel {
public:
    PyModel(pomt::Classifier classifier, int threads)
        : classifier_(std::move(classifier)), threads_(threads > 0 ? threads : pomt::ThreadPool::hardware_threads()) {}

    const pomt::Classifier& classifier() const { return classifier_; }
    int threads() const { return threads_; }

    // images [N × C × H × W] (or one C × H × W image), outputs [N × num_outputs] (or num_outputs).
    void run_into(FloatIn images, FloatOut outputs, const PySchedule* schedule) {
        const int c = classifier_.input_channels(), h = classifier_.input_height(), w = classifier_.input_width();
        size_t batch = 0;
        if (images.ndim() == 4 && images.shape(1) == size_t(c) && images.shape(2) == size_t(h) &&
            images.shape(3) == size_t(w))
            batch = images.shape(0);
        else if (images.ndim() == 3 && images.shape(0) == size_t(c) && images.shape(1) == size_t(h) &&
                 images.shape(2) == size_t(w))
            batch = 1;
        else
            pomt::fail("input has shape " + shape_text(images) + ", the model takes (N, " + std::to_string(c) + ", " +
                       std::to_string(h) + ", " + std::to_string(w) + ")");
        if (batch == 0) pomt::fail("input batch is empty (N = 0)");
        if (batch > 1u << 20) pomt::fail("input batch of " + std::to_string(batch) + " images is too large");
        const size_t need = batch * size_t(classifier_.num_outputs());
        if (outputs.size() != need)
            pomt::fail("output buffer holds " + std::to_string(outputs.size()) + " floats, the run writes " +
                       std::to_string(need));
        const float* in = images.data();
        float* out = outputs.data();
        nb::gil_scoped_release release;
        Lease lease(*this);
        const auto t0 = std::chrono::steady_clock::now();
        lease->run_batch(in, int(batch), out, schedule ? schedule->api : pomt::Schedule());
        last_run_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }

    // Per-call C++ times (ms) of Workspace::run_batch on one image: the baseline for the Python
    // per-call overhead measurement (docs: Python package).
    std::vector<double> time_cpp_runs(FloatIn image, int runs) {
        const size_t floats = size_t(classifier_.input_channels()) * size_t(classifier_.input_height()) *
                              size_t(classifier_.input_width());
        if (image.size() != floats) pomt::fail("time_cpp_runs needs one image of " + std::to_string(floats) + " floats");
        std::vector<float> out(size_t(classifier_.num_outputs()));
        std::vector<double> ms;
        const float* in = image.data();
        nb::gil_scoped_release release;
        Lease lease(*this);
        for (int i = 0; i < runs; ++i) {
            auto t0 = std::chrono::steady_clock::now();
            lease->run_batch(in, 1, out.data());
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        return ms;
    }

private:
    static std::string shape_text(const FloatIn& a) {
        std::string s = "(";
        for (size_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
        return s + (a.ndim() == 1 ? ",)" : ")");
    }

    // A workspace taken from the free list for one call, given back at its end.
    class Lease {
    public:
        explicit Lease(PyModel& m) : m_(m) {
            {
                std::lock_guard<std::mutex> lock(m_.mutex_);
                if (!m_.free_.empty()) {
                    ws_ = std::move(m_.free_.back());
                    m_.free_.pop_back();
                }
            }
            if (!ws_) ws_ = std::make_unique<pomt::Workspace>(m_.classifier_, m_.threads_);
        }
        ~Lease() {
            std::lock_guard<std::mutex> lock(m_.mutex_);
            m_.free_.push_back(std::move(ws_));
        }
        pomt::Workspace* operator->() { return ws_.get(); }

    private:
        PyModel& m_;
        std::unique_ptr<pomt::Workspace> ws_;
    };

    pomt::Classifier classifier_;
    int threads_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<pomt::Workspace>> free_;
};

// One tensor of a .pomt file in timm's layout: its values unpacked from the stored panels (f32
// panels16, i8 panels16x4) or copied (C order), shaped as timm's logical shape.
struct UnpackedTensor {
    std::string name;
    std::vector<size_t> shape;
    pomt::TensorDtype dtype;
    std::vector<float> f32;
    std::vector<int8_t> i8;
    std::vector<int32_t> i32;
};

UnpackedTensor unpack_tensor(const pomt::WeightsTensor& t) {
    UnpackedTensor u{t.name, {}, t.dtype, {}, {}, {}};
    size_t numel = 1;
    for (int64_t d : t.shape) u.shape.push_back(size_t(d)), numel *= size_t(d);
    const int n = t.shape.empty() ? 1 : int(t.shape[0]), k = n ? int(numel / size_t(n)) : 0;  // a Linear weight [n × k]
    switch (t.layout) {
    case pomt::TensorLayout::Panels16:
        u.f32.resize(numel);
        pomt::unpack_panels(t.data, n, k, u.f32.data());
        break;
    case pomt::TensorLayout::Panels16x4:
        u.i8.resize(numel);
        pomt::unpack_int8_panels(static_cast<const int8_t*>(t.bytes()), n, k, u.i8.data());
        break;
    case pomt::TensorLayout::Panels16x2:  // bf16: widened to float32, exactly
        u.dtype = pomt::TensorDtype::F32;
        u.f32.resize(numel);
        pomt::unpack_bf16_panels(static_cast<const uint16_t*>(t.bytes()), n, k, u.f32.data());
        break;
    case pomt::TensorLayout::RowMajor:
        if (t.dtype == pomt::TensorDtype::I32) {
            u.i32.resize(numel);
            std::memcpy(u.i32.data(), t.bytes(), numel * 4);
        } else {
            u.f32.assign(t.data, t.data + numel);
        }
        break;
    }
    return u;
}

// The vector becomes the numpy array's buffer (a capsule owns it).
template <class T>
nb::object numpy_of(std::vector<T>&& values, const std::vector<size_t>& shape) {
    auto* v = new std::vector<T>(std::move(values));
    nb::capsule owner(v, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
    return nb::cast(nb::ndarray<nb::numpy, T>(v->data(), shape.size(), shape.data(), owner));
}

pomt::LoadOptions load_options(uint64_t max_memory) {
    pomt::LoadOptions o;
    o.max_memory = max_memory;
    return o;
}

// The images an evaluation works on: the list's first `limit` (0: all). The schedule is checked
// against the model first, so a bad one fails before any file is read.
std::vector<pomt::LabelledImage> eval_images(const pomt::Model& model, const std::string& data, const std::string& root,
                                             const PySchedule* s, int limit) {
    if (limit < 0) pomt::fail("limit must not be negative, got " + std::to_string(limit));
    pomt::resolve_schedule(steps_of(s), model.config());
    std::vector<pomt::LabelledImage> images = pomt::load_dataset(data, root, model.config().num_classes);
    if (limit > 0 && size_t(limit) < images.size()) images.resize(size_t(limit));
    return images;
}

// One reply's per-image flags from Python: a sequence (list, tuple, numpy array, bytes) of 0/1,
// ints, bools or numpy bools; anything else is a one-line pomt::Error naming the reply.
std::vector<unsigned char> flags_from_python(nb::handle h, size_t reply, const char* which, int count) {
    const std::string where = "remote accuracy: reply " + std::to_string(reply) + "'s " + which;
    if (PyUnicode_Check(h.ptr()) || !PySequence_Check(h.ptr()))
        pomt::fail(where + " must be a sequence of 0/1 per image, got " + std::string(Py_TYPE(h.ptr())->tp_name));
    const Py_ssize_t n = PySequence_Size(h.ptr());
    if (n < 0) {
        PyErr_Clear();
        pomt::fail(where + " has no length (" + std::string(Py_TYPE(h.ptr())->tp_name) + ")");
    }
    if (n != count)
        pomt::fail(where + " has " + std::to_string(n) + " entries for " + std::to_string(count) + " images");
    std::vector<unsigned char> out(static_cast<size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) {
        nb::object item = nb::steal(PySequence_GetItem(h.ptr(), i));
        if (!item.is_valid()) {
            PyErr_Clear();
            pomt::fail(where + " cannot be read at entry " + std::to_string(i));
        }
        long long v = -1;
        if (PyBool_Check(item.ptr()) || std::strstr(Py_TYPE(item.ptr())->tp_name, "bool")) {
            const int t = PyObject_IsTrue(item.ptr());  // numpy.bool_ has no __index__
            if (t < 0) PyErr_Clear();
            v = t;
        } else if (PyIndex_Check(item.ptr())) {
            v = PyLong_AsLongLong(nb::steal(PyNumber_Index(item.ptr())).ptr());
            if (PyErr_Occurred()) PyErr_Clear(), v = -1;
        } else {
            pomt::fail(where + " entry " + std::to_string(i) + " is a " + Py_TYPE(item.ptr())->tp_name + ", not 0 or 1");
        }
        if (v != 0 && v != 1) pomt::fail(where + " entry " + std::to_string(i) + " is not 0 or 1");
        out[size_t(i)] = (unsigned char)v;
    }
    return out;
}

using AccuracyRequest = pomt::ParetoSearchOptions::AccuracyRequest;
using AccuracyReply = pomt::ParetoSearchOptions::AccuracyReply;

// What remote(requests) returned: one (top1, top5) pair per request, in request order.
std::vector<AccuracyReply> replies_from_python(nb::handle got, const std::vector<AccuracyRequest>& reqs) {
    if (PyUnicode_Check(got.ptr()) || !PySequence_Check(got.ptr()))
        pomt::fail("remote accuracy: the callback must return a list of (top1, top5) pairs, got " +
                   std::string(Py_TYPE(got.ptr())->tp_name));
    const Py_ssize_t n = PySequence_Size(got.ptr());
    if (n < 0) PyErr_Clear();
    if (n != Py_ssize_t(reqs.size()))
        pomt::fail("remote accuracy: the callback returned " + std::to_string(std::max<Py_ssize_t>(n, 0)) +
                   " replies to " + std::to_string(reqs.size()) + " requests");
    std::vector<AccuracyReply> out(reqs.size());
    for (size_t k = 0; k < reqs.size(); ++k) {
        nb::object pair = nb::steal(PySequence_GetItem(got.ptr(), Py_ssize_t(k)));
        if (!pair.is_valid()) PyErr_Clear();
        if (!pair.is_valid() || PyUnicode_Check(pair.ptr()) || !PySequence_Check(pair.ptr()) ||
            PySequence_Size(pair.ptr()) != 2) {
            PyErr_Clear();
            pomt::fail("remote accuracy: reply " + std::to_string(k) + " must be a (top1, top5) pair, got " +
                       (pair.is_valid() ? std::string(Py_TYPE(pair.ptr())->tp_name) : std::string("nothing")));
        }
        nb::object t1 = nb::steal(PySequence_GetItem(pair.ptr(), 0)), t5 = nb::steal(PySequence_GetItem(pair.ptr(), 1));
        if (!t1.is_valid() || !t5.is_valid()) {
            PyErr_Clear();
            pomt::fail("remote accuracy: reply " + std::to_string(k) + " cannot be read");
        }
        out[k].top1 = flags_from_python(t1, k, "top1", reqs[k].count);
        out[k].top5 = flags_from_python(t5, k, "top5", reqs[k].count);
    }
    return out;
}

// A Python progress(phase, done, total) as a search's progress function (none for None): called
// with the GIL held; a false result cancels; an exception it raises cancels too and is kept in
// *raised for the binding to report. Captures only handles: the searches copy their options with
// the GIL released, and the binding's own arguments keep the objects alive.
pomt::SearchProgressFn progress_callback(nb::handle progress, std::unique_ptr<nb::python_error>* raised) {
    if (progress.is_none()) return nullptr;
    return [progress, raised](const pomt::SearchProgress& s) {
        nb::gil_scoped_acquire gil;
        try {
            nb::object go = progress(s.phase, s.done, s.total);
            const int yes = go.is_none() ? 1 : PyObject_IsTrue(go.ptr());
            if (yes < 0) throw nb::python_error();
            return yes == 1;
        } catch (nb::python_error& e) {
            *raised = std::make_unique<nb::python_error>(e);
            return false;
        }
    };
}

nb::dict plan_to_python(const pomt::ParetoPlan& p) {
    nb::dict d;
    d["method"] = p.method, d["family"] = p.family, d["spec"] = p.spec;
    d["precision"] = std::string(pomt::plan_precision_name(p.precision));
    d["predicted_ms"] = p.predicted_ms, d["predicted_ratio"] = p.predicted_ratio;
    d["images"] = p.images, d["top1"] = p.top1, d["top5"] = p.top5;
    d["loss"] = p.loss, d["loss_low"] = p.loss_low, d["loss_high"] = p.loss_high;
    d["dropped_round"] = p.dropped_round;
    d["measured"] = p.measured, d["measured_ms"] = p.measured_ms, d["measured_ratio"] = p.measured_ratio;
    d["on_front"] = p.on_front;
    d["confirmed"] = p.confirmed, d["confirm_images"] = p.confirm_images, d["confirm_top1"] = p.confirm_top1;
    d["confirm_loss"] = p.confirm_loss, d["confirm_high"] = p.confirm_high;
    return d;
}

std::vector<std::tuple<int, double, double, double, int>> latency_rows(const std::vector<pomt::LatencyPoint>& points) {
    std::vector<std::tuple<int, double, double, double, int>> out;
    for (const pomt::LatencyPoint& l : points) out.emplace_back(l.tokens, l.median_ms, l.p10_ms, l.p90_ms, l.runs);
    return out;
}

}  // namespace

NB_MODULE(_pomt, m) {
    m.doc() = "pomt's C++ engine; use the `pomt` package (python/pomt/__init__.py), not this module.";
    nb::exception<pomt::Error>(m, "Error", PyExc_ValueError);

    m.def("hardware_threads", &pomt::ThreadPool::hardware_threads);
    m.def("last_run_ms", [] { return last_run_ms; });
    m.def("isa", [] { return std::string(pomt::isa_name(pomt::active_isa())); });
    m.attr("__version__") = pomt::kVersion;  // include/pomt/version.h: the package metadata's version too
    m.def("architectures", &pomt::known_architectures);

    nb::class_<PySchedule>(m, "Schedule",
                           "A token-pruning schedule, checked against a model when it runs (or by Model.describe).\n\n"
                           "    Schedule.parse(\"pomt:R=56,layer=3\")   # a spec, as `pomt run --prune`\n"
                           "    Schedule.load(\"schedule.json\")        # a schedule file, as `pomt run --schedule`\n")
        .def_static("parse", &PySchedule::from_spec, "spec"_a,
                    "A schedule from a spec: \"pomt:R=56,layer=3\", \"topk:r=8\", \"tome:r=13\" (docs/SCHEDULES.md).")
        .def_static("load", [](const std::string& path) {
            const std::vector<unsigned char> bytes = pomt::read_file_bytes(path, "schedule file");
            return PySchedule::from_file_text(path, std::string(bytes.begin(), bytes.end()));
        }, "path"_a, "A schedule from a JSON schedule file (as written by `pomt schedule`).")
        .def_static("from_json", [](const std::string& text) { return PySchedule::from_file_text("", text); }, "text"_a,
                    "A schedule from a schedule file's text (docs/SCHEDULES.md), e.g. a plan pomt.search_pareto chose.")
        .def_prop_ro("empty", [](const PySchedule& s) { return s.steps.empty(); })
        // The precision a schedule file says its plan was chosen in: "" (none said), "fp32", "int8" or "bf16".
        .def_prop_ro("precision", [](const PySchedule& s) { return s.steps.precision; })
        .def_prop_ro("text", [](const PySchedule& s) { return s.text; })
        .def("__repr__", [](const PySchedule& s) { return "pomt.Schedule('" + s.text + "')"; })
        // Pickled as its spec, or its file's path and text: parsed again (and so checked) on loading.
        .def("__getstate__", [](const PySchedule& s) { return std::make_tuple(s.source, s.file_text); })
        .def("__setstate__", [](PySchedule& s, const std::tuple<std::string, std::string>& state) {
            PySchedule parsed = std::get<1>(state).empty() ? PySchedule::from_spec(std::get<0>(state))
                                                           : PySchedule::from_file_text(std::get<0>(state), std::get<1>(state));
            new (&s) PySchedule(std::move(parsed));
        }, "state"_a);

    nb::class_<PyModel>(m, "Model")
        .def_prop_ro("architecture", [](const PyModel& p) { return p.classifier().architecture(); })
        .def_prop_ro("num_classes", [](const PyModel& p) { return p.classifier().num_classes(); })
        .def_prop_ro("num_outputs", [](const PyModel& p) { return p.classifier().num_outputs(); })
        .def_prop_ro("input_shape", [](const PyModel& p) {
            const pomt::Classifier& c = p.classifier();
            return std::make_tuple(c.input_channels(), c.input_height(), c.input_width());
        })
        .def_prop_ro("class_names", [](const PyModel& p) { return p.classifier().class_names(); })
        .def_prop_ro("threads", &PyModel::threads)
        .def_prop_ro("max_memory", [](const PyModel& p) { return p.classifier().max_memory(); })
        .def_prop_ro("precision", [](const PyModel& p) {
            return model_of(p.classifier())->precision();
        })
        // The model the schedule runs on (Classifier::for_schedule): a new engine over this one's
        // model, or over its int8 version made in memory for a plan chosen in int8.
        .def("for_schedule", [](const PyModel& p, const PySchedule& s) {
            nb::gil_scoped_release release;
            return new PyModel(p.classifier().for_schedule(s.api), p.threads());
        }, "schedule"_a)
        .def("run_into", &PyModel::run_into, "images"_a, "outputs"_a, "schedule"_a.none())
        .def("time_cpp_runs", &PyModel::time_cpp_runs, "image"_a, "runs"_a)
        .def("preprocess_file", [](const PyModel& p, const std::string& path, uint64_t max_pixels) {
            pomt::ImageOptions o;
            o.max_pixels = max_pixels;
            pomt::Tensor t;
            {
                nb::gil_scoped_release release;
                t = p.classifier().preprocess_file(path, o);
            }
            return to_numpy(std::move(t));
        }, "path"_a, "max_pixels"_a)
        .def("preprocess_bytes", [](const PyModel& p, nb::bytes data, const std::string& name, uint64_t max_pixels) {
            pomt::ImageOptions o;
            o.max_pixels = max_pixels;
            const char* bytes = data.c_str();
            const size_t size = data.size();
            pomt::Tensor t;
            {
                nb::gil_scoped_release release;
                t = p.classifier().preprocess_bytes(bytes, size, name, o);
            }
            return to_numpy(std::move(t));
        }, "data"_a, "name"_a, "max_pixels"_a)
        .def("preprocess_rgb", [](const PyModel& p, RgbIn rgb) {
            if (rgb.shape(2) != 3) pomt::fail("an RGB image array must be (H, W, 3), got " + std::to_string(rgb.shape(2)) + " channels");
            if (rgb.shape(0) == 0 || rgb.shape(1) == 0 || rgb.shape(0) > (1u << 20) || rgb.shape(1) > (1u << 20))
                pomt::fail("RGB image of " + std::to_string(rgb.shape(1)) + "x" + std::to_string(rgb.shape(0)) +
                           " pixels is empty or too large");
            const uint8_t* px = rgb.data();
            const int w = int(rgb.shape(1)), h = int(rgb.shape(0));
            pomt::Tensor t;
            {
                nb::gil_scoped_release release;
                t = p.classifier().preprocess_rgb(px, w, h);
            }
            return to_numpy(std::move(t));
        }, "rgb"_a)
        .def("show_tokens", [](const PyModel& p, FloatIn image, const PySchedule* s) {
            const pomt::Classifier& c = p.classifier();
            pomt::Tensor t;
            t.channels = c.input_channels(), t.height = c.input_height(), t.width = c.input_width();
            if (image.size() != size_t(t.channels) * size_t(t.height) * size_t(t.width))
                pomt::fail("show_tokens needs one preprocessed (C, H, W) image of the model's input size");
            t.data.assign(image.data(), image.data() + image.size());
            pomt::TokenPicture pic;
            {
                nb::gil_scoped_release release;
                pic = c.show_tokens(t, s ? s->api : pomt::Schedule());
            }
            auto* v = new std::vector<uint8_t>(std::move(pic.rgb));
            nb::capsule owner(v, [](void* q) noexcept { delete static_cast<std::vector<uint8_t>*>(q); });
            nb::ndarray<nb::numpy, uint8_t, nb::ndim<3>> rgb(v->data(), {size_t(pic.height), size_t(pic.width), 3},
                                                             owner);
            return std::make_tuple(rgb, pic.input_height, pic.legend);
        }, "image"_a, "schedule"_a.none())
        .def("top_k", [](const PyModel& p, FloatIn logits, int k) {
            std::vector<float> v(logits.data(), logits.data() + logits.size());
            std::vector<std::tuple<int, double, std::string>> out;
            for (const pomt::Prediction& pr : p.classifier().top_k(v, k)) out.emplace_back(pr.index, pr.prob, pr.name);
            return out;
        }, "logits"_a, "k"_a)
        .def("describe", [](const PyModel& p, const PySchedule* s) {
            return p.classifier().describe(s ? s->api : pomt::Schedule());
        }, "schedule"_a.none())
        .def("warnings", [](const PyModel& p, const PySchedule* s) {
            return pomt::schedule_warnings(steps_of(s), model_of(p.classifier())->config());
        }, "schedule"_a.none())
        .def("profile", [](const PyModel& p, const PySchedule* s, int threads, int batch, int runs, int warmup) {
            if (batch < 1 || batch > 4096) pomt::fail("batch must be in [1, 4096], got " + std::to_string(batch));
            if (runs < 1 || runs > 1000000) pomt::fail("runs must be at least 1, got " + std::to_string(runs));
            if (warmup < 0) pomt::fail("warmup must not be negative, got " + std::to_string(warmup));
            const pomt::PruneSchedule& steps = steps_of(s);
            pomt::resolve_schedule(steps, model_of(p.classifier())->config());  // fails with the schedule's message
            pomt::profiler::CheckedLatency c;
            {
                nb::gil_scoped_release release;
                const int t = threads > 0 ? threads : p.threads();
                c = pomt::profiler::measure_model_latency_checked(model_of(p.classifier()), steps, t, batch, runs,
                                                                  warmup);
            }
            const pomt::profiler::LatencyStats& l = c.stats;
            const std::string warning = c.disturbance.warning("the measurement", "configuration");
            return std::make_tuple(l.median_ms, l.p10_ms, l.p90_ms, l.min_ms, l.runs, l.slow_runs,
                                   c.disturbance.disturbed(), warning);
        }, "schedule"_a.none(), "threads"_a, "batch"_a, "runs"_a, "warmup"_a)
        .def("evaluate", [](const PyModel& p, const std::string& data, const std::string& root, const PySchedule* s,
                            int limit, int threads, bool skip_bad, int first, int count) {
            // first/count: the slice of the (limited) list one executor shard evaluates; count -1: to the end.
            if (first < 0) pomt::fail("first must not be negative, got " + std::to_string(first));
            if (count < -1) pomt::fail("count must be a number of images or -1 (to the end), got " + std::to_string(count));
            const std::shared_ptr<const pomt::Model> model = model_of(p.classifier());
            pomt::EvalOptions o;
            o.threads = threads > 0 ? threads : p.threads();
            o.skip_bad = skip_bad;
            std::vector<pomt::LabelledImage> images;
            pomt::EvalResult r;
            {
                nb::gil_scoped_release release;
                images = eval_images(*model, data, root, s, limit);
                const size_t n = images.size(), end = count < 0 ? n : size_t(first) + size_t(count);
                if (size_t(first) > n || end > n)
                    pomt::fail("images " + std::to_string(first) + " to " + std::to_string(end) + " are not within the " +
                               std::to_string(n) + " images of " + data);
                images = std::vector<pomt::LabelledImage>(images.begin() + std::ptrdiff_t(first),
                                                          images.begin() + std::ptrdiff_t(end));
                r = pomt::evaluate_images(model, images, steps_of(s), o);
            }
            std::vector<std::tuple<std::string, int, int, bool, bool, std::string>> per_image;
            for (int i = 0; i < r.images && size_t(i) < r.per_image.size() && size_t(i) < images.size(); ++i) {
                const pomt::ImageOutcome& io = r.per_image[size_t(i)];
                per_image.emplace_back(images[size_t(i)].path, images[size_t(i)].label, io.top1, io.correct1,
                                       io.correct5, io.error);
            }
            return std::make_tuple(r.images, r.evaluated, r.skipped, r.top1(), r.top5(), per_image);
        }, "data"_a, "root"_a, "schedule"_a.none(), "limit"_a, "threads"_a, "skip_bad"_a, "first"_a = 0, "count"_a = -1)
        // How many images evaluate(data, root, schedule, limit) would evaluate, after the same checks:
        // what pomt.evaluate shards for an executor, failing here as the local run would.
        .def("count_images", [](const PyModel& p, const std::string& data, const std::string& root, const PySchedule* s,
                                int limit) {
            nb::gil_scoped_release release;
            return eval_images(*model_of(p.classifier()), data, root, s, limit).size();
        }, "data"_a, "root"_a, "schedule"_a.none(), "limit"_a);

    // The paper's schedule search (include/pomt/search.h). `progress(phase, done, total)` may be None;
    // it is called with the GIL held, from worker threads while images decode; returning False
    // cancels, and an exception it raises cancels too and is reported in the error.
    m.def("search_schedule", [](const PyModel& p, const std::string& data, const std::string& root, int max_images,
                                bool skip_bad, uint64_t seed, double alpha, int layer, int min_tokens, int max_tokens,
                                int token_step, int coarse_step, int threads, const std::string& latency_csv,
                                bool fast, bool verify, int verify_runs, nb::object progress) {
        pomt::ScheduleSearchOptions o;
        o.data = data, o.root = root, o.max_images = max_images, o.skip_bad = skip_bad, o.random_seed = seed;
        o.alpha = alpha, o.layer = layer, o.min_tokens = min_tokens, o.max_tokens = max_tokens;
        o.token_step = token_step, o.coarse_step = coarse_step, o.threads = threads > 0 ? threads : p.threads();
        o.latency_csv = latency_csv, o.fast = fast, o.verify = verify, o.verify_runs = verify_runs;
        std::unique_ptr<nb::python_error> callback_error;
        o.progress = progress_callback(progress, &callback_error);
        pomt::ScheduleSearchResult r;
        try {
            nb::gil_scoped_release release;
            r = pomt::search_schedule(p.classifier(), o);
        } catch (const pomt::Error&) {
            if (callback_error) pomt::fail("the progress callback raised: " + pomt::one_line(callback_error->what()));
            throw;
        }
        std::vector<std::tuple<int, double, double, double, int>> latency;
        for (const pomt::LatencyPoint& l : r.latency) latency.emplace_back(l.tokens, l.median_ms, l.p10_ms, l.p90_ms, l.runs);
        std::vector<std::tuple<int, double, double, bool, double>> points;
        for (const pomt::TokenUtility& u : r.points)
            points.emplace_back(u.tokens, u.latency_ms, u.accuracy, u.accuracy_measured, u.utility);
        return nb::make_tuple(r.n_star, r.tokens_full, r.layer, r.r, r.reference_r, r.description, r.images, latency,
                              points, r.verified, r.baseline_ms, r.schedule_ms, r.reference_ms,
                              pomt::schedule_file_json(p.classifier(), r), r.verify_remeasured, r.verify_warning);
    }, "model"_a, "data"_a, "root"_a, "max_images"_a, "skip_bad"_a, "seed"_a, "alpha"_a, "layer"_a, "min_tokens"_a,
       "max_tokens"_a, "token_step"_a, "coarse_step"_a, "threads"_a, "latency_csv"_a, "fast"_a, "verify"_a,
       "verify_runs"_a, "progress"_a.none());
    // The Pareto search (include/pomt/search.h, search_pareto). Numbers the Python layer leaves unset
    // arrive as the C++ "unset" values (budgets -1 / 0, confirm -1, first_images / max_measured /
    // latency_step 0: the CLI's defaults for `fast`). remote(requests) -> [(top1, top5), ...] may be
    // None; when given it becomes remote_accuracy: called with the GIL held from the search's thread,
    // its requests as dicts {schedule, precision, confirmation, first, count}, its replies checked
    // (a malformed one is a one-line pomt.Error) and an exception it raises propagates as itself.
    // Returns (result dict, schedule file JSON or "" when no plan was chosen).
    m.def("search_pareto", [](const PyModel& p, const std::string& data, const std::string& root, int images,
                              bool skip_bad, int confirm, const std::string& confirm_data, const std::string& confirm_root,
                              const std::vector<std::string>& precisions, double max_loss, double max_ms,
                              double max_ratio, double alpha, const std::string& rule, double confidence, double z,
                              int threads, int batch, bool fast, int first_images, int max_measured, int latency_step,
                              int verify_runs, const std::string& block_latency_csv,
                              const std::string& block_latency_csv_int8, const std::string& block_latency_csv_bf16,
                              const std::string& latency_csv,
                              const std::string& compare_schedule, const std::vector<std::string>& extra_specs,
                              const std::string& svg_prefix, nb::object remote, nb::object progress) {
        if (images < 0) pomt::fail("images must not be negative (0: all), got " + std::to_string(images));
        if (batch < 1 || batch > 1024) pomt::fail("batch must be in [1, 1024], got " + std::to_string(batch));
        if (verify_runs < 1) pomt::fail("verify_runs must be at least 1, got " + std::to_string(verify_runs));
        for (int v : {first_images, max_measured, latency_step})
            if (v < 0) pomt::fail("first_images, max_measured and latency_step must be positive (0: the default)");
        if (threads < 0) pomt::fail("threads must not be negative (0: every core), got " + std::to_string(threads));
        pomt::ParetoSearchOptions o;
        o.data = data, o.root = root, o.max_images = images, o.skip_bad = skip_bad;
        o.confirm_images = confirm, o.confirm_data = confirm_data, o.confirm_root = confirm_root;
        for (const std::string& name : precisions) {
            pomt::PlanPrecision pp;
            if (!pomt::plan_precision_from_name(name, &pp))
                pomt::fail("precision takes fp32, int8 and/or bf16, not '" + name + "'");
            o.precisions.push_back(pp);
        }
        pomt::ParetoBudget& b = o.budget;
        b.max_loss = max_loss, b.max_ms = max_ms, b.max_ratio = max_ratio, b.alpha = alpha, b.confidence = confidence;
        if (rule == "confirmed") b.loss_rule = pomt::LossRule::Confirmed;
        else if (rule == "estimate") b.loss_rule = pomt::LossRule::Estimate;
        else if (rule == "bound") b.loss_rule = pomt::LossRule::EstimateBound;
        else pomt::fail("rule must be confirmed, estimate or bound, not '" + rule + "'");
        o.z = z;
        o.threads = threads, o.batch = batch, o.fast = fast, o.verify_runs = verify_runs;
        o.first_images = first_images;  // 0: the search's default (by fast and the precisions)
        o.max_measured = max_measured ? max_measured : fast ? 16 : 32;
        o.latency_step = latency_step ? latency_step : fast ? 8 : 4;
        o.block_latency_csv = block_latency_csv, o.block_latency_csv_int8 = block_latency_csv_int8;
        o.block_latency_csv_bf16 = block_latency_csv_bf16;
        o.latency_csv = latency_csv, o.compare_schedule = compare_schedule, o.extra_specs = extra_specs;
        // The Python exception a callback raised: the search stops with a pomt::Error, and this
        // is raised instead, as itself (a worker's pomt.Error with its message, a KeyboardInterrupt).
        std::unique_ptr<nb::python_error> callback_error;
        if (!remote.is_none())
            o.remote_accuracy = [&](const std::vector<AccuracyRequest>& reqs) {
                nb::gil_scoped_acquire gil;
                try {
                    nb::list asked;
                    for (const AccuracyRequest& q : reqs) {
                        nb::dict d;
                        d["schedule"] = q.schedule, d["precision"] = std::string(pomt::plan_precision_name(q.precision));
                        d["confirmation"] = q.confirmation, d["first"] = q.first, d["count"] = q.count;
                        asked.append(d);
                    }
                    return replies_from_python(remote(asked), reqs);
                } catch (nb::python_error& e) {
                    callback_error = std::make_unique<nb::python_error>(e);
                    pomt::fail("remote accuracy raised: " + pomt::one_line(e.what()));
                }
            };
        o.progress = progress_callback(progress, &callback_error);
        pomt::ParetoSearchResult r;
        std::string file;
        try {
            nb::gil_scoped_release release;
            r = pomt::search_pareto(p.classifier(), o);
            if (r.chosen >= 0) {
                file = pomt::schedule_file_json(p.classifier(), r);
                if (!svg_prefix.empty()) pomt::write_search_svgs(r, svg_prefix);
            }
        } catch (const pomt::Error&) {
            if (callback_error) throw nb::python_error(*callback_error);
            throw;
        }
        nb::dict d;
        d["architecture"] = r.architecture, d["threads"] = r.threads, d["batch"] = r.batch, d["images"] = r.images;
        d["tokens_full"] = r.tokens_full, d["z"] = r.z;
        nb::list plans;
        for (const pomt::ParetoPlan& plan : r.plans) plans.append(plan_to_python(plan));
        d["plans"] = plans;
        d["chosen_index"] = r.chosen, d["choice"] = r.choice, d["compare_index"] = r.compare_index;
        d["confirm_images"] = r.confirm_images, d["confirm_source"] = r.confirm_source;
        d["loss_rule"] = std::string(pomt::loss_rule_name(r.loss_rule)), d["confidence"] = r.confidence;
        d["data_note"] = r.data_note;
        nb::list rounds;
        for (size_t i = 0; i < r.round_images.size() && i < r.round_candidates.size(); ++i)
            rounds.append(nb::make_tuple(r.round_images[i], r.round_candidates[i]));
        d["rounds"] = rounds, d["image_evaluations"] = r.image_evaluations;
        std::vector<std::string> names;
        for (pomt::PlanPrecision pp : r.precisions) names.emplace_back(pomt::plan_precision_name(pp));
        d["precisions"] = names, d["precision_sources"] = r.precision_sources;
        nb::list tables;
        for (const auto& t : r.precision_block_latency) tables.append(nb::cast(latency_rows(t)));
        d["block_latency"] = tables;
        d["overhead_ms"] = r.overhead_ms, d["after_prune_share"] = r.after_prune_share;
        d["last_block_share"] = r.last_block_share;
        d["verify_runs"] = r.verify_runs, d["baseline_ms"] = r.baseline_ms;
        d["verify_remeasured"] = r.verify_remeasured, d["verify_warning"] = r.verify_warning;
        return nb::make_tuple(d, file);
    }, "model"_a, "data"_a, "root"_a, "images"_a, "skip_bad"_a, "confirm"_a, "confirm_data"_a, "confirm_root"_a,
       "precisions"_a, "max_loss"_a, "max_ms"_a, "max_ratio"_a, "alpha"_a, "rule"_a, "confidence"_a, "z"_a,
       "threads"_a, "batch"_a, "fast"_a, "first_images"_a, "max_measured"_a, "latency_step"_a, "verify_runs"_a,
       "block_latency_csv"_a, "block_latency_csv_int8"_a, "block_latency_csv_bf16"_a, "latency_csv"_a,
       "compare_schedule"_a, "extra_specs"_a, "svg_prefix"_a, "remote"_a.none(), "progress"_a.none());
    m.def("load", [](const std::string& path, uint64_t max_memory, int threads) {
        nb::gil_scoped_release release;
        return new PyModel(pomt::Classifier::load(path, load_options(max_memory)), threads);
    }, "path"_a, "max_memory"_a, "threads"_a);
    m.def("random", [](const std::string& arch, uint64_t seed, uint64_t max_memory, int threads) {
        nb::gil_scoped_release release;
        return new PyModel(pomt::Classifier::random(arch, seed, load_options(max_memory)), threads);
    }, "arch"_a, "seed"_a, "max_memory"_a, "threads"_a);
    m.def("convert", [](const std::string& input, const std::string& output, const std::string& config,
                        const std::string& arch, int image_size) {
        pomt::ConvertOptions o;
        o.input = input;
        o.output = output;
        o.config_path = config;
        o.arch = arch;
        o.image_size = image_size;
        pomt::ConvertReport r;
        {
            nb::gil_scoped_release release;
            r = pomt::convert_timm_weights(o);
        }
        return std::make_tuple(r.meta.model.architecture, r.tensors, r.parameters, int(r.meta.class_names.size()));
    }, "input"_a, "output"_a, "config"_a, "arch"_a, "image_size"_a);
    // Every tensor of a .pomt file (any version) in timm's layout, read by pomt's own reader
    // (vit/weights_file.h, every offset and shape checked), with the model config as the header's
    // JSON: (config_json, [(name, array)]) in the file's tensor order.
    m.def("read_weights", [](const std::string& path) {
        std::string config;
        std::vector<UnpackedTensor> unpacked;
        {
            nb::gil_scoped_release release;
            const pomt::WeightsFile file(path);
            config = file.meta().model.to_json().dump();
            for (const pomt::WeightsTensor& t : file.tensors()) unpacked.push_back(unpack_tensor(t));
        }
        nb::list tensors;
        for (UnpackedTensor& u : unpacked) {
            nb::object a = u.dtype == pomt::TensorDtype::I8    ? numpy_of(std::move(u.i8), u.shape)
                           : u.dtype == pomt::TensorDtype::I32 ? numpy_of(std::move(u.i32), u.shape)
                                                                : numpy_of(std::move(u.f32), u.shape);
            tensors.append(nb::make_tuple(u.name, a));
        }
        return nb::make_tuple(config, tensors);
    }, "path"_a);
    m.def("quantize", [](const std::string& input, const std::string& output, const std::string& attention,
                         const std::string& precision) {
        pomt::QuantizeOptions o;
        o.attention = attention;
        o.precision = precision;
        nb::gil_scoped_release release;
        pomt::quantize_file(input, output, o);
    }, "input"_a, "output"_a, "attention"_a, "precision"_a);
}
