// The public API (include/pomt/pomt.h): a thin facade over vit/ — Model, Session, the image
// decoder, the eval transform and the pruning schedules do the work; this file only adds display
// names, softmax / top-k and per-call or per-thread workspaces.
#include "pomt/pomt.h"

#include "api/internal.h"
#include "quantize/quantize_model.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/file_util.h"
#include "vit/forward.h"
#include "image/image.h"
#include "core/memory_limit.h"
#include "vit/model.h"
#include "image/preprocess.h"
#include "prune/pruning.h"
#include "prune/token_provenance.h"
#include "image/png_writer.h"
#include "image/token_picture.h"

namespace pomt {

namespace {

// "tench, Tinca tinca" -> "tench". Where first names collide (ImageNet has two "crane" and two
// "maillot" classes) the full entry is used, and where even that collides, the index is added,
// so every printed name identifies one class.
std::vector<std::string> display_names(const std::vector<std::string>& entries, int classes) {
    std::vector<std::string> names(static_cast<size_t>(std::max(classes, 0)));
    if (int(entries.size()) != classes) {
        for (int i = 0; i < classes; ++i) names[size_t(i)] = "class " + std::to_string(i);
        return names;
    }
    std::map<std::string, int> first_count, full_count;
    for (int i = 0; i < classes; ++i) {
        const std::string& e = entries[size_t(i)];
        names[size_t(i)] = e.substr(0, e.find(", "));
        ++first_count[names[size_t(i)]];
        ++full_count[e];
    }
    for (int i = 0; i < classes; ++i) {
        const std::string& e = entries[size_t(i)];
        if (first_count[names[size_t(i)]] != 1)
            names[size_t(i)] = full_count[e] == 1 ? e : e + " (class " + std::to_string(i) + ")";
        if (names[size_t(i)].empty()) names[size_t(i)] = "class " + std::to_string(i);  // a blank entry
    }
    return names;
}

Tensor to_tensor(const Image& img, const PreprocessConfig& cfg) {
    Tensor t;
    t.channels = cfg.input_size[0];
    t.height = cfg.input_size[1];
    t.width = cfg.input_size[2];
    t.data = preprocess_image(img, cfg);
    return t;
}

ResolvedSchedule resolve(const Schedule& schedule, const ModelConfig& config) {
    return resolve_schedule(steps_of(schedule), config);
}

TokenPicture to_picture(TokenPictureParts parts) {
    TokenPicture t;
    t.width = parts.picture.width;
    t.height = parts.picture.height;
    t.input_height = parts.input_height;
    t.rgb = std::move(parts.picture.rgb);
    t.legend = std::move(parts.legend);
    const TokenCounts& n = parts.counts;
    t.tokens_before = n.tokens_before, t.tokens_after = n.tokens_after;
    t.patches = n.patches, t.kept = n.kept, t.dropped = n.dropped, t.pomt_merged = n.pomt_merged;
    t.tome_groups = n.tome_groups, t.tome_grouped = n.tome_grouped;
    return t;
}

}  // namespace

// ---- TokenPicture ------------------------------------------------------------------------------

std::vector<uint8_t> TokenPicture::png() const {
    if (rgb.size() != size_t(width) * size_t(height) * 3) fail("token picture: no picture (or a damaged one)");
    return encode_png(rgb.data(), width, height);
}

void TokenPicture::save_png(const std::string& path) const {
    const std::vector<uint8_t> bytes = png();
    write_file_atomic(path, bytes.data(), bytes.size());
}

// ---- Schedule ----------------------------------------------------------------------------------

Schedule::Schedule() = default;

struct Schedule::Steps {
    PruneSchedule steps;
};

Schedule ApiAccess::schedule(const PruneSchedule& steps) {
    Schedule s;
    s.steps_ = std::make_shared<const Schedule::Steps>(Schedule::Steps{steps});
    return s;
}

const PruneSchedule& ApiAccess::steps(const Schedule& schedule) {
    static const PruneSchedule kNone;
    return schedule.steps_ ? schedule.steps_->steps : kNone;
}

Schedule Schedule::parse(const std::string& spec) {
    if (spec.empty()) fail("empty pruning spec (e.g. pomt:R=56,layer=3)");
    return schedule_from_steps(parse_prune_spec(spec));
}

Schedule Schedule::load(const std::string& path) { return schedule_from_steps(load_schedule_file(path)); }

Schedule Schedule::from_options(const std::string& spec, const std::string& path) {
    return schedule_from_steps(schedule_from_options(spec, path));
}

bool Schedule::empty() const { return !steps_ || steps_->steps.empty(); }

const std::string& Schedule::precision() const {
    static const std::string none;
    return steps_ ? steps_->steps.precision : none;
}

// ---- Classifier --------------------------------------------------------------------------------

struct Classifier::State {
    std::shared_ptr<const Model> model;
    std::vector<std::string> names;
    uint64_t max_memory = 0;
};

Classifier::Classifier(std::shared_ptr<const State> state) : state_(std::move(state)) {}

Classifier ApiAccess::classifier(std::shared_ptr<const Model> model, const LoadOptions& options) {
    if (!model) fail("no model");
    auto s = std::make_shared<Classifier::State>();
    s->max_memory = options.max_memory ? options.max_memory : default_memory_limit();
    // A model that cannot run even one image within the limit is refused now, not at its first run.
    check_model_memory(*model, s->max_memory);
    s->names = display_names(model->class_names(), model->config().num_classes);
    s->model = std::move(model);
    return Classifier(std::move(s));
}

const std::shared_ptr<const Model>& ApiAccess::model(const Classifier& classifier) { return classifier.state_->model; }

Classifier Classifier::load(const std::string& path, const LoadOptions& options) {
    return classifier_from_model(Model::load(path), options);
}

Classifier Classifier::random(const std::string& architecture, uint64_t seed, const LoadOptions& options) {
    return classifier_from_model(Model::random(architecture, seed), options);
}

Classifier Classifier::with_labels(std::vector<std::string> names) const {
    if (int(names.size()) != num_classes())
        fail(std::to_string(names.size()) + " labels given, the model has " + std::to_string(num_classes()) +
             " classes");
    for (size_t i = 0; i < names.size(); ++i)
        if (names[i].empty()) fail("label " + std::to_string(i) + " is empty");
    auto s = std::make_shared<State>(*state_);
    s->names = std::move(names);
    return Classifier(std::move(s));
}

Classifier Classifier::for_schedule(const Schedule& schedule) const {
    std::shared_ptr<const Model> m = model_in_precision(state_->model, schedule.precision());
    if (m == state_->model) return *this;
    auto s = std::make_shared<State>(*state_);
    s->model = std::move(m);
    return Classifier(std::move(s));
}

Classifier Classifier::with_labels_file(const std::string& path) const {
    std::vector<unsigned char> bytes = read_file_bytes(path, "labels file");
    std::string text(bytes.begin(), bytes.end());
    std::vector<std::string> names;
    size_t start = 0;
    while (start < text.size()) {  // a final newline ends the last name rather than adding one
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(start, end - start);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty())
            fail("labels file '" + path + "': line " + std::to_string(names.size() + 1) + " is empty");
        names.push_back(std::move(line));
        start = end + 1;
    }
    if (int(names.size()) != num_classes())
        fail("labels file '" + path + "' has " + std::to_string(names.size()) + " names, the model has " +
             std::to_string(num_classes()) + " classes");
    return with_labels(std::move(names));
}

