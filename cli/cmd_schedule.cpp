// pomt schedule: the paper's offline computation on this device — L(n) (measured here, or a
// profile CSV from the target), A(n) (random pruning to n tokens on estimation images),
// n* = argmax α(1 − L/max L) + (1 − α)·A/max A, and POMT at one block pruning to n*; then the
// deployed schedule's real latency is measured (the model-mode curve runs every block at n, the
// deployed schedule only the blocks after the prune layer).
//
// --search layer (beyond the paper): the prune block and the tokens left chosen jointly (and
// optionally a second prune), latency predicted from per-block tables, accuracy from POMT at those
// blocks; compared with the paper's choice, both verified side by side.
//
// --search pareto: candidates of every method (POMT, Top-K, ToMe, random), latency predicted from
// per-block tables, accuracy by successive halving with paired intervals, the front measured
// interleaved; --max-loss / --max-ms / --max-ratio / --alpha picks the plan.
//
// The searches are library calls (include/pomt/search.h); this file parses the flags, draws the
// progress, prints the outcome and writes the files.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "api/internal.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/token_range.h"
#include "core/file_util.h"
#include "core/json.h"
#include "pomt/error.h"
#include "pomt/search.h"
#include "prune/pruning.h"

namespace pomt {

namespace {

// One progress bar per search phase ("images", "L(n)", "A(n)", ...), each ended when the next begins.
class PhaseBars {
public:
    explicit PhaseBars(bool enabled) : enabled_(enabled) {}
    bool update(const SearchProgress& p) {
        if (!bar_ || p.phase != phase_) {
            bar_.reset();  // ends the previous phase's line first
            bar_ = std::make_unique<ProgressBar>(p.phase, enabled_);
            phase_ = p.phase;
        }
        bar_->update(p.done, p.total);
        return true;
    }
    void end() { bar_.reset(); }

private:
    bool enabled_;
    std::string phase_;
    std::unique_ptr<ProgressBar> bar_;
};

double percent_change(double value, double base) { return 100.0 * (value / base - 1); }

void print_paper_choice(const ScheduleSearchResult& r) {
    std::printf("%s: n* = %d tokens (U = %.4f, L = %.3f ms, A = %.2f%% on %d images, alpha %.2f)\n",
                r.architecture.c_str(), r.n_star, r.best.utility, r.best.latency_ms, r.best.accuracy, r.images, r.alpha);
    std::printf("schedule: %s, %d tokens after block %d (the reference code would use R=%d, leaving %d)\n",
                r.description.c_str(), r.n_star, r.layer, r.reference_r, r.reference_tokens);
    if (!r.verified) return;
    std::printf("verified (median of %d interleaved runs, batch %d, %d threads): baseline %.3f ms, this schedule %.3f ms (%+.1f%%), "
                "reference R=%d %.3f ms (%+.1f%%)\n",
                r.verify_runs, r.batch, r.threads, r.baseline_ms, r.schedule_ms, percent_change(r.schedule_ms, r.baseline_ms),
                r.reference_r, r.reference_ms, percent_change(r.reference_ms, r.baseline_ms));
    std::printf("note: L(n*) assumes every block runs at n*; pruning at block %d keeps blocks 0..%d at %d tokens\n", r.layer,
                r.layer, r.tokens_full);
}

void print_joint_search(const JointSearchResult& r) {
    if (r.paper_computed) print_paper_choice(r.paper_search);
    auto line = [&](const char* name, const PlanOutcome& p) {
        std::printf("  %-12s %-34s predicted %8.3f ms (%+6.1f%%)  top-1 %6.2f%%  U %.4f\n", name, p.description.c_str(),
                    p.predicted_ms, percent_change(p.predicted_ms, r.latency_max_ms), p.top1, p.utility);
    };
    std::printf("%s: joint search over blocks and tokens, %d accuracy evaluations on %d images, alpha %.2f\n",
                r.architecture.c_str(), r.accuracy_evaluations, r.images, r.alpha);
    std::printf("  latency model: overhead %.3f ms + per-block B(n) (%s), a pruning block's MLP share %.2f at the tokens "
                "left, the last block %.2f of a block; %zu candidate blocks, %zu candidate token counts\n",
                r.overhead_ms, r.block_latency_source.c_str(), r.after_prune_share, r.last_block_share,
                r.candidate_layers.size(), r.candidate_tokens.size());
    line("baseline", r.baseline);
    line("paper", r.paper);
    if (!(r.best_single.prunes == r.chosen.prunes)) line("best single", r.best_single);
    line("joint", r.chosen);
    if (!r.verified) return;
    std::printf("verified (median of %d interleaved runs, batch %d, %d threads): baseline %.3f ms, paper %.3f ms (%+.1f%%), "
                "joint %.3f ms (%+.1f%%)\n",
                r.verify_runs, r.batch, r.threads, r.baseline_ms, r.paper_ms, percent_change(r.paper_ms, r.baseline_ms),
                r.schedule_ms, percent_change(r.schedule_ms, r.baseline_ms));
    const bool dominates = r.chosen.top1 >= r.paper.top1 && r.schedule_ms <= r.paper_ms;
    std::printf("joint vs paper: %+.2f points top-1 (estimation images), %+.1f%% measured latency: %s\n",
                r.chosen.top1 - r.paper.top1, percent_change(r.schedule_ms, r.paper_ms),
                dominates ? "at least as accurate and no slower" : "a different trade-off (not better on both)");
}

// A number option within [lo, hi] (absent: `fallback`).
double get_number(const Args& args, const std::string& name, double fallback, double lo, double hi) {
    if (!args.has(name)) return fallback;
    const std::string text = args.get(name);
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end || !(v >= lo && v <= hi))
        fail(name + " must be a number between " + json::format_number(lo) + " and " + json::format_number(hi) + ", got '" + text + "'");
    return v;
}

void print_pareto_search(const ParetoSearchResult& r) {
    int methods = 0;
    for (const char* m : {"pomt", "topk", "tome", "random", "compare"})
        methods += std::any_of(r.plans.begin(), r.plans.end(), [&](const ParetoPlan& p) { return p.measured && p.method == m; });
    std::string rounds;
    for (size_t i = 0; i < r.round_images.size(); ++i)
        rounds += (i ? ", " : "") + std::to_string(r.round_candidates[i]) + " on " + std::to_string(r.round_images[i]);
    std::printf("%s: %zu candidate plans, successive halving (%s images), %d image evaluations; %d threads, batch %d\n",
                r.architecture.c_str(), r.plans.size(), rounds.c_str(), r.image_evaluations, r.threads, r.batch);
    std::printf("  measured (median of %d interleaved runs; loss: points against the unpruned model, [%.2f-sigma interval]):\n",
                r.verify_runs, r.z);
    std::vector<int> order;
    for (int i = 0; i < int(r.plans.size()); ++i)
        if (r.plans[size_t(i)].measured) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return r.plans[size_t(a)].measured_ms < r.plans[size_t(b)].measured_ms; });
    for (int i : order) {
        const ParetoPlan& p = r.plans[size_t(i)];
        std::printf("  %s %-4s %-44s %8.3f ms (ratio %.3f, predicted %.3f)  top-1 %6.2f%%  top-5 %6.2f%%  loss %+5.2f [%+5.2f, %+5.2f]%s\n",
                    i == r.chosen ? "*" : p.on_front ? "f" : " ", plan_precision_name(p.precision), p.spec.c_str(), p.measured_ms, p.measured_ratio,
                    p.predicted_ratio, p.top1, p.top5, p.loss, p.loss_low, p.loss_high,
                    i == r.compare_index ? "  (paper)" : "");
    }
    std::printf("  f: on the measured front; %d methods measured\n", methods);
    for (size_t i = 0; i < r.precisions.size(); ++i)
        std::printf("  %s block latency: %s\n", plan_precision_name(r.precisions[i]), r.precision_sources[i].c_str());
    std::printf("  estimation images: %s\n", r.data_note.c_str());
    if (r.confirm_images == 0) {
        std::printf("  no confirmation images: the estimates above are optimistic for the plan a budget picks\n");
        return;
    }
    std::printf("  confirmation images: %s (%d read); one-sided %.0f %% upper bounds:\n", r.confirm_source.c_str(),
                r.confirm_images, 100 * r.confidence);
    for (int i : order) {
        const ParetoPlan& p = r.plans[size_t(i)];
        if (i == 0 || !p.confirmed) continue;
        std::printf("  %s %-4s %-44s top-1 %6.2f%%  loss %+5.2f (upper bound %+5.2f) on %d images\n", i == r.chosen ? "*" : " ",
                    plan_precision_name(p.precision), p.spec.c_str(), p.confirm_top1, p.confirm_loss, p.confirm_high, p.confirm_images);
    }
}

