// pomt's public C++ API: load a .pomt model, decode and preprocess an image exactly as timm's eval
// transform does, run it (with or without a token-pruning schedule) and read logits and top-k.
//
//   pomt::Classifier model = pomt::Classifier::load("vit_tiny.pomt");
//   pomt::Result r = model.run(model.preprocess_file("cat.jpg"));
//   for (const pomt::Prediction& p : r.top) std::printf("%.4f %s\n", p.prob, p.name.c_str());
//
// Threads: a Classifier is an immutable handle (copies share one memory-mapped model), so any
// number of threads may use one at once. Classifier::run makes a fresh workspace per call; a
// Workspace keeps its buffers and thread pool between calls and belongs to one thread at a time.
// There is no global state: everything a run writes lives in its own workspace.
//
// Every failure (unreadable model, bad image, bad schedule) is a pomt::Error with a one-line
// message naming the file or the option.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pomt/error.h"  // pomt::Error

namespace pomt {

struct ApiAccess;  // the library's own way in (api/internal.h), not part of the API

// A preprocessed image: channels × height × width float32 (CHW), resized, cropped and normalised.
struct Tensor {
    int channels = 0, height = 0, width = 0;
    std::vector<float> data;
};

struct Prediction {
    int index = 0;     // class index
    double prob = 0;   // softmax probability
    std::string name;  // display name (Classifier::class_name)
};

// A picture of the tokens a schedule kept for one image (`pomt classify --show-tokens`), drawn from
// the pruning decisions of the run itself: the model's input de-normalised to RGB, every patch as
// the final token set sees it, and a legend strip under it. Kept patches show their pixels; dropped
// ones (Top-K, random) are dimmed, v → (3v + 5) / 10; patches POMT merged into its extra token are
// dimmed with a magenta hatch; each ToMe group (a final token of several patches) is filled with
// the mean colour of its patches, its boundary at half that colour. The legend lists the prefix
// tokens (class, distillation, registers) and the counts. Steps compose across blocks.
struct TokenPicture {
    int width = 0, height = 0;  // height: input_height + the legend strip
    int input_height = 0;       // rows [0, input_height) are the model's input
    std::vector<uint8_t> rgb;   // height × width × 3, row-major
    std::string legend;         // the legend's text, one line
    int tokens_before = 0, tokens_after = 0;  // after the embedding, after the last pruning step
    int patches = 0, kept = 0, dropped = 0, pomt_merged = 0, tome_groups = 0, tome_grouped = 0;

    std::vector<uint8_t> png() const;              // the PNG file's bytes
    void save_png(const std::string& path) const;  // written atomically; pomt::Error on failure
};

struct Result {
    std::vector<float> logits;            // one per class (pooled features when the model has no head)
    std::vector<Prediction> top;          // the InferenceOptions::top most probable, best first
    std::vector<int> tokens_after_block;  // sequence length after each block: what pruning removed
    TokenPicture token_picture;           // when InferenceOptions::show_tokens
};

struct LoadOptions {
    // Activation memory a run may use, in bytes; 0: the library default, half the physical memory.
    // A model that needs more for one image is refused by load / random, and a run
    // that would need more (pruning that keeps attention maps, a larger batch) throws pomt::Error
    // naming both sizes. Model files that cannot be memory-mapped are read into memory only up
    // to the process-wide default (core/memory_limit.h, `pomt --max-memory`).
    uint64_t max_memory = 0;
};

struct ImageOptions {
    // Images declaring more pixels are refused from their header, before any pixel memory exists.
    uint64_t max_pixels = 100000000;
};

// A token-pruning schedule as the user wrote it; checked against a model when it runs (or by
// Classifier::describe). Spec grammar and file format: docs/SCHEDULES.md, prune/pruning.h.
class Schedule {
public:
    Schedule();  // no pruning
    static Schedule parse(const std::string& spec);  // e.g. "pomt:R=56,layer=3", "tome:r=8"
    static Schedule load(const std::string& path);   // a schedule JSON file
    // `pomt run` / `pomt classify` semantics: --prune SPEC and/or --schedule FILE (either may be empty).
    static Schedule from_options(const std::string& spec, const std::string& path);
    bool empty() const;
    // The precision a schedule file says the plan was chosen in ("fp32", "int8"; "" when it says
    // none, as every file but the Pareto search's). Classifier::for_schedule applies it.
    const std::string& precision() const;

private:
    friend struct ApiAccess;
    struct Steps;
    std::shared_ptr<const Steps> steps_;
};

struct InferenceOptions {
    int top = 5;        // predictions in Result::top (clamped to the class count)
    Schedule schedule;  // default: none
    bool show_tokens = false;  // also draw Result::token_picture (same run, same logits)
};

class Classifier {
public:
    // Memory-maps a .pomt file; throws pomt::Error for any problem with it.
    static Classifier load(const std::string& path, const LoadOptions& options = {});
    // An architecture (timm name) with seeded random weights: for latency work and tests.
    static Classifier random(const std::string& architecture, uint64_t seed = 0, const LoadOptions& options = {});

