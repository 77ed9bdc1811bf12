// pomt's schedule search as a library call: the paper's offline computation ("Pruning One More
// Token is Enough", WACV 2025) on this device, and the joint layer search beyond it.
//
//   pomt::Classifier model = pomt::Classifier::load("vit_tiny.pomt");
//   pomt::ScheduleSearchOptions o;
//   o.data = "val/labels.txt";                  // estimation images: a labelled list or class folders
//   pomt::ScheduleSearchResult r = pomt::search_schedule(model, o);
//   std::string file = pomt::schedule_file_json(model, r);   // what `pomt schedule -o` writes
//   model.run(input, {5, r.schedule});                       // or use the schedule directly
//
// search_schedule: L(n), the latency with every block at n tokens (measured here, or read from a
// `pomt profile --csv` file of the target), A(n), top-1 of random pruning to n tokens on the
// estimation images, U(n) = α(1 − L/max L) + (1 − α)·A/max A, n* = argmax U, and POMT at one
// block pruning to n*; then the deployed schedule's real latency, measured interleaved with the
// unpruned model (the deployed schedule runs the blocks up to the prune at the full count).
//
// search_joint_schedule: the prune block and the tokens left chosen jointly (optionally a second
// prune), latency predicted from per-block tables, accuracy measured with POMT at those blocks;
// compared with the paper's choice (computed here, or read from a schedule file), both verified
// side by side. docs/RESULTS.md describes what it buys.
//
// Nothing here prints or writes files except the functions that say so. Every failure is a
// pomt::Error with a one-line message; a cancelled search is one too (see SearchProgress).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pomt/pomt.h"

namespace pomt {

// Where a search is. Phases, in order: "images" (decoding the estimation images), "L(n)" (model
// latency), "A(n)" (accuracy of random pruning), then for the joint search "B(n)" (block latency)
// and "search" (accuracy of candidate plans), and "verify" (the interleaved latency runs).
// `total` may grow while a phase runs (the searches refine where it pays); done == total ends it.
struct SearchProgress {
    std::string phase;
    int done = 0, total = 0;
};
// Return false to cancel: the search stops at its next step and throws pomt::Error("schedule search
// cancelled"). Calls are serialised; while images are decoded they come from worker threads.
using SearchProgressFn = std::function<bool(const SearchProgress&)>;

struct ScheduleSearchOptions {
    // The estimation images: a "relative/path label" list or a folder of class folders; `root` is
    // the folder a list's paths are relative to (default: the list's folder).
    std::string data, root;
    int max_images = 1024;    // the first max_images of them (0: all)
    bool skip_bad = false;    // skip unreadable images instead of failing
    uint64_t random_seed = 0; // of the random pruning behind A(n)

    double alpha = 0.5;  // the utility's latency weight, in [0, 1]
    int layer = -1;      // the block POMT prunes at; -1: block 3 (the paper's), or the last one
    // The token counts n of L(n) and A(n): min_tokens..max_tokens every token_step; 0 = the bound
    // of search_token_bounds.
    int min_tokens = 0, max_tokens = 0, token_step = 1;
    int coarse_step = 8;  // A(n) every coarse_step counts, then refined around the best; 1: every count

    int threads = 0;  // 0: every core (and a latency CSV's rows for any thread count match)
    int batch = 1;
    std::string latency_csv;  // L(n) from this profile CSV (its model-mode rows) instead of measuring
    bool fast = false;        // coarse latency measurement (±3%, `pomt profile --fast`)
    bool verify = true;       // measure the deployed schedule against the unpruned model
    int verify_runs = 30;

    SearchProgressFn progress;  // optional
};

// One latency measurement: median and spread over `runs` timed runs (0: unknown, from a CSV).
struct LatencyPoint {
    int tokens = 0;
    double median_ms = 0, p10_ms = 0, p90_ms = 0;
    int runs = 0;
};

// One token count of the paper's search.
struct TokenUtility {
    int tokens = 0;
    double latency_ms = 0;
    double accuracy = 0;             // top-1 %, measured or (when !accuracy_measured) interpolated
    bool accuracy_measured = false;
    double utility = 0;
};

struct ScheduleSearchResult {
    std::string architecture;
    int threads = 0, batch = 1, images = 0;  // images: estimation images that were read
    double alpha = 0.5;
    uint64_t random_seed = 0;
    int layer = 0, tokens_full = 0;

