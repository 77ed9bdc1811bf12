// search_pareto (include/pomt/search.h): candidates of every method (search/pareto_candidates.h),
// latency predicted from the block tables, accuracy by successive halving with paired intervals
// (search/pareto_select.h), the front measured for real, interleaved, and the budget's choice.
#include <algorithm>
#include <cmath>
#include <string>

#include "api/internal.h"
#include "eval/evaluate.h"
#include "pomt/error.h"
#include "search/block_table_source.h"
#include "search/pareto_candidates.h"
#include "search/pareto_select.h"

namespace pomt {

const char* plan_precision_name(PlanPrecision p) {
    switch (p) {
        case PlanPrecision::Float32: return "fp32";
    }
    return "?";
}

namespace search {

namespace {

// The estimation images cut at the halving rounds' boundaries: chunk k holds images
// [bounds[k-1], bounds[k]), so a round evaluates only the images its survivors have not seen.
struct ImageChunks {
    std::vector<int> bounds;
    std::vector<PreparedImages> chunks;
};

ImageChunks split_images(PreparedImages&& all, int first) {
    ImageChunks out;
    const int total = int(all.crops.size());
    for (int n = std::min(first, total);; n = std::min(2 * n, total)) {
        out.bounds.push_back(n);
        if (n == total) break;
    }
    int begin = 0;
    for (int end : out.bounds) {
        PreparedImages c;
        for (int i = begin; i < end; ++i) {
            c.crops.push_back(std::move(all.crops[size_t(i)]));
            c.labels.push_back(all.labels[size_t(i)]);
        }
        out.chunks.push_back(std::move(c));
        begin = end;
    }
    return out;
}

// The plan's accuracy fields from its first n images, paired with the unpruned model's.
void describe_accuracy(ParetoPlan& p, const Correctness& top1, const Correctness& top5, const Correctness& base, int n,
                       double z) {
    double c1 = 0, c5 = 0;
    for (int i = 0; i < n; ++i) c1 += top1[size_t(i)], c5 += top5[size_t(i)];
    p.images = n;
    p.top1 = 100 * c1 / n;
    p.top5 = 100 * c5 / n;
    const PairedInterval d = paired_difference(base, top1, n, z);  // unpruned − plan: the loss
    p.loss = d.mean;
    p.loss_low = d.low;
    p.loss_high = d.high;
}

// At most `count` of `front` (ascending latency), spread evenly along it, its ends included.
std::vector<int> thin_front(const std::vector<int>& front, int count) {
    if (int(front.size()) <= count) return front;
    std::vector<int> out;
    for (int k = 0; k < count; ++k) {
        const int i = int(std::lround(double(k) * (front.size() - 1) / std::max(1, count - 1)));
        if (out.empty() || out.back() != front[size_t(i)]) out.push_back(front[size_t(i)]);
    }
    return out;
}

}  // namespace

}  // namespace search

ParetoSearchResult search_pareto(const Classifier& model, const ParetoSearchOptions& o) {
    using namespace search;
    SearchSetup s = check_search_options(model, o);
    {
        std::string why;
        choose_pareto_plan({}, o.budget, &why);  // checks the budget before any work
    }
    if (!(o.z > 0) || !std::isfinite(o.z)) fail("z must be a positive number, got " + std::to_string(o.z));
    if (o.first_images < 1) fail("first_images must be at least 1, got " + std::to_string(o.first_images));
    if (o.keep_fraction_pct < 1 || o.keep_fraction_pct > 100) fail("keep_fraction_pct must be in 1..100");
    if (o.max_measured < 1) fail("max_measured must be at least 1, got " + std::to_string(o.max_measured));
    if (o.latency_step < 1) fail("latency_step must be at least 1, got " + std::to_string(o.latency_step));
    const ModelConfig& c = s.model->config();
    // B(n) every latency_step counts (and at N): the prediction interpolates between them.
    std::vector<int> counts;
    for (size_t i = 0; i < s.counts.size(); i += size_t(o.latency_step)) counts.push_back(s.counts[i]);
    if (counts.back() != s.full_tokens) counts.push_back(s.full_tokens);
    s.counts = counts;

    // Candidates and their schedules; files are read before any work.
    std::vector<ParetoPlan> plans;
    std::vector<PruneSchedule> schedules;
    auto add = [&](const std::string& method, const std::string& family, const std::string& spec, PruneSchedule ps) {
        ParetoPlan p;
        p.method = method;
        p.family = family;
        p.spec = spec;
        plans.push_back(p);
        schedules.push_back(std::move(ps));
    };
    add("none", "unpruned", "none", PruneSchedule());
    int compare_index = -1;
    if (!o.compare_schedule.empty()) {
        PruneSchedule ps = load_schedule_file(o.compare_schedule);
        resolve_schedule(ps, c);
        compare_index = int(plans.size());
        add("compare", resolve_schedule(ps, c).describe(), "@" + o.compare_schedule, ps);
    }
    for (const std::string& spec : o.extra_specs) {
        PruneSchedule ps = parse_prune_spec(spec);
        resolve_schedule(ps, c);
        add(ps.empty() ? "none" : prune_method_name(ps.steps[0].kind), "given", spec, ps);
    }
    const ProgressReporter progress(o.progress);
    load_estimation_images(s, o, progress);

    ParetoSearchResult out;
    out.architecture = c.architecture;
    out.threads = s.threads;
    out.batch = s.batch;
    out.images = int(s.images.crops.size());
    out.tokens_full = s.full_tokens;
    out.z = o.z;
    const search::BlockLatencyTable table = block_latency_table(s, o, progress, &out.block_latency_source);
    out.block_latency = latency_points(table.block);
    out.overhead_ms = table.overhead_ms;
    out.after_prune_share = table.after_prune_share;
    out.last_block_share = table.last_block_share;
    for (const CandidateSpec& x : pareto_candidates(c, o.fast, table.last_block_pooled()))
        add(x.method, x.family, x.spec, parse_prune_spec(x.spec));

    // Predicted latency; a plan outside the table's range is left out.
    std::vector<double> predicted;
    std::vector<int> alive;
    const double unpruned = table.unpruned_ms();
    for (size_t i = 0; i < plans.size(); ++i) {
        try {
            plans[i].predicted_ms = predict_schedule_ms(table, resolve_schedule(schedules[i], c));
            alive.push_back(int(i));
        } catch (const Error&) {
            if (int(i) == compare_index || i == 0) throw;
            plans[i].predicted_ms = 0;  // never evaluated
        }
        plans[i].predicted_ratio = plans[i].predicted_ms / unpruned;
        predicted.push_back(plans[i].predicted_ms);
    }

    // Successive halving over growing image prefixes.
    ImageChunks chunks = split_images(std::move(s.images), o.first_images);
    std::vector<Correctness> top1(plans.size()), top5(plans.size());
    std::vector<int> always = {0};
    if (compare_index >= 0) always.push_back(compare_index);
    int expected = 0, done = 0;
    {
        int cands = int(alive.size()), prev = 0;
        for (int b : chunks.bounds) {
            expected += cands * (b - prev);
            prev = b;
            cands = std::max(o.max_measured, cands * o.keep_fraction_pct / 100);
        }
    }
    EvalOptions eo;
    eo.threads = s.threads;
    for (size_t round = 0; round < chunks.bounds.size(); ++round) {
        const PreparedImages& chunk = chunks.chunks[round];
        out.round_images.push_back(chunks.bounds[round]);
        out.round_candidates.push_back(int(alive.size()));
        for (int ci : alive) {
            const EvalResult r = evaluate_prepared(s.model, chunk, schedules[size_t(ci)], eo);
            for (const ImageOutcome& im : r.per_image) {
                top1[size_t(ci)].push_back(im.correct1);
                top5[size_t(ci)].push_back(im.correct5);
            }
            done += int(chunk.crops.size());
            out.image_evaluations += int(chunk.crops.size());
            progress("search", done, std::max(done + 1, expected));
        }
        const int n = chunks.bounds[round];
        for (int ci : alive) describe_accuracy(plans[size_t(ci)], top1[size_t(ci)], top5[size_t(ci)], top1[0], n, o.z);
        if (round + 1 == chunks.bounds.size()) break;
        const int keep = std::max(o.max_measured, int(alive.size()) * o.keep_fraction_pct / 100);
        std::vector<int> next = halving_survivors(predicted, top1, alive, n, o.z, keep, always);
        for (int ci : alive)
            if (!std::count(next.begin(), next.end(), ci)) plans[size_t(ci)].dropped_round = int(round);
        alive = next;
    }
    progress("search", 1, 1);

    // The front of the survivors (predicted latency, top-1 on every image), measured for real.
    std::vector<double> top1_all(plans.size(), 0);
    for (int ci : alive) top1_all[size_t(ci)] = plans[size_t(ci)].top1;
    // Each method's own front: B(n) leaves out Top-K's scoring and ToMe's matching, so the
    // prediction's bias differs by method and one joint front could miss a method's best plans.
    std::vector<std::string> methods;
    for (int ci : alive)
        if (!std::count(methods.begin(), methods.end(), plans[size_t(ci)].method)) methods.push_back(plans[size_t(ci)].method);
    std::vector<int> timed;
    for (const std::string& m : methods) {
        std::vector<int> own;
        for (int ci : alive)
            if (plans[size_t(ci)].method == m) own.push_back(ci);
        const int share = std::max(1, o.max_measured / std::max<int>(1, int(methods.size())));
        for (int ci : thin_front(pareto_front(predicted, top1_all, own), share))
            if (!std::count(timed.begin(), timed.end(), ci)) timed.push_back(ci);
    }
    for (int a : always)
        if (!std::count(timed.begin(), timed.end(), a)) timed.push_back(a);
    std::sort(timed.begin(), timed.end());  // the unpruned model first
    std::vector<PruneSchedule> timed_schedules;
    for (int ci : timed) timed_schedules.push_back(schedules[size_t(ci)]);
    const VerifiedLatency v = verify_latency(s, timed_schedules, o, progress);
    const std::vector<double>& ms = v.ms;
    out.verify_runs = o.verify_runs;
    out.verify_remeasured = v.remeasured;
    out.verify_warning = v.warning;
    out.baseline_ms = ms[0];
    std::vector<double> measured_ms(plans.size(), 0);
    for (size_t k = 0; k < timed.size(); ++k) {
        ParetoPlan& p = plans[size_t(timed[k])];
        p.measured = true;
        p.measured_ms = measured_ms[size_t(timed[k])] = ms[k];
        p.measured_ratio = ms[k] / ms[0];
    }
    for (int ci : pareto_front(measured_ms, top1_all, timed)) plans[size_t(ci)].on_front = true;

    out.chosen = choose_pareto_plan(plans, o.budget, &out.choice);
    out.plans = std::move(plans);
    out.compare_index = compare_index;
    if (out.chosen >= 0) out.schedule = schedule_from_steps(schedules[size_t(out.chosen)]);
    return out;
}

}  // namespace pomt
