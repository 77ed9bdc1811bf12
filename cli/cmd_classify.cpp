// pomt classify: image files in, top-k classes out — decoding, timm's eval transform and the
// forward pass (optionally pruned), through the public API of include/pomt/pomt.h.
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <set>

#include "api/internal.h"
#include "cli/commands.h"
#include "kernels/gemm_bf16_kernels.h"
#include "cli/prune_args.h"
#include "pomt/pomt.h"
#include "pomt/error.h"
#include "core/file_util.h"
#include "core/json.h"
#include "kernels/gemm_int8_kernels.h"

namespace pomt {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// A number rounded to `digits` significant digits, so the JSON reads 0.912346 rather than the
// 17 digits a double carries (more than a float32 forward pass means).
json::Value rounded(double v, int digits) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    return json::Value::number(std::strtod(buf, nullptr));
}

struct ImageOutcome {
    std::string image, error;
    std::string picture;  // --show-tokens: the file written
    Result result;
    double decode_ms = 0, forward_ms = 0;
};

// --show-tokens PATH: the picture file of each image. One image: PATH itself, unless PATH is an
// existing folder or ends in '/'; several: PATH is a folder, receiving <image-stem>.tokens.png.
// Checked before any work, so a bad PATH fails with nothing written; a missing folder (parents
// too) is only checked here, and made by the caller once the model has loaded.
struct Pictures {
    std::vector<std::string> files;  // one per image
    std::string folder_to_make;      // empty: PATH exists or is a file
};

Pictures picture_paths(const std::string& path, const std::vector<std::string>& images) {
    if (path.empty()) fail("--show-tokens needs a path");
    const bool folder = is_directory(path);
    if (!folder && images.size() == 1 && path.back() != '/') {
        require_writable_path(path);
        return {{path}, ""};
    }
    Pictures out;
    if (!folder) {
        require_creatable_directory(path, "--show-tokens");
        out.folder_to_make = path;
    }
    std::set<std::string> seen;
    for (const std::string& image : images) {
        std::string stem = image.substr(image.find_last_of('/') + 1);
        if (stem.find('.') != std::string::npos && stem.find_last_of('.') > 0) stem.resize(stem.find_last_of('.'));
        const std::string file = path + (path.back() == '/' ? "" : "/") + stem + ".tokens.png";
        if (!seen.insert(file).second) fail("--show-tokens: two images would both write '" + file + "'");
        if (folder) require_writable_path(file);  // a missing folder has no files to clash with
        out.files.push_back(file);
    }
    return out;
}

}  // namespace