    // The same model with other class names: exactly num_classes() of them, none empty.
    Classifier with_labels(std::vector<std::string> names) const;
    // Names from a text file, one per line.
    Classifier with_labels_file(const std::string& path) const;
    // The model `schedule` runs on: this one, or for a plan chosen in int8 (Schedule::precision)
    // from this fp32 model its int8 version, made in memory exactly as `pomt quantize` without
    // calibration makes the file (the same logits as running that file). Throws pomt::Error for an
    // fp32 plan on an int8 model. What `pomt eval/classify/run/bench` do with a schedule file.
    Classifier for_schedule(const Schedule& schedule) const;

    const std::string& architecture() const;
    int num_classes() const;
    int input_channels() const;
    int input_height() const;
    int input_width() const;
    // Values per image in a run's output: num_classes(), or the pooled feature width when the model
    // has no head (num_classes 0).
    int num_outputs() const;
    // Display names, one per class: the first name of each .pomt class entry ("tench" for
    // "tench, Tinca tinca"), longer where that alone would name two classes, "class N" when the
    // file has none, or the names given to with_labels.
    const std::vector<std::string>& class_names() const;
    const std::string& class_name(int index) const;

    // Decoding (JPEG, PNG, BMP, GIF, TGA, PNM; PIL's convert('RGB')) and timm's eval transform
    // from the model's preprocessing config. `name` only appears in error messages.
    Tensor preprocess_file(const std::string& path, const ImageOptions& options = {}) const;
    Tensor preprocess_bytes(const void* bytes, size_t size, const std::string& name,
                            const ImageOptions& options = {}) const;
    // Already-decoded 8-bit RGB, interleaved, row-major (width × height × 3 bytes).
    Tensor preprocess_rgb(const uint8_t* rgb, int width, int height) const;

    // One inference in a fresh single-threaded workspace; safe from any number of threads.
    Result run(const Tensor& input, const InferenceOptions& options = {}) const;

    // The picture of the tokens `schedule` keeps for `input` (one run, InferenceOptions::show_tokens).
    TokenPicture show_tokens(const Tensor& input, const Schedule& schedule) const;

    // The k most probable classes of `logits` (softmax), best first; ties go to the lower index.
    std::vector<Prediction> top_k(const std::vector<float>& logits, int k) const;
    // Checks `schedule` against this model; returns a one-line description ("pomt R=56 at block 3",
    // "none"). Throws pomt::Error when it cannot apply (layer out of range, R too large, ...).
    std::string describe(const Schedule& schedule) const;

    uint64_t max_memory() const;  // LoadOptions::max_memory as resolved (never 0)

private:
    friend class Workspace;
    friend struct ApiAccess;
    struct State;
    explicit Classifier(std::shared_ptr<const State> state);
    std::shared_ptr<const State> state_;
};

// Reusable per-thread state for repeated inferences: activation buffers and a thread pool of
// `threads` threads (<= 0: every core). Not for concurrent use; give each thread its own.
class Workspace {
public:
    explicit Workspace(const Classifier& classifier, int threads = 1);
    ~Workspace();
    Workspace(Workspace&&) noexcept;
    Workspace& operator=(Workspace&&) noexcept;

    Result run(const Tensor& input, const InferenceOptions& options = {});
    // `batch` preprocessed images, image after image ([batch × C × H × W] float32, each laid out as
    // Tensor::data), run as one batch; the logits (or pooled features) go straight into the
    // caller's `outputs`, [batch × num_outputs()] floats, so a binding can hand back its own buffer
    // with no further copy (Python's Model.run writes into the numpy array it returns). Each image
    // gets the logits run() gives it alone, up to float rounding of the batched matrix products.
    // `tokens_after_block` (optional) receives the sequence length after each block.
    void run_batch(const float* images, int batch, float* outputs, const Schedule& schedule = {},
                   std::vector<int>* tokens_after_block = nullptr);
    int threads() const;
    const Classifier& classifier() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace pomt