    std::string latency_source;         // the CSV, or "measured here (model mode)"
    std::vector<LatencyPoint> latency;  // L(n), ascending tokens
    std::vector<TokenUtility> points;   // one per count of `latency`
    int accuracy_evaluations = 0;

    int n_star = 0;    // argmax U(n)
    TokenUtility best; // the point at n*
    int r = 0;         // POMT's R leaving exactly n* tokens after `layer` (0: no pruning pays)
    // The reference code measures L(n) with every block at n but deploys R − 2 (n* + 2 tokens left).
    int reference_r = 0, reference_tokens = 0;
    Schedule schedule;        // POMT with R at `layer`
    std::string description;  // "pomt R=56 at block 3"

    bool verified = false;  // the three latencies below were measured (options.verify)
    int verify_runs = 0;
    double baseline_ms = 0, schedule_ms = 0, reference_ms = 0;  // medians, interleaved runs
    // The verification looked disturbed by other load (slow runs, a busy host) and was measured
    // again; the numbers above are the second measurement. verify_warning ("warning: ...", one
    // line) when that one looked disturbed too, else "". docs/PROFILING.md, "Interference".
    bool verify_remeasured = false;
    std::string verify_warning;
};

// The paper's schedule for `model` on this device. Throws pomt::Error for bad options (before any
// measurement), unreadable images or CSVs, and on cancellation.
ScheduleSearchResult search_schedule(const Classifier& model, const ScheduleSearchOptions& options);

// The counts a search may visit: one POMT prune keeps at least one patch token plus the merged one
// (lowest); highest is the model's full token count.
struct TokenBounds {
    int lowest = 0, highest = 0;
};
TokenBounds search_token_bounds(const Classifier& model);

// ---- the joint layer search ----------------------------------------------------------------

struct JointSearchOptions : ScheduleSearchOptions {
    // B(n) from this `pomt profile --mode block --csv` file instead of measuring; the model's
    // latency at the full count from its model rows, latency_csv's, or measured here.
    std::string block_latency_csv;
    int grid_step = 8;   // candidate token counts: every grid_step below the full count, plus the steps of B(n)
    int max_prunes = 2;  // 1 or 2
    // The paper's choice to compare with: a POMT-only schedule file; empty: computed here (with
    // `layer`, not verified on its own, recorded in paper_search).
    std::string compare_schedule;
};

// POMT at `layer` leaving `tokens` (prefix and merged token included), R tokens fewer than entered.
struct PlanPrune {
    int layer = 0, tokens = 0, r = 0;
    bool operator==(const PlanPrune& o) const { return layer == o.layer && tokens == o.tokens && r == o.r; }
};

struct PlanOutcome {
    std::vector<PlanPrune> prunes;  // 0, 1 or 2; ascending blocks
    std::string description;        // "pomt R=56 at block 3", "none"
    double predicted_ms = 0;        // from the block tables
    double top1 = 0;                // %, measured on the estimation images
    double utility = 0;
};

struct JointSearchResult {
    std::string architecture;
    int threads = 0, batch = 1, images = 0, tokens_full = 0, max_prunes = 2;
    double alpha = 0.5;

    // The latency model: overhead + per-block B(n); a pruning block runs its MLP (after_prune_share
    // of a block) at the tokens it leaves; the last block costs last_block_share of a block.
    std::string block_latency_source;
    std::vector<LatencyPoint> block_latency;  // B(n), ascending tokens
    std::vector<int> block_steps_to;          // counts B(n) steps down to
    double overhead_ms = 0, after_prune_share = 0, last_block_share = 1;
    double latency_max_ms = 0, accuracy_max = 0;  // the utility's L_max (unpruned, predicted), A_max
    std::vector<int> candidate_layers, candidate_tokens;

    int accuracy_evaluations = 0;
    std::vector<PlanOutcome> evaluations;  // every plan measured, in order (the baseline excluded)
    PlanOutcome baseline, paper, best_single, chosen;
    std::string paper_source;            // the compare file, or "computed here (...)"
    bool paper_computed = false;         // paper_search holds the paper's computation
    ScheduleSearchResult paper_search;
    Schedule schedule;                   // the chosen plan
    std::string description;