// The verification's disturbance warning (one line on stderr, after the report), when it has one.
void warn(const std::string& warning) {
    if (warning.empty()) return;
    std::fflush(stdout);
    std::fprintf(stderr, "%s\n", warning.c_str());
}

void write_schedule(const std::string& output, const std::string& text) {
    write_file_atomic(output, text.data(), text.size());
    std::printf("wrote %s\n", output.c_str());
}

}  // namespace

int cmd_schedule(const Args& args) {
    if (!args.positional().empty()) fail("unexpected argument '" + args.positional()[0] + "'");
    const std::string search = args.get("--search", "paper");
    if (search != "paper" && search != "layer" && search != "pareto")
        fail("--search must be paper, layer or pareto, not '" + search + "'");
    if (search == "paper")
        for (const char* f : {"--block-latency", "--grid", "--max-prunes", "--compare"})
            if (args.has(f)) fail(std::string(f) + " applies only to --search layer or pareto");
    if (search != "pareto")
        for (const char* f : {"--max-loss", "--max-ms", "--max-ratio", "--z", "--first-images", "--max-measured",
                              "--latency-step", "--also", "--rule", "--precision", "--block-latency-int8",
                              "--block-latency-bf16", "--confidence", "--confirm", "--confirm-data",
                              "--confirm-root"})
            if (args.has(f)) fail(std::string(f) + " applies only to --search pareto");
    if (search == "pareto")
        for (const char* f : {"--grid", "--max-prunes", "--no-verify", "--full-grid", "--coarse-step", "--seed", "--layer"})
            if (args.has(f)) fail(std::string(f) + " does not apply to --search pareto");
    const std::string output = args.get("-o");
    if (output.empty()) fail("no output file given (-o schedule.json)");
    if (!args.has("--data")) fail("missing --data LIST (the accuracy-estimation images)");
    require_writable_path(output);
    const std::string svg_prefix = args.get("--svg-prefix");
    if (!svg_prefix.empty()) require_writable_path(svg_prefix + "-latency.svg");

    JointSearchOptions o;
    // Without --threads: every core, and a latency CSV's rows for any thread count.
    o.threads = args.has("--threads") ? threads_from_args(args) : 0;
    o.batch = args.get_int("--batch", 1, 1, 1024);
    o.max_images = args.get_int("--images", 1024, 1, 1 << 24);
    o.verify_runs = args.get_int("--verify-runs", 30, 1, 100000);
    if (args.has("--alpha")) {
        char* end = nullptr;
        std::string a = args.get("--alpha");
        o.alpha = std::strtod(a.c_str(), &end);
        if (a.empty() || *end || !(o.alpha >= 0 && o.alpha <= 1)) fail("--alpha must be a number between 0 and 1, got '" + a + "'");
    }
    if (search == "layer") {
        o.grid_step = args.get_int("--grid", 8, 1, 1 << 20);
        o.max_prunes = args.get_int("--max-prunes", 2, 1, 2);
    }
    const Classifier model = classifier_from_model(load_model_from_args(args));
    // The schedule given (not those the search makes): a no-op or degenerate one is worth a line.
    if (args.has("--compare")) {
        try {
            print_prune_warnings(args, load_schedule_file(args.get("--compare")), model_of(model)->config(), false,
                                 "--compare");
        } catch (const Error&) {
            // One that does not load or resolve is refused by the search, in its own words.
        }
    }
    const int depth = model_of(model)->config().depth;
    o.layer = args.get_int("--layer", std::min(3, depth - 1), 0, 1 << 20);
    if (o.layer >= depth) fail("--layer " + std::to_string(o.layer) + " is outside the model's blocks 0.." + std::to_string(depth - 1));
    const TokenBounds bounds = search_token_bounds(model);
    const TokenRange range = parse_token_range(args.get("--tokens"), bounds.lowest, bounds.highest);
    o.min_tokens = range.start;
    o.max_tokens = range.end;
    o.token_step = range.step;
    o.coarse_step = args.has("--full-grid") ? 1 : args.get_int("--coarse-step", 8, 1, 1 << 20);
    o.latency_csv = args.get("--latency");
    o.block_latency_csv = args.get("--block-latency");
    o.compare_schedule = args.get("--compare");
    o.data = args.get("--data");
    o.root = args.get("--root");
    o.skip_bad = args.has("--skip-bad");
    o.random_seed = uint64_t(args.get_int("--seed", 0, 0, 1 << 30));
    o.fast = args.has("--fast");
    o.verify = !args.has("--no-verify");
    PhaseBars bars(!args.has("--quiet"));
    o.progress = [&bars](const SearchProgress& p) { return bars.update(p); };

    if (search == "pareto") {
        ParetoSearchOptions po;
        static_cast<JointSearchOptions&>(po) = o;
        ParetoBudget& b = po.budget;
        b.max_loss = get_number(args, "--max-loss", -1, 0, 100);
        const std::string rule = args.get("--rule", "confirmed");
        if (rule == "confirmed") b.loss_rule = LossRule::Confirmed;
        else if (rule == "estimate") b.loss_rule = LossRule::Estimate;
        else if (rule == "bound") b.loss_rule = LossRule::EstimateBound;
        else fail("--rule must be confirmed, estimate or bound, not '" + rule + "'");
        if ((args.has("--rule") || args.has("--confidence")) && !args.has("--max-loss"))
            fail(std::string(args.has("--rule") ? "--rule" : "--confidence") + " applies only with --max-loss");
        if (args.has("--confidence") && b.loss_rule != LossRule::Confirmed) fail("--confidence applies only to --rule confirmed");
        b.confidence = get_number(args, "--confidence", 0.9, 0.5, 0.9999);
        const std::string precisions = args.get("--precision");
        for (size_t start = 0; args.has("--precision") && start <= precisions.size();) {
            const size_t comma = precisions.find(',', start);
            const std::string name = precisions.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
            PlanPrecision p;
            if (!plan_precision_from_name(name, &p))
                fail("--precision takes fp32, int8 and/or bf16, comma-separated, not '" + name + "'");
            po.precisions.push_back(p);
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
        po.block_latency_csv_int8 = args.get("--block-latency-int8");
        po.block_latency_csv_bf16 = args.get("--block-latency-bf16");
        po.confirm_images = args.has("--confirm") ? args.get_int("--confirm", 0, 0, 1 << 24) : -1;
        po.confirm_data = args.get("--confirm-data");
        po.confirm_root = args.get("--confirm-root");
        if (args.has("--confirm-root") && !args.has("--confirm-data")) fail("--confirm-root applies only with --confirm-data");
        b.max_ms = get_number(args, "--max-ms", 0, 1e-6, 1e9);
        b.max_ratio = get_number(args, "--max-ratio", 0, 1e-6, 100);
        b.alpha = args.has("--alpha") ? o.alpha : -1;
        if (args.has("--max-loss") + args.has("--max-ms") + args.has("--max-ratio") + args.has("--alpha") > 1)
            fail("give one budget: --max-loss, --max-ms, --max-ratio or --alpha");
        po.z = get_number(args, "--z", 1.96, 0.01, 10);
        po.first_images = args.get_int("--first-images", 0, 1, 1 << 24);  // 0: by --fast and the precisions
        po.max_measured = args.get_int("--max-measured", o.fast ? 16 : 32, 1, 1000);
        po.latency_step = args.get_int("--latency-step", o.fast ? 8 : 4, 1, 1 << 20);
        const std::string also = args.get("--also");
        for (size_t start = 0; !also.empty() && start <= also.size();) {
            const size_t bar = also.find('|', start);
            po.extra_specs.push_back(also.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
            if (bar == std::string::npos) break;
            start = bar + 1;
        }
        const ParetoSearchResult r = search_pareto(model, po);
        bars.end();
        print_pareto_search(r);
        warn(r.verify_warning);
        if (r.chosen < 0) fail(r.choice);
        std::printf("chosen: %s in %s\n  %s\n", r.plans[size_t(r.chosen)].spec.c_str(),
                    plan_precision_name(r.plans[size_t(r.chosen)].precision), r.choice.c_str());
        if (!svg_prefix.empty()) write_search_svgs(r, svg_prefix);
        write_schedule(output, schedule_file_json(model, r));
    } else if (search == "layer") {
        const JointSearchResult r = search_joint_schedule(model, o);
        bars.end();
        print_joint_search(r);
        warn(r.verify_warning);
        if (!svg_prefix.empty()) write_search_svgs(r, svg_prefix);
        write_schedule(output, schedule_file_json(model, r));
    } else {
        const ScheduleSearchResult r = search_schedule(model, o);
        bars.end();
        print_paper_choice(r);
        warn(r.verify_warning);
        if (!svg_prefix.empty()) write_search_svgs(r, svg_prefix);
        write_schedule(output, schedule_file_json(model, r));
    }
    return 0;
}

}  // namespace pomt
