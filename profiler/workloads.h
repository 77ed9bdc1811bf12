// What `pomt profile` times at a token count n, driving the same forward pass as inference:
//   model mode  the whole model with n tokens from the embedding on (the paper's measurement);
//   block mode  one transformer block at n tokens (the per-block table schedule search needs);
//   op mode     one block at n tokens, timed per operation.
#pragma once
#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "profiler/block_ops.h"
#include "vit/forward.h"

namespace pomt {
namespace profiler {

// Deterministic values in [-1, 1) from a seeded LCG: timing inputs. Latency does not depend on
// them, but they must be finite, not denormal, and O(1) like activations.
void fill_pseudo_random(std::vector<float>& v, uint32_t seed);

enum class ProfileMode { Model, Block, Op };
const char* mode_name(ProfileMode mode);
ProfileMode parse_mode(const std::string& text);  // throws pomt::Error

// Keeps the first n tokens (prefix tokens first) right after the embedding: latency does not
// depend on which tokens remain, only on how many.
class KeepFirstTokens : public TokenPruner {
public:
    explicit KeepFirstTokens(int tokens) : tokens_(tokens) {}
    int after_embedding(float* x, int batch, int tokens, int dim) override;
    bool wants_attention(int) const override { return false; }
    int after_attention(BlockInternals& block) override { return block.tokens; }
    int predicted_tokens_after(int, int tokens) const override { return tokens; }

private:
    int tokens_;
};

class TokenWorkload {
public:
    TokenWorkload(std::shared_ptr<const Model> model, int threads, int batch, ProfileMode mode);
    // Runs once at `tokens` and returns the seconds of the timed part (input reset excluded).
    double run(int tokens);
    // Op mode: every run's per-operation seconds, per token count, in run order.
    const std::map<int, std::vector<OpTimes>>& op_samples() const { return op_samples_; }
    Session& session() { return session_; }

private:
    Session session_;
    OpTimedBlock op_block_{session_};  // op mode
    int batch_;
    ProfileMode mode_;
    std::vector<float> images_, tokens_in_, tokens_work_;
    std::map<int, std::vector<OpTimes>> op_samples_;
};

}  // namespace profiler
}  // namespace pomt