    bool verified = false;
    int verify_runs = 0;
    double baseline_ms = 0, paper_ms = 0, schedule_ms = 0;  // medians, interleaved runs
    bool verify_remeasured = false;  // as in ScheduleSearchResult
    std::string verify_warning;
};

JointSearchResult search_joint_schedule(const Classifier& model, const JointSearchOptions& options);

// ---- the Pareto search --------------------------------------------------------------------
// Every method pomt runs (POMT at one or two blocks, Top-K and ToMe with constant and per-block r,
// random as a control) as candidate plans; latency predicted from per-block tables (as the joint
// search), accuracy estimated on the estimation images with successive halving (many candidates on
// a few images, the clearly dominated dropped, the rest on twice as many, ...), each with a paired
// interval against the unpruned model on the same images; the front's plans then measured for real,
// interleaved; a budget picks one. docs/RESULTS.md describes it and what it finds.

// The numeric format the plan runs in: the model's fp32 weights, or their int8 or bf16 version
// (made in memory from an fp32 model exactly as `pomt quantize [--precision bf16]` without
// calibration makes the file).
enum class PlanPrecision { Float32, Int8, Bf16 };
const char* plan_precision_name(PlanPrecision p);  // "fp32", "int8", "bf16"
// The precision of a name plan_precision_name gives; false for any other.
bool plan_precision_from_name(const std::string& name, PlanPrecision* p);

// One candidate plan and everything the search learnt about it.
struct ParetoPlan {
    std::string method;  // "none", "pomt", "topk", "tome", "random", "compare" (the --compare file)
    std::string family;  // how it was generated: "constant", "decreasing", "increasing", "from block 4", "one block", "two blocks", ...
    std::string spec;    // a --prune spec (docs/SCHEDULES.md)
    PlanPrecision precision = PlanPrecision::Float32;
    double predicted_ms = 0, predicted_ratio = 0;  // from the block tables; ratio to the unpruned prediction
    int images = 0;                                // estimation images it was evaluated on
    double top1 = 0, top5 = 0;                     // %, on those images
    // Top-1 loss in points against the unpruned model on the same images (positive: worse), and
    // its interval: mean ± z·sd/√n of the paired per-image differences of top-1 correctness.
    double loss = 0, loss_low = 0, loss_high = 0;
    int dropped_round = -1;  // the halving round that dropped it; -1: evaluated on every image
    bool measured = false;   // timed for real (interleaved with the unpruned model)
    double measured_ms = 0, measured_ratio = 0;  // median; ratio to the unpruned model's median
    bool on_front = false;   // not dominated among the measured plans (measured latency, top-1)
    // On the confirmation images (disjoint from the estimation ones), when the decision rule or the
    // report evaluated it: top-1, the loss against the unpruned model on those images, and the
    // loss's one-sided upper bound at the budget's confidence (mean + z·sd/√n, paired).
    bool confirmed = false;
    int confirm_images = 0;
    double confirm_top1 = 0, confirm_loss = 0, confirm_high = 0;
};

// How a loss budget is judged.
//   Confirmed (the default): fixed-sequence testing on the confirmation images. The plans whose
//   estimated loss is within the budget, in an order that comes from the estimation images alone:
//   each other precision's unpruned model, slowest first, then the front's pruned plans faster than
//   the last of those, slowest first. They are confirmed one after another; each is accepted while its confirmed
//   loss's one-sided upper bound at `confidence` is within the budget, and the walk stops at the
//   first one that is not. The last accepted plan is chosen (none: the unpruned model, which loses
//   nothing by definition). Because the order is fixed before the confirmation images are looked
//   at and the walk stops at the first failure, the chance that the chosen plan loses more than the
//   budget on images like the confirmation ones is at most 1 − confidence (family-wise, without a
//   multiplicity correction; the normal approximation of the paired differences aside).
//   Estimate: the fastest plan whose point estimate on the estimation images is within the budget.
//   Picking the fastest plan just under a budget favours plans whose estimate erred low (the
//   winner's curse): docs/RESULTS.md measures how often it breaks the budget on unseen images.
//   EstimateBound: the same with the estimation interval's upper end.
enum class LossRule { Confirmed, Estimate, EstimateBound };
const char* loss_rule_name(LossRule r);  // "confirmed", "estimate", "bound"

// What picks the plan from the front: exactly one of these (none set: alpha = 0.5).
struct ParetoBudget {
    double max_loss = -1;   // points >= 0: the fastest plan whose loss is within it, judged by loss_rule
    LossRule loss_rule = LossRule::Confirmed;
    double confidence = 0.9;  // LossRule::Confirmed's, in [0.5, 1): one-sided
    double max_ms = 0;      // > 0: the most accurate plan whose measured median is within it
    double max_ratio = 0;   // > 0: the most accurate plan within this share of the unpruned latency
    double alpha = -1;      // in [0, 1]: the paper's utility α(1 − L/L_max) + (1 − α)·A/A_max
};

// The joint search's options apply (data, images, threads, batch, tokens, block_latency_csv,
// latency_csv, fast, verify_runs; compare_schedule: the paper's plan, any schedule file, always
// carried to the end and measured), except grid_step, max_prunes, layer, coarse_step and verify
// (the front is always measured).
struct ParetoSearchOptions : JointSearchOptions {
    ParetoBudget budget;
    double z = 1.96;            // the intervals' width (1.96: 95 % two-sided, normal approximation)
    // The first halving round's images (doubling each round). 0: 128 (64 with `fast`) divided by
    // the number of precisions, at least 32: every precision doubles the candidates, and this keeps
    // the first round's cost, which dominates, that of a one-precision search.
    int first_images = 0;
    int keep_fraction_pct = 50; // a round keeps at most this share of its candidates (never fewer than max_measured)
    int max_measured = 32;      // front plans timed for real, shared among the methods in each precision (at least one each; the unpruned ones besides)
    int latency_step = 4;       // B(n) every latency_step counts (and at N), linear in between
    std::vector<std::string> extra_specs;  // more candidates, as --prune specs
    // Confirmation images, disjoint from the estimation ones. -1 (default): the images of `data`
    // after the estimation ones, at most as many as those; when none follow, the last quarter of the
    // images (the estimation images are then the first three quarters). 0: none (a loss budget then
    // needs LossRule::Estimate or EstimateBound). N > 0: the N images after the estimation ones (the
    // estimation images shrink to make room when the list is short).
    int confirm_images = -1;
    // Another labelled set for confirmation instead (its first confirm_images, or all when -1);
    // confirm_root as `root`.
    std::string confirm_data, confirm_root;
    // The precisions searched, every candidate in each. Empty: the model's own, and int8 too for an
    // fp32 model (bf16 only when asked: without bf16 dot products it runs at about fp32's latency
    // with a little less accuracy, docs/RESULTS.md). An int8 or bf16 model runs only its own.
    // Losses are against the unpruned model in the first precision listed (plans[0]).
    std::vector<PlanPrecision> precisions;
    // B(n) of the int8 (bf16) model from this `pomt profile --mode block --csv` file (profiled with
    // the int8 (bf16) file on the target) when the model is fp32; block_latency_csv is the model's own.
    std::string block_latency_csv_int8, block_latency_csv_bf16;

