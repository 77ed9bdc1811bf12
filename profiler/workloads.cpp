#include "profiler/workloads.h"

#include <chrono>
#include <cstring>

#include "pomt/error.h"

namespace pomt {
namespace profiler {

const char* mode_name(ProfileMode mode) {
    switch (mode) {
        case ProfileMode::Model: return "model";
        case ProfileMode::Block: return "block";
        case ProfileMode::Op: return "op";
    }
    return "?";
}

ProfileMode parse_mode(const std::string& text) {
    if (text == "model") return ProfileMode::Model;
    if (text == "block") return ProfileMode::Block;
    if (text == "op") return ProfileMode::Op;
    fail("--mode must be model, block or op, not '" + text + "'");
}

int KeepFirstTokens::after_embedding(float* x, int batch, int tokens, int dim) {
    const int keep = std::min(tokens_, tokens);
    // Compact each image's first `keep` rows so the batch stays contiguous [batch × keep × dim].
    for (int b = 1; b < batch; ++b)
        std::memmove(x + size_t(b) * keep * dim, x + size_t(b) * tokens * dim, size_t(keep) * dim * sizeof(float));
    return keep;
}

void fill_pseudo_random(std::vector<float>& v, uint32_t seed) {
    uint32_t state = seed;
    for (float& x : v) {
        state = state * 1664525u + 1013904223u;
        x = float(state >> 8) / float(1 << 24) * 2.0f - 1.0f;
    }
}

TokenWorkload::TokenWorkload(std::shared_ptr<const Model> model, int threads, int batch, ProfileMode mode)
    : session_(model, threads), batch_(batch), mode_(mode) {
    const ModelConfig& c = model->config();
    if (mode == ProfileMode::Model) {
        images_.resize(size_t(batch) * c.in_chans * c.img_size * c.img_size);
        fill_pseudo_random(images_, 12345);
    } else {
        tokens_in_.resize(size_t(batch) * c.num_tokens() * c.embed_dim);
        fill_pseudo_random(tokens_in_, 54321);
        tokens_work_.resize(tokens_in_.size());
    }
}

double TokenWorkload::run(int tokens) {
    using clock = std::chrono::steady_clock;
    if (mode_ == ProfileMode::Model) {
        KeepFirstTokens keep(tokens);
        RunOptions options;
        options.pruner = &keep;
        auto t0 = clock::now();
        session_.run(images_.data(), batch_, options);
        return std::chrono::duration<double>(clock::now() - t0).count();
    }
    // A block updates its input in place: start every run from the same activations so values
    // cannot drift towards overflow over thousands of runs.
    const int dim = session_.model().config().embed_dim;
    std::memcpy(tokens_work_.data(), tokens_in_.data(), size_t(batch_) * tokens * dim * sizeof(float));
    OpTimes times;
    auto t0 = clock::now();
    if (mode_ == ProfileMode::Op) op_block_.run(0, tokens_work_.data(), batch_, tokens, nullptr, times);
    else session_.run_blocks(tokens_work_.data(), batch_, tokens, 0, 1);
    double seconds = std::chrono::duration<double>(clock::now() - t0).count();
    if (mode_ == ProfileMode::Op) op_samples_[tokens].push_back(times);
    return seconds;
}

}  // namespace profiler
}  // namespace pomt
