// Token pruning schedules: what the user asked for (a `--prune` spec or a schedule JSON file),
// resolved against a model into one per-block plan, and the TokenPruner that carries it out
// inside Session::run. The methods themselves live in prune/prune_{pomt,topk,tome,random}.cpp.
// Reading: schedule_spec.cpp; resolution and warnings: schedule_resolve.cpp; the pruner: pruner.cpp.
//
// Spec grammar (docs/SCHEDULES.md has the details and the JSON format):
//   spec   := step (';' step)*
//   step   := 'none' | method ':' param (',' param)*
//   param  := key '=' int (',' int)*          (a bare int continues the previous key's list)
//   pomt:R=56,layer=3        POMT at block 3, R tokens fewer
//   topk:r=8                 Top-K, 8 patch tokens dropped in every block
//   tome:r=13 | tome:r=16,8,8,4 | tome:r=16,layer=2   ToMe, constant / per block / one block
//   random:keep=120,seed=1   keep 120 tokens (prefix included) after the embedding
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vit/config.h"
#include "vit/forward.h"
#include "core/json.h"

namespace pomt {

// The pruning methods, one enum for the spec, the schedule file and the per-block plan (random runs
// after the embedding, so a block's LayerAction is never Random).
enum class PruneMethod { None, Pomt, TopK, ToMe, Random };

// Its name in specs, schedule files and messages: none, pomt, topk, tome, random.
const char* prune_method_name(PruneMethod m);

// One step as written by the user, before the model is known.
struct PruneStep {
    // Short names for the methods a step can have, as in `step.kind = PruneStep::Pomt`.
    static constexpr PruneMethod Pomt = PruneMethod::Pomt, TopK = PruneMethod::TopK, ToMe = PruneMethod::ToMe,
                                 Random = PruneMethod::Random;
    PruneMethod kind = PruneMethod::Pomt;
    std::vector<int> r;  // POMT: one R; Top-K / ToMe: one value for every block, or per_block values
    bool per_block = false;  // r[i] is for block i (missing blocks: 0); a spec list or a JSON array
    int layer = -1;      // a single block (required for POMT; optional for Top-K / ToMe)
    int keep = 0;        // random: tokens kept after the embedding, prefix tokens included
    uint64_t seed = 0;   // random
};

struct PruneSchedule {
    std::vector<PruneStep> steps;
    // The precision the plan was chosen in (a schedule file's "precision", written by the Pareto
    // search): "" (the model's own), "fp32", "int8" or "bf16". Not a pruning step: the commands that load
    // a model for the schedule apply it (quantize/quantize_model.h, model_in_precision).
    std::string precision;
    bool empty() const { return steps.empty(); }
};

// Parses a --prune spec; throws pomt::Error with a one-line message on any problem.
PruneSchedule parse_prune_spec(const std::string& spec);
// Parses a schedule file's text (format in docs/SCHEDULES.md); `what` names it in errors.
PruneSchedule parse_schedule_json(const std::string& text, const std::string& what);
PruneSchedule load_schedule_file(const std::string& path);
// --prune SPEC and/or --schedule FILE (either may be empty); both together are combined.
PruneSchedule schedule_from_options(const std::string& prune_spec, const std::string& schedule_file);

// What a block does.
struct LayerAction {
    PruneMethod method = PruneMethod::None;
    int r = 0;  // POMT: R; Top-K: patch tokens dropped; ToMe: merges asked (clamped to half, as ToMe does)
};

// A schedule resolved against a model: one action per block, validated, with its token counts.
struct ResolvedSchedule {
    int keep = 0;  // random pruning after the embedding (0: none)
    uint64_t seed = 0;
    std::vector<LayerAction> layers;     // one per block
    int tokens_after_embedding = 0;      // prefix included
    std::vector<int> tokens_after_block; // what RunOptions::tokens_after_block will report
    bool empty() const;                  // nothing changes the token sequence
    std::string describe() const;        // e.g. "pomt R=56 at block 3"
    json::Value to_json() const;         // the per-layer schedule file form
};

// Tokens after action `a` at a block entered by n tokens (`prefix` of them prefix tokens,
// `protected_tokens` of those never merged by ToMe: the class and distillation tokens), or -1
// where the step would refuse (no patch token left).
int tokens_after_action(const LayerAction& a, int n, int prefix, int protected_tokens);

// Validates the schedule for this model (layers in range, R / r / keep leaving at least one patch
// token, two steps on one block, ...) and expands it to one action per block. Throws pomt::Error.
ResolvedSchedule resolve_schedule(const PruneSchedule& schedule, const ModelConfig& config);

// One-line warnings (no "warning:" prefix) for a schedule that runs but is probably not what was
// meant on this model: steps that cannot change anything (R = 0 / r = 0 everywhere; a step at the
// last block of a class-token model, which computes the pooled rows only unless
// `last_block_all_rows`), and pruning that leaves the blocks after it at most 1/32 of the patch
// tokens (at least one). Empty when there is nothing to say; throws pomt::Error as resolve_schedule.
std::vector<std::string> schedule_warnings(const PruneSchedule& schedule, const ModelConfig& config,
                                           bool last_block_all_rows = false);

// The pruner for a resolved schedule, or null when the schedule changes nothing. The pruner keeps
// only scratch space between runs, so one instance can serve many runs of one Session.
std::unique_ptr<TokenPruner> make_pruner(const ResolvedSchedule& schedule, const ModelConfig& config);
std::unique_ptr<TokenPruner> make_pruner(const PruneSchedule& schedule, const ModelConfig& config);
// The same, recording into `record` where every token goes (prune/token_provenance.h); a null
// record (the default everywhere else) records nothing and costs nothing.
struct TokenProvenance;
std::unique_ptr<TokenPruner> make_pruner(const ResolvedSchedule& schedule, const ModelConfig& config,
                                         TokenProvenance* record);

}  // namespace pomt