const std::string& Classifier::architecture() const { return state_->model->config().architecture; }
int Classifier::num_classes() const { return state_->model->config().num_classes; }
int Classifier::input_channels() const { return state_->model->preprocess().input_size[0]; }
int Classifier::input_height() const { return state_->model->preprocess().input_size[1]; }
int Classifier::input_width() const { return state_->model->preprocess().input_size[2]; }
const std::vector<std::string>& Classifier::class_names() const { return state_->names; }
int Classifier::num_outputs() const {
    const ModelConfig& c = state_->model->config();
    return c.num_classes > 0 ? c.num_classes : c.embed_dim;
}

const std::string& Classifier::class_name(int index) const {
    if (index < 0 || index >= int(state_->names.size()))
        fail("class index " + std::to_string(index) + " outside 0.." + std::to_string(int(state_->names.size()) - 1));
    return state_->names[size_t(index)];
}

uint64_t Classifier::max_memory() const { return state_->max_memory; }

Tensor Classifier::preprocess_file(const std::string& path, const ImageOptions& options) const {
    ImageLimits limits;
    limits.max_pixels = options.max_pixels;
    return to_tensor(load_image(path, limits), state_->model->preprocess());
}

Tensor Classifier::preprocess_bytes(const void* bytes, size_t size, const std::string& name,
                                    const ImageOptions& options) const {
    ImageLimits limits;
    limits.max_pixels = options.max_pixels;
    return to_tensor(decode_image(static_cast<const unsigned char*>(bytes), size, name, limits),
                     state_->model->preprocess());
}

Tensor Classifier::preprocess_rgb(const uint8_t* rgb, int width, int height) const {
    if (!rgb || width <= 0 || height <= 0)
        fail("RGB image must be non-empty, got " + std::to_string(width) + "x" + std::to_string(height));
    Image img;
    img.width = width;
    img.height = height;
    img.rgb.assign(rgb, rgb + size_t(width) * size_t(height) * 3);
    return to_tensor(img, state_->model->preprocess());
}

Result Classifier::run(const Tensor& input, const InferenceOptions& options) const {
    Workspace workspace(*this, 1);
    return workspace.run(input, options);
}

