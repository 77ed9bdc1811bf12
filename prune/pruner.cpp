// The TokenPruner that carries out a resolved schedule inside Session::run, calling the methods'
// files (prune/prune_{pomt,topk,tome,random}.cpp) block by block (prune/pruning.h).
#include "pomt/error.h"
#include "prune/prune_pomt.h"
#include "prune/prune_random.h"
#include "prune/prune_tome.h"
#include "prune/prune_topk.h"
#include "prune/pruning.h"
#include "prune/token_provenance.h"

namespace pomt {

namespace {

class SchedulePruner : public TokenPruner {
public:
    SchedulePruner(ResolvedSchedule s, const ModelConfig& c, TokenProvenance* record)
        : s_(std::move(s)), prefix_(c.num_prefix_tokens()), protected_(c.num_protected_tokens()), record_(record) {
        for (const LayerAction& a : s_.layers) sizes_ = sizes_ || a.method == PruneMethod::ToMe;
    }

    int after_embedding(float* x, int batch, int tokens, int dim) override {
        if (record_) record_->start(batch, tokens, prefix_);
        if (s_.keep <= 0) return tokens;
        if (s_.keep >= tokens) fail("random: keep=" + std::to_string(s_.keep) + " but only " + std::to_string(tokens) + " tokens");
        const int out = random_prune(x, batch, tokens, dim, prefix_, s_.keep, s_.seed, moves(batch, tokens));
        if (record_) record_->apply(moves_, tokens, out, PruneMethod::Random);
        return out;
    }
    bool wants_attention(int layer) const override {
        return layer >= 0 && layer < int(s_.layers.size()) && s_.layers[size_t(layer)].method == PruneMethod::Pomt;
    }
    bool tracks_sizes() const override { return sizes_; }
    int after_attention(BlockInternals& block) override {
        if (block.layer < 0 || block.layer >= int(s_.layers.size())) return block.tokens;
        const LayerAction& a = s_.layers[size_t(block.layer)];
        int* moved_to = moves(block.batch, block.tokens);
        int out = block.tokens;
        switch (a.method) {
            case PruneMethod::Pomt: out = pomt_prune(block, a.r, pomt_, moved_to); break;
            case PruneMethod::TopK: out = topk_prune(block, a.r, topk_, moved_to); break;
            case PruneMethod::ToMe: {
                // facebookresearch/ToMe protects the class (and distillation) token only: registers
                // are matched and merged like patch tokens.
                BlockInternals merged = block;
                merged.prefix_tokens = protected_;
                out = tome_merge(merged, a.r, tome_, moved_to);
                break;
            }
            default: break;
        }
        // A step that keeps the count changed nothing (R = 0, nothing to merge) and recorded nothing.
        if (record_ && out != block.tokens) record_->apply(moves_, block.tokens, out, a.method);
        return out;
    }
    int predicted_tokens_after(int layer, int tokens) const override {
        if (layer < 0 || layer >= int(s_.layers.size())) return tokens;
        return tokens_after_action(s_.layers[size_t(layer)], tokens, prefix_, protected_);
    }

private:
    // Where a step writes its moved_to record when recording, else null.
    int* moves(int batch, int tokens) {
        if (!record_) return nullptr;
        moves_.assign(size_t(batch) * tokens, -1);
        return moves_.data();
    }

    ResolvedSchedule s_;
    int prefix_ = 0;
    int protected_ = 0;  // tokens ToMe never merges
    bool sizes_ = false;
    TokenProvenance* record_ = nullptr;
    std::vector<int> moves_;
    PomtScratch pomt_;
    TopkScratch topk_;
    TomeScratch tome_;
};

}  // namespace

std::unique_ptr<TokenPruner> make_pruner(const ResolvedSchedule& schedule, const ModelConfig& config) {
    return make_pruner(schedule, config, nullptr);
}

std::unique_ptr<TokenPruner> make_pruner(const ResolvedSchedule& schedule, const ModelConfig& config,
                                         TokenProvenance* record) {
    if (schedule.empty()) return nullptr;
    if (int(schedule.layers.size()) != config.depth) fail("pruning schedule resolved for another model");
    return std::make_unique<SchedulePruner>(schedule, config, record);
}

std::unique_ptr<TokenPruner> make_pruner(const PruneSchedule& schedule, const ModelConfig& config) {
    return make_pruner(resolve_schedule(schedule, config), config);
}

}  // namespace pomt
