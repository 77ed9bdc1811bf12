// Beyond the paper: choose where to prune (the block) and how far (the tokens left) jointly, and
// optionally a second prune further down. Latency is predicted from per-block latency tables
// (`pomt profile --mode block`): with B(n) one block's latency at n tokens and the overhead
// (embedding, final norm, head) = model(N) − depth·B(N),
//     L(plan) = overhead + Σ_blocks B(tokens entering the block)
// except that a pruning block runs its attention at the tokens entering it and its MLP at the
// tokens left: with f the share of a block's time after the pruning point (norm2 + MLP, measured in
// op mode at N), it costs B(n_in) − f·(B(n_in) − B(n_out)). So POMT at block ℓ leaving n tokens
// costs overhead + ℓ·B(N) + B(N) − f·(B(N) − B(n)) + (depth−ℓ−1)·B(n). A class-token model's last
// block computes the pooled rows only (Session::run): it costs s·B(n) with s its share of a full
// block (norm1 and the K/V projection of every token), the overhead is model(N) − (depth−1+s)·B(N),
// and a prune there changes nothing, so plans never place one. Accuracy is
// POMT pruning at those blocks on the estimation images (the caller's callback). The utility is
// the paper's: U = α(1 − L/L_max) + (1 − α)·A/A_max, with L_max the unpruned model's predicted
// latency and A_max the best accuracy measured in the search (the unpruned model's included).
// docs/RESULTS.md describes the search and what it buys on a real model.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "profiler/latency_curve.h"
#include "profiler/model_latency.h"
#include "profiler/steps.h"
#include "vit/model.h"
#include "prune/pruning.h"

namespace pomt {
namespace search {

// B(n) and the overhead: what the latency prediction needs.
struct BlockLatencyTable {
    int depth = 0, full_tokens = 0;
    double overhead_ms = 0;        // model(N) − depth·B(N), clamped at 0
    double after_prune_share = 0;  // f: share of a block's time after the pruning point, in [0, 1)
    double last_block_share = 1;   // s: the last block's cost as a share of B(n); 1 = a full block
    std::vector<profiler::CurvePoint> block; // B(n), ascending by tokens, containing full_tokens
    // B(n): the measured median, linearly interpolated between measured counts. Throws
    // pomt::Error outside the measured range.
    double block_ms(int tokens) const;
    double unpruned_ms() const { return overhead_ms + (depth - 1 + last_block_share) * block_ms(full_tokens); }
    bool last_block_pooled() const { return last_block_share < 1; }
    // A block entered by `tokens_in` that prunes to `tokens_out` after its attention.
    double pruning_block_ms(int tokens_in, int tokens_out) const;
};

// Checks the curve (ascending, distinct, contains N) and derives the overhead from the model's
// latency at N tokens. Throws pomt::Error naming `what` on a curve that cannot serve.
BlockLatencyTable make_block_table(std::vector<profiler::CurvePoint> block, double model_full_ms, int depth, int full_tokens,
                                   const std::string& what, double last_block_share = 1);

// One POMT prune: at block `layer`, leaving `tokens` tokens (prefix tokens and the merged token
// included). A plan is 0, 1 or 2 of them, ascending layers, strictly descending tokens.
struct PrunePoint {
    int layer = 0, tokens = 0;
    bool operator==(const PrunePoint& o) const { return layer == o.layer && tokens == o.tokens; }
};
using PrunePlan = std::vector<PrunePoint>;

// Tokens entering each block under the plan.
std::vector<int> plan_block_tokens(const PrunePlan& plan, int depth, int full_tokens);
double predict_plan_ms(const BlockLatencyTable& table, const PrunePlan& plan);
// POMT's R at each prune of the plan (docs/SCHEDULES.md: tokens after = prefix + (N − R − 2) + 1).
int pomt_r_for(int tokens_in, int tokens_out, int prefix);
PruneSchedule plan_schedule(const PrunePlan& plan, const ModelConfig& config);
std::string describe_plan(const PrunePlan& plan);  // "none", "block 3 → 141", "block 2 → 165, block 7 → 101"

// Candidate blocks: every block for depth ≤ 12, else every ⌈depth/12⌉-th block (the last included
// unless `last_block_pooled`: a prune there then changes nothing).
std::vector<int> default_candidate_layers(int depth, bool last_block_pooled = false);
// Candidate token counts after a prune, ascending, all in [lowest, full_tokens): the `to` side of
// every step of the block curve plus a grid full_tokens − k·grid_step, plus `extra` counts in range.
std::vector<int> candidate_token_counts(const std::vector<profiler::Step>& steps, int lowest, int full_tokens, int grid_step,
                                        const std::vector<int>& extra = {});

struct PlanResult {
    PrunePlan plan;
    double latency_ms = 0;  // predicted
    double accuracy = 0;    // top-1 %, measured
    double utility = 0;     // with the search's final L_max and A_max
};

struct LayerSearchOptions {
    double alpha = 0.5;
    std::vector<int> layers;  // candidate blocks (ascending)
    std::vector<int> tokens;  // candidate token counts (ascending, < full tokens)
    int max_prunes = 2;       // 1: one prune; 2: also try a second one below the best single prune
    // Coarse-to-fine: a seed grid of `seed_layers` blocks × `seed_tokens` counts (spread evenly,
    // ends included), then the unmeasured candidates whose interpolated utility beats the best
    // measured one, `refine_batch` at a time, then the winner's 8 grid neighbours, until the winner
    // stands. The second prune's grid is seeded with `seed_layers - 1` × `seed_tokens - 1`.
    int seed_layers = 4, seed_tokens = 5, refine_batch = 4;
    // Plans measured first and competing like any other (the paper's choice, for the comparison).
    std::vector<PrunePlan> also_measure;
};

struct LayerSearchResult {
    PlanResult baseline;           // no pruning: L_max, the unpruned accuracy
    PlanResult best_single, best;  // best: best_single or a better two-prune plan
    std::vector<PlanResult> measured;  // every plan whose accuracy was measured, in order
    double latency_max_ms = 0, accuracy_max = 0;
    int accuracy_evaluations = 0;
    PlanResult result_for(const PrunePlan& plan) const;  // a measured plan (throws if not measured)
};

// `accuracy(plan)`: top-1 % of the model with POMT at the plan's prunes (called once per plan).
using PlanAccuracy = std::function<double(const PrunePlan&)>;
LayerSearchResult search_layers(const BlockLatencyTable& table, const PlanAccuracy& accuracy,
                                const LayerSearchOptions& options);

}  // namespace search
}  // namespace pomt