    // Accuracy elsewhere (a cluster: pomt.search_pareto's executor). When set, no image is decoded
    // here: each halving round and each confirmation asks this for the per-image correctness of
    // plans on ranges of the lists, and latency is still measured here. skip_bad cannot be used
    // with it (the image positions must match). Replies in request order, one per request.
    struct AccuracyRequest {
        std::string schedule;  // a schedule file's text (docs/SCHEDULES.md), its "precision" included
        PlanPrecision precision = PlanPrecision::Float32;
        bool confirmation = false;  // of confirm_data (with confirm_root) when given, else of data (with root)
        int first = 0, count = 0;   // images [first, first + count) of that list, in list order
    };
    struct AccuracyReply {
        std::vector<unsigned char> top1, top5;  // per image, 1: correct; `count` of each
    };
    std::function<std::vector<AccuracyReply>(const std::vector<AccuracyRequest>&)> remote_accuracy;
};

struct ParetoSearchResult {
    std::string architecture;
    int threads = 0, batch = 1, images = 0, tokens_full = 0;
    double z = 1.96;
    std::string block_latency_source;    // plans[0]'s precision; the others' in precision_sources
    double overhead_ms = 0, after_prune_share = 0, last_block_share = 1;
    std::vector<LatencyPoint> block_latency;
    std::vector<PlanPrecision> precisions;          // searched, plans[0]'s first
    std::vector<std::string> precision_sources;     // where each one's B(n) came from
    std::vector<std::vector<LatencyPoint>> precision_block_latency;  // each one's B(n)
    std::vector<int> round_images;       // the images of each halving round
    std::vector<int> round_candidates;   // the candidates evaluated in each round
    int image_evaluations = 0;           // Σ plans × images evaluated (the baseline included)
    std::vector<ParetoPlan> plans;       // every candidate; plans[0] is the unpruned model
    int compare_index = -1;              // the --compare plan (the paper's), or -1
    int chosen = -1;                     // index into plans
    std::string choice;                  // the budget and why this plan
    int confirm_images = 0;              // confirmation images read (0: none)
    std::string confirm_source;          // "LIST images A..B" (0-based, end excluded) or the other list
    LossRule loss_rule = LossRule::Confirmed;
    double confidence = 0.9;
    // What the estimate rests on: the list, and the images' median size against the model's resize
    // (images smaller than it are upsampled, unlike a device's photos; docs/RESULTS.md).
    std::string data_note;
    Schedule schedule;                   // the chosen plan
    int verify_runs = 0;
    double baseline_ms = 0;              // the unpruned model's measured median
    bool verify_remeasured = false;      // as in ScheduleSearchResult
    std::string verify_warning;
};

// Throws pomt::Error for bad options (the budget included, before any work), unreadable files or
// images, and on cancellation. A budget no measured plan meets is not an error here: chosen is -1
// and `choice` says why (the front stands; choose_pareto_plan can apply another budget).
ParetoSearchResult search_pareto(const Classifier& model, const ParetoSearchOptions& options);

// The budget's choice among the measured plans (ties: faster, then more accurate, then the
// earlier plan); -1 when none is feasible (`why` then says what the nearest plan needed). Throws
// pomt::Error for a budget with none or more than one kind set, or out of range.
// A loss budget with LossRule::Confirmed needs choose_confirmed_plan (this throws).
int choose_pareto_plan(const std::vector<ParetoPlan>& plans, const ParetoBudget& budget, std::string* why);
// LossRule::Confirmed (above): `confirm(i)` fills plans[i]'s confirmed fields (the search
// evaluates it on the confirmation images; tests give synthetic ones) and is called only for the
// plans the walk reaches, in its order. plans[0] is the unpruned model. Returns the chosen index
// (never -1: the unpruned model meets any loss budget).
int choose_confirmed_plan(std::vector<ParetoPlan>& plans, const ParetoBudget& budget,
                          const std::function<void(int)>& confirm, std::string* why);
// The one-sided standard normal quantile: P(Z <= z) = p, for p in (0, 1).
double normal_quantile(double p);
// Indices of the plans not dominated in (latency, top-1) among `candidates`: no other is at least
// as fast and as accurate and better in one. Equal plans: the earlier stands. Ascending latency.
std::vector<int> pareto_front(const std::vector<double>& latency, const std::vector<double>& top1,
                              const std::vector<int>& candidates);

// ---- output --------------------------------------------------------------------------------

// The schedule file (docs/SCHEDULES.md) with the search recorded under "search", newline-ended:
// what `pomt schedule -o` writes. `model` is the one searched.
std::string schedule_file_json(const Classifier& model, const ScheduleSearchResult& result);
std::string schedule_file_json(const Classifier& model, const JointSearchResult& result);
std::string schedule_file_json(const Classifier& model, const ParetoSearchResult& result);

// Writes PREFIX-latency.svg, PREFIX-accuracy.svg and PREFIX-utility.svg (L, A, U over n); the
// joint search adds PREFIX-block-latency.svg (and the first three when it computed the paper's
// choice). Throws pomt::Error when a file cannot be written.
void write_search_svgs(const ScheduleSearchResult& result, const std::string& prefix);
void write_search_svgs(const JointSearchResult& result, const std::string& prefix);
// PREFIX-front.svg: top-1 over the latency ratio, one marker per method, the front joined, the
// --compare plan and the chosen one marked.
void write_search_svgs(const ParetoSearchResult& result, const std::string& prefix);

}  // namespace pomt