int cmd_classify(const Args& args) {
    const Clock::time_point start = Clock::now();
    const std::vector<std::string>& images = args.positional();
    if (images.empty()) fail("give at least one image file");
    const int top = args.get_int("--top", 5, 1, INT_MAX);
    const int threads = threads_from_args(args);
    ImageOptions image_options;
    image_options.max_pixels = uint64_t(args.get_int("--max-pixels", int(image_options.max_pixels), 1, INT_MAX));
    const bool as_json = args.has("--json");
    // Before the model load, so a bad spec or schedule file fails fast.
    const PruneSchedule steps = schedule_from_args(args);
    const Schedule schedule = schedule_from_steps(steps);
    const bool show_tokens = args.has("--show-tokens");
    const Pictures pictures = show_tokens ? picture_paths(args.get("--show-tokens"), images) : Pictures();

    // Load: map the weights, wrap them, make the workspace (buffers, thread pool).
    Classifier classifier = classifier_from_model(load_model_from_args(args));
    if (classifier.num_classes() <= 0) fail("the model has no classifier head (num_classes 0)");
    if (args.has("--labels")) classifier = classifier.with_labels_file(args.get("--labels"));
    const std::string plan = classifier.describe(schedule);  // validated against the model here
    print_prune_warnings(args, steps, model_of(classifier)->config());
    Workspace workspace(classifier, threads);
    const std::string precision = precision_text(*model_of(classifier));
    // Made only now, so a model that fails to load leaves no empty folder behind.
    if (!pictures.folder_to_make.empty()) make_directories(pictures.folder_to_make, "--show-tokens");
    const double load_ms = ms_since(start);

    InferenceOptions options;
    options.top = top;
    options.schedule = schedule;
    options.show_tokens = show_tokens;
    if (!as_json && !schedule.empty()) std::printf("pruning: %s\n", plan.c_str());
    std::vector<ImageOutcome> outcomes;
    bool any_failed = false;
    int printed = 0;
    for (size_t i = 0; i < images.size(); ++i) {
        const std::string& path = images[i];
        ImageOutcome o;
        o.image = path;
        // A bad image is reported and skipped; the others are still classified.
        try {
            Clock::time_point t0 = Clock::now();
            Tensor input = classifier.preprocess_file(path, image_options);
            o.decode_ms = ms_since(t0);
            t0 = Clock::now();
            o.result = workspace.run(input, options);
            o.forward_ms = ms_since(t0);
            if (show_tokens) o.result.token_picture.save_png(o.picture = pictures.files[i]);
        } catch (const Error& e) {
            o.error = e.what();
        } catch (const std::bad_alloc&) {
            o.error = one_line("image '" + path + "': out of memory");
        }
        if (!o.error.empty()) {
            std::fprintf(stderr, "pomt classify: error: %s\n", o.error.c_str());
            any_failed = true;
        }
        if (!as_json && o.error.empty()) {
            // Text: the image, `rank  probability  index  name` rows, one timing line.
            std::printf("%s%s\n", printed++ > 0 ? "\n" : "", path.c_str());
            for (size_t r = 0; r < o.result.top.size(); ++r) {
                const Prediction& p = o.result.top[r];
                std::printf("%2zu  %.4f  %4d  %s\n", r + 1, p.prob, p.index, p.name.c_str());
            }
            std::printf("load %.1f ms  decode+preprocess %.1f ms  forward %.1f ms  %s\n", load_ms, o.decode_ms,
                        o.forward_ms, precision.c_str());
            if (show_tokens)
                std::printf("tokens picture %s: %s\n", o.picture.c_str(), o.result.token_picture.legend.c_str());
            std::fflush(stdout);  // results appear as they are ready (and before a later error line)
        }
        outcomes.push_back(std::move(o));
    }

    if (as_json) {
        json::Value doc = json::Value::object();
        doc.set("model", json::Value::string(classifier.architecture()));
        doc.set("precision", json::Value::string(model_of(classifier)->meta().quantization.precision));
        if (model_of(classifier)->is_int8()) doc.set("int8_kernels", json::Value::string(active_int8_variant()));
        if (model_of(classifier)->is_bf16()) doc.set("bf16_kernels", json::Value::string(active_bf16_variant()));
        doc.set("threads", json::Value::number(workspace.threads()));
        doc.set("schedule", json::Value::string(plan));
        doc.set("load_ms", rounded(load_ms, 4));
        json::Value list = json::Value::array();
        for (const ImageOutcome& o : outcomes) {
            json::Value item = json::Value::object();
            item.set("image", json::Value::string(o.image));
            if (!o.error.empty()) {
                item.set("error", json::Value::string(o.error));
                list.push_back(item);
                continue;
            }
            json::Value top_list = json::Value::array();
            for (const Prediction& p : o.result.top) {
                json::Value e = json::Value::object();
                e.set("index", json::Value::number(p.index));
                e.set("prob", rounded(p.prob, 6));
                e.set("name", json::Value::string(p.name));
                top_list.push_back(e);
            }
            item.set("top", top_list);
            if (show_tokens) {
                item.set("tokens_picture", json::Value::string(o.picture));
                item.set("tokens_legend", json::Value::string(o.result.token_picture.legend));
            }
            if (!o.result.tokens_after_block.empty())
                item.set("tokens_after_last_block", json::Value::number(o.result.tokens_after_block.back()));
            json::Value timings = json::Value::object();
            timings.set("load_ms", rounded(load_ms, 4));
            timings.set("decode_preprocess_ms", rounded(o.decode_ms, 4));
            timings.set("forward_ms", rounded(o.forward_ms, 4));
            item.set("timings", timings);
            list.push_back(item);
        }
        doc.set("images", list);
        std::printf("%s\n", doc.dump().c_str());
    }
    return any_failed ? 2 : 0;
}

}  // namespace pomt
