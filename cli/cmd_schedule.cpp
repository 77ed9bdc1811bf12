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
// The searches are library calls (include/pomt/search.h); this file parses the flags, draws the
// progress, prints the outcome and writes the files.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/token_range.h"
#include "core/file_util.h"
#include "pomt/error.h"
#include "pomt/search.h"

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

void write_schedule(const std::string& output, const std::string& text) {
    write_file_atomic(output, text.data(), text.size());
    std::printf("wrote %s\n", output.c_str());
}

}  // namespace

int cmd_schedule(int argc, char** argv) {
    Args args(argc, argv, 2,
              {"-m", "--arch", "--seed", "--data", "--root", "--images", "--alpha", "--batch", "--layer", "--latency",
               "--tokens", "--threads", "--coarse-step", "-o", "--output", "--svg-prefix", "--verify-runs", "--search",
               "--block-latency", "--grid", "--max-prunes", "--compare"},
              {"--fast", "--full-grid", "--no-verify", "--skip-bad", "--quiet"});
    if (!args.positional().empty()) fail("unexpected argument '" + args.positional()[0] + "'");
    const std::string search = args.get("--search", "paper");
    if (search != "paper" && search != "layer") fail("--search must be paper or layer, not '" + search + "'");
    if (search == "paper")
        for (const char* f : {"--block-latency", "--grid", "--max-prunes", "--compare"})
            if (args.has(f)) fail(std::string(f) + " applies only to --search layer");
    const std::string output = args.get("-o", args.get("--output"));
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
    const Classifier model = Classifier::from_model(load_model_from_args(args));
    const int depth = model.model()->config().depth;
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

    if (search == "layer") {
        const JointSearchResult r = search_joint_schedule(model, o);
        bars.end();
        print_joint_search(r);
        if (!svg_prefix.empty()) write_search_svgs(r, svg_prefix);
        write_schedule(output, schedule_file_json(model, r));
    } else {
        const ScheduleSearchResult r = search_schedule(model, o);
        bars.end();
        print_paper_choice(r);
        if (!svg_prefix.empty()) write_search_svgs(r, svg_prefix);
        write_schedule(output, schedule_file_json(model, r));
    }
    return 0;
}

}  // namespace pomt