std::vector<Prediction> Classifier::top_k(const std::vector<float>& logits, int k) const {
    const int n = int(logits.size());
    if (n != num_classes()) fail("top_k needs " + std::to_string(num_classes()) + " logits, got " + std::to_string(n));
    k = std::max(0, std::min(k, n));
    // Softmax in double, shifted by the maximum so no exponential overflows.
    const double mx = n ? double(*std::max_element(logits.begin(), logits.end())) : 0.0;
    std::vector<double> p(static_cast<size_t>(n));
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += p[size_t(i)] = std::exp(double(logits[size_t(i)]) - mx);
    std::vector<int> order(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) order[size_t(i)] = i;
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
        return logits[size_t(a)] != logits[size_t(b)] ? logits[size_t(a)] > logits[size_t(b)] : a < b;
    });
    std::vector<Prediction> top(static_cast<size_t>(k));
    for (int r = 0; r < k; ++r) {
        const int i = order[size_t(r)];
        top[size_t(r)] = Prediction{i, p[size_t(i)] / sum, state_->names[size_t(i)]};
    }
    return top;
}

TokenPicture Classifier::show_tokens(const Tensor& input, const Schedule& schedule) const {
    InferenceOptions options;
    options.top = 0;
    options.schedule = schedule;
    options.show_tokens = true;
    return run(input, options).token_picture;
}

std::string Classifier::describe(const Schedule& schedule) const {
    ResolvedSchedule plan = resolve(schedule, state_->model->config());
    return plan.empty() ? "none" : plan.describe();
}

// ---- Workspace ---------------------------------------------------------------------------------

struct Workspace::Impl {
    Classifier classifier;
    Session session;
    Impl(const Classifier& c, int threads) : classifier(c), session(model_of(c), threads) {
        session.set_memory_limit(c.max_memory());
    }
};

Workspace::Workspace(const Classifier& classifier, int threads)
    : impl_(std::make_unique<Impl>(classifier, threads)) {}
Workspace::~Workspace() = default;
Workspace::Workspace(Workspace&&) noexcept = default;
Workspace& Workspace::operator=(Workspace&&) noexcept = default;

int Workspace::threads() const { return impl_->session.threads(); }
const Classifier& Workspace::classifier() const { return impl_->classifier; }

Result Workspace::run(const Tensor& input, const InferenceOptions& options) {
    const ModelConfig& c = impl_->session.model().config();
    const size_t floats = size_t(c.in_chans) * size_t(c.img_size) * size_t(c.img_size);
    if (input.channels != c.in_chans || input.height != c.img_size || input.width != c.img_size ||
        input.data.size() != floats)
        fail("input is " + std::to_string(input.channels) + "x" + std::to_string(input.height) + "x" +
             std::to_string(input.width) + " (" + std::to_string(input.data.size()) + " values), the model takes " +
             std::to_string(c.in_chans) + "x" + std::to_string(c.img_size) + "x" + std::to_string(c.img_size));
    // The pruner holds scratch space written during the run, so each call gets its own: nothing
    // is shared between concurrent runs but the read-only model.
    // With show_tokens, the pruner records where every token goes (prune/token_provenance.h).
    TokenProvenance record;
    TokenProvenance* recording = nullptr;
    if (options.show_tokens) {
        record.start(1, c.num_tokens(), c.num_prefix_tokens());  // what an empty schedule leaves
        recording = &record;
    }
    std::unique_ptr<TokenPruner> pruner;
    if (!options.schedule.empty()) pruner = make_pruner(resolve(options.schedule, c), c, recording);
    Result r;
    RunOptions ro;
    ro.pruner = pruner.get();
    ro.tokens_after_block = &r.tokens_after_block;
    r.logits = impl_->session.run(input.data.data(), 1, ro);
    if (recording)
        r.token_picture =
            to_picture(draw_token_picture(input.data.data(), impl_->session.model().preprocess(), c, record, 0));
    if (c.num_classes > 0) r.top = impl_->classifier.top_k(r.logits, options.top);
    return r;
}

void Workspace::run_batch(const float* images, int batch, float* outputs, const Schedule& schedule,
                          std::vector<int>* tokens_after_block) {
    const ModelConfig& c = impl_->session.model().config();
    if (batch < 1) fail("batch must be at least 1, got " + std::to_string(batch));
    if (!images || !outputs) fail("run_batch needs input and output buffers");
    std::unique_ptr<TokenPruner> pruner;
    if (!schedule.empty()) pruner = make_pruner(resolve(schedule, c), c);
    RunOptions ro;
    ro.pruner = pruner.get();
    ro.tokens_after_block = tokens_after_block;
    const std::vector<float> out = impl_->session.run(images, batch, ro);
    const size_t expected = size_t(batch) * size_t(impl_->classifier.num_outputs());
    if (out.size() != expected)
        fail("run gave " + std::to_string(out.size()) + " values, expected " + std::to_string(expected));
    std::copy(out.begin(), out.end(), outputs);
}

}  // namespace pomt
