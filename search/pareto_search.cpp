// search_pareto (include/pomt/search.h): candidates of every method (search/pareto_candidates.h),
// latency predicted from the block tables, accuracy by successive halving with paired intervals
// (search/pareto_select.h), the front measured for real, interleaved, and the budget's choice.
#include <algorithm>
#include <cmath>
#include <string>

#include "api/internal.h"
#include "core/json.h"
#include "eval/dataset.h"
#include "eval/evaluate.h"
#include "pomt/error.h"
#include "quantize/quantize_model.h"
#include "search/block_table_source.h"
#include "search/pareto_candidates.h"
#include "search/pareto_select.h"

namespace pomt {

const char* plan_precision_name(PlanPrecision p) {
    switch (p) {
        case PlanPrecision::Float32: return "fp32";
        case PlanPrecision::Int8: return "int8";
        case PlanPrecision::Bf16: return "bf16";
    }
    return "?";
}

bool plan_precision_from_name(const std::string& name, PlanPrecision* p) {
    for (PlanPrecision q : {PlanPrecision::Float32, PlanPrecision::Int8, PlanPrecision::Bf16})
        if (name == plan_precision_name(q)) {
            *p = q;
            return true;
        }
    return false;
}

namespace search {

namespace {

// The estimation images cut at the halving rounds' boundaries: chunk k holds images
// [bounds[k-1], bounds[k]), so a round evaluates only the images its survivors have not seen.
struct ImageChunks {
    std::vector<int> bounds;
    std::vector<PreparedImages> chunks;
};

ImageChunks split_images(PreparedImages&& all, int first, int total) {
    ImageChunks out;
    for (int n = std::min(first, total);; n = std::min(2 * n, total)) {
        out.bounds.push_back(n);
        if (n == total) break;
    }
    int begin = 0;
    for (int end : out.bounds) {
        PreparedImages c;  // empty when the images are evaluated elsewhere
        for (int i = begin; i < end && size_t(i) < all.crops.size(); ++i) {
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

// Which images estimate and which confirm (ParetoSearchOptions::confirm_images).
struct ImageSplit {
    int estimation = 0;  // the first `estimation` of data (0: all)
    int confirm = 0;     // how many confirm
    int confirm_first = 0;  // where they start: in data, or in confirm_data
    std::string confirm_source, note;
};

ImageSplit split_estimation(const SearchSetup& s, const ParetoSearchOptions& o) {
    const int classes = s.model->config().num_classes;
    const int total = int(load_dataset(o.data, o.root, classes).size());
    ImageSplit x;
    const int cap = o.max_images > 0 ? std::min(o.max_images, total) : total;
    if (!o.confirm_data.empty()) {
        const int other = int(load_dataset(o.confirm_data, o.confirm_root, classes).size());
        x.estimation = cap;
        x.confirm = o.confirm_images < 0 ? other : std::min(o.confirm_images, other);
        x.confirm_source = o.confirm_data + " images 0.." + std::to_string(x.confirm);
    } else {
        if (o.confirm_images < 0) {
            x.estimation = total > cap ? cap : total - total / 4;
            x.confirm = total > cap ? std::min(total - cap, cap) : total / 4;
        } else {
            x.confirm = o.confirm_images;
            x.estimation = std::min(cap, total - x.confirm);
            if (x.estimation < 1)
                fail(o.data + " has " + std::to_string(total) + " images: too few for " + std::to_string(x.confirm) +
                     " confirmation images and at least one to estimate on");
        }
        x.confirm_first = x.estimation;
        x.confirm_source = o.data + " images " + std::to_string(x.estimation) + ".." + std::to_string(x.estimation + x.confirm);
    }
    x.note = o.data + " images 0.." + std::to_string(x.estimation);
    return x;
}

PreparedImages load_confirmation_images(const SearchSetup& s, const ParetoSearchOptions& o, const ImageSplit& x,
                                        const ProgressReporter& progress) {
    const bool other = !o.confirm_data.empty();
    std::vector<LabelledImage> list = load_dataset(other ? o.confirm_data : o.data, other ? o.confirm_root : o.root,
                                                   s.model->config().num_classes);
    list = std::vector<LabelledImage>(list.begin() + x.confirm_first, list.begin() + x.confirm_first + x.confirm);
    EvalOptions eo;
    eo.threads = s.threads;
    eo.skip_bad = o.skip_bad;
    eo.progress = [&](int done, int total) { progress("confirm images", done, total); };
    PreparedImages out = prepare_images(*s.model, list, eo);
    if (out.crops.empty()) fail("no readable confirmation images");
    return out;
}

constexpr size_t kPrecisions = size_t(PlanPrecision::Bf16) + 1;

// The B(n) CSV given for precision p's model made here from an fp32 one ("": measure it).
const std::string& made_precision_csv(const ParetoSearchOptions& o, PlanPrecision p) {
    static const std::string none;
    return p == PlanPrecision::Int8 ? o.block_latency_csv_int8 : p == PlanPrecision::Bf16 ? o.block_latency_csv_bf16 : none;
}

}  // namespace

}  // namespace search

ParetoSearchResult search_pareto(const Classifier& model, const ParetoSearchOptions& o) {
    using namespace search;
    SearchSetup s = check_search_options(model, o);
    {
        std::string why;
        ParetoBudget check = o.budget;
        check.loss_rule = LossRule::Estimate;
        choose_pareto_plan({}, check, &why);  // checks the budget before any work
    }
    if (o.confirm_images < -1) fail("confirm_images must be >= -1 (-1: automatic), got " + std::to_string(o.confirm_images));
    if (o.confirm_images == 0 && !o.confirm_data.empty()) fail("confirmation data given with 0 confirmation images");
    if (!(o.z > 0) || !std::isfinite(o.z)) fail("z must be a positive number, got " + std::to_string(o.z));
    if (o.first_images < 0) fail("first_images must be at least 1 (0: automatic), got " + std::to_string(o.first_images));
    if (o.keep_fraction_pct < 1 || o.keep_fraction_pct > 100) fail("keep_fraction_pct must be in 1..100");
    if (o.max_measured < 1) fail("max_measured must be at least 1, got " + std::to_string(o.max_measured));
    if (o.latency_step < 1) fail("latency_step must be at least 1, got " + std::to_string(o.latency_step));
    const ModelConfig& c = s.model->config();
    // B(n) every latency_step counts (and at N): the prediction interpolates between them.
    std::vector<int> counts;
    for (size_t i = 0; i < s.counts.size(); i += size_t(o.latency_step)) counts.push_back(s.counts[i]);
    if (counts.back() != s.full_tokens) counts.push_back(s.full_tokens);
    s.counts = counts;

    // The precisions searched; plans[0], the unpruned model in the first, is what losses are against.
    const PlanPrecision own = s.model->is_int8()   ? PlanPrecision::Int8
                              : s.model->is_bf16() ? PlanPrecision::Bf16
                                                   : PlanPrecision::Float32;
    const std::string own_name = plan_precision_name(own);
    // An int8 or bf16 model runs only its own precision (its weights cannot be widened back to fp32).
    auto runs = [&](PlanPrecision p) { return own == PlanPrecision::Float32 || p == own; };
    std::vector<PlanPrecision> precisions = o.precisions;
    if (precisions.empty()) precisions = own == PlanPrecision::Float32 ? std::vector<PlanPrecision>{PlanPrecision::Float32,
                                                                                                    PlanPrecision::Int8}
                                                                       : std::vector<PlanPrecision>{own};
    for (size_t i = 0; i < precisions.size(); ++i) {
        if (std::count(precisions.begin(), precisions.end(), precisions[i]) > 1)
            fail(std::string("precision ") + plan_precision_name(precisions[i]) + " is listed twice");
        if (!runs(precisions[i]))
            fail("the model is " + own_name + " and cannot run " + plan_precision_name(precisions[i]) +
                 " plans: search from the fp32 model file");
    }
    for (PlanPrecision p : {PlanPrecision::Int8, PlanPrecision::Bf16}) {
        if (search::made_precision_csv(o, p).empty()) continue;
        const std::string name = plan_precision_name(p);
        if (own == p) fail("the model is " + own_name + ": its block latency CSV is block_latency_csv (--block-latency)");
        if (!std::count(precisions.begin(), precisions.end(), p))
            fail(std::string(p == PlanPrecision::Int8 ? "an " : "a ") + name + " block latency CSV is given and " + name +
                 " is not searched");
    }
    // A model per precision, int8 and bf16 made here from an fp32 model as `pomt quantize` makes the file.
    std::shared_ptr<const Model> models[search::kPrecisions];
    models[int(own)] = s.model;
    auto model_for = [&](PlanPrecision p) {
        if (!models[int(p)]) models[int(p)] = model_in_precision(s.model, plan_precision_name(p));
        return models[int(p)];
    };

    // Candidates and their schedules; files are read before any work.
    std::vector<ParetoPlan> plans;
    std::vector<PruneSchedule> schedules;
    auto add = [&](const std::string& method, const std::string& family, const std::string& spec, PruneSchedule ps,
                   PlanPrecision precision) {
        ParetoPlan p;
        p.method = method;
        p.family = family;
        p.spec = spec;
        p.precision = precision;
        plans.push_back(p);
        ps.precision = plan_precision_name(precision);
        schedules.push_back(std::move(ps));
    };
    add("none", "unpruned", "none", PruneSchedule(), precisions[0]);
    int compare_index = -1;
    if (!o.compare_schedule.empty()) {
        PruneSchedule ps = load_schedule_file(o.compare_schedule);
        resolve_schedule(ps, c);
        compare_index = int(plans.size());
        PlanPrecision p = own;  // a file without a precision runs in the model's
        if (!ps.precision.empty() && !plan_precision_from_name(ps.precision, &p))
            fail("'" + o.compare_schedule + "' has an unknown precision '" + ps.precision + "'");
        if (!runs(p))
            fail("'" + o.compare_schedule + "' runs in " + ps.precision + " and the model is " + own_name +
                 ": search from the fp32 model file");
        add("compare", resolve_schedule(ps, c).describe(), "@" + o.compare_schedule, ps, p);
    }
    for (const std::string& spec : o.extra_specs) {
        PruneSchedule ps = parse_prune_spec(spec);
        resolve_schedule(ps, c);
        for (PlanPrecision p : precisions) add(ps.empty() ? "none" : prune_method_name(ps.steps[0].kind), "given", spec, ps, p);
    }
    const ProgressReporter progress(o.progress);
    const ImageSplit split = split_estimation(s, o);
    if (split.confirm == 0 && o.budget.max_loss >= 0 && o.budget.loss_rule == LossRule::Confirmed)
        fail("a loss budget is judged on confirmation images, and there are none (" +
             (o.confirm_images == 0 ? std::string("confirm_images 0")
                                    : std::to_string(split.estimation) + " images, all for estimation") +
             "): give some, or judge it on the estimation images (rule estimate or bound)");
    const bool remote = bool(o.remote_accuracy);
    if (remote && o.skip_bad) fail("skip_bad cannot be used with remote accuracy (image positions must match)");
    if (!remote) {
        ParetoSearchOptions eo = o;
        eo.max_images = split.estimation;
        load_estimation_images(s, eo, progress);
    }
    // Read now, so a bad confirmation image stops the search before any measurement.
    PreparedImages confirm_images;
    if (split.confirm > 0 && !remote) confirm_images = load_confirmation_images(s, o, split, progress);
    const int estimation_images = remote ? split.estimation : int(s.images.crops.size());
    // Images smaller than the model's resize are upsampled, unlike the photos a device takes, and
    // the methods react to that differently (docs/RESULTS.md): the output says so.
    std::string upsampled_note;
    if (!remote && s.images.upsampled * 2 > estimation_images)
        upsampled_note = "; " + std::to_string(s.images.upsampled) + " of them are smaller than the model's resize and "
                         "upsampled, unlike a camera's photos: pruning losses may differ on photos (point --data at "
                         "your own)";
    const int confirmation_images = remote ? split.confirm : int(confirm_images.crops.size());
    // What a plan is, for a remote evaluator: its schedule file's text.
    auto schedule_text = [&](int ci) {
        json::Value j = resolve_schedule(schedules[size_t(ci)], s.model->config()).to_json();
        j.set("precision", json::Value::string(plan_precision_name(plans[size_t(ci)].precision)));
        return j.dump();
    };
    // Per-image top-1/top-5 correctness of plans on images [first, first + count) of a list.
    auto remote_eval = [&](const std::vector<int>& which, bool confirmation, int first, int count) {
        std::vector<ParetoSearchOptions::AccuracyRequest> reqs;
        for (int ci : which) {
            ParetoSearchOptions::AccuracyRequest q;
            q.schedule = schedule_text(ci);
            q.precision = plans[size_t(ci)].precision;
            q.confirmation = confirmation;
            q.first = first;
            q.count = count;
            reqs.push_back(q);
        }
        std::vector<ParetoSearchOptions::AccuracyReply> replies = o.remote_accuracy(reqs);
        if (replies.size() != reqs.size())
            fail("remote accuracy: " + std::to_string(replies.size()) + " replies to " + std::to_string(reqs.size()) + " requests");
        for (const auto& r : replies)
            if (int(r.top1.size()) != count || int(r.top5.size()) != count)
                fail("remote accuracy: a reply does not have one entry per image (" + std::to_string(count) + ")");
        return replies;
    };

    ParetoSearchResult out;
    out.architecture = c.architecture;
    out.threads = s.threads;
    out.batch = s.batch;
    out.images = estimation_images;
    out.tokens_full = s.full_tokens;
    out.z = o.z;
    // B(n) per precision: its own CSV, or measured here on its model.
    search::BlockLatencyTable tables[search::kPrecisions];
    std::vector<PlanPrecision> tabled = precisions;
    if (compare_index >= 0 && !std::count(tabled.begin(), tabled.end(), plans[size_t(compare_index)].precision))
        tabled.push_back(plans[size_t(compare_index)].precision);
    for (PlanPrecision p : tabled) {
        ParetoSearchOptions po = o;
        if (p != own) {
            po.block_latency_csv = made_precision_csv(o, p);
            po.latency_csv.clear();  // model-mode rows of the model as given
        }
        const std::shared_ptr<const Model> given = s.model;
        s.model = model_for(p);
        std::string source;
        tables[int(p)] = block_latency_table(s, po, progress, &source);
        s.model = given;
        out.precisions.push_back(p);
        out.precision_sources.push_back(source);
        out.precision_block_latency.push_back(latency_points(tables[int(p)].block));
    }
    const search::BlockLatencyTable& table = tables[int(precisions[0])];
    out.block_latency_source = out.precision_sources[0];
    out.block_latency = latency_points(table.block);
    out.overhead_ms = table.overhead_ms;
    out.after_prune_share = table.after_prune_share;
    out.last_block_share = table.last_block_share;
    std::vector<int> always = {0};
    if (compare_index >= 0) always.push_back(compare_index);
    for (PlanPrecision p : precisions) {
        if (p != precisions[0]) {  // each precision's unpruned model is measured, as the first one's
            always.push_back(int(plans.size()));
            add("none", "unpruned", "none", PruneSchedule(), p);
        }
        for (const CandidateSpec& x : pareto_candidates(c, o.fast, table.last_block_pooled()))
            add(x.method, x.family, x.spec, parse_prune_spec(x.spec), p);
    }

    // Predicted latency; a plan outside the table's range is left out.
    std::vector<double> predicted;
    std::vector<int> alive;
    const double unpruned = table.unpruned_ms();
    for (size_t i = 0; i < plans.size(); ++i) {
        try {
            plans[i].predicted_ms =
                predict_schedule_ms(tables[int(plans[i].precision)], resolve_schedule(schedules[i], c));
            alive.push_back(int(i));
        } catch (const Error&) {
            if (std::count(always.begin(), always.end(), int(i))) throw;
            plans[i].predicted_ms = 0;  // never evaluated
        }
        plans[i].predicted_ratio = plans[i].predicted_ms / unpruned;
        predicted.push_back(plans[i].predicted_ms);
    }

    // Successive halving over growing image prefixes.
    const int first_images =
        o.first_images > 0 ? o.first_images : std::max(32, (o.fast ? 64 : 128) / std::max<int>(1, int(precisions.size())));
    ImageChunks chunks = split_images(std::move(s.images), first_images, estimation_images);
    std::vector<Correctness> top1(plans.size()), top5(plans.size());
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
        const int begin = round ? chunks.bounds[round - 1] : 0, count = chunks.bounds[round] - begin;
        if (remote) {
            const auto replies = remote_eval(alive, false, begin, count);
            for (size_t k = 0; k < alive.size(); ++k) {
                Correctness &c1 = top1[size_t(alive[k])], &c5 = top5[size_t(alive[k])];
                c1.insert(c1.end(), replies[k].top1.begin(), replies[k].top1.end());
                c5.insert(c5.end(), replies[k].top5.begin(), replies[k].top5.end());
            }
            done += count * int(alive.size());
            out.image_evaluations += count * int(alive.size());
            progress("search", done, std::max(done + 1, expected));
        }
        for (int ci : remote ? std::vector<int>() : alive) {
            const EvalResult r = evaluate_prepared(models[int(plans[size_t(ci)].precision)], chunk, schedules[size_t(ci)], eo);
            for (const ImageOutcome& im : r.per_image) {
                top1[size_t(ci)].push_back(im.correct1);
                top5[size_t(ci)].push_back(im.correct5);
            }
            done += count;
            out.image_evaluations += count;
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
    // Each method's own front, per precision: B(n) leaves out Top-K's scoring and ToMe's
    // matching, so the prediction's bias differs by method (and precision) and one joint front
    // could miss a method's best plans.
    auto group = [&](int ci) {
        return plans[size_t(ci)].method + "/" + plan_precision_name(plans[size_t(ci)].precision);
    };
    std::vector<std::string> methods;
    for (int ci : alive)
        if (!std::count(methods.begin(), methods.end(), group(ci))) methods.push_back(group(ci));
    std::vector<int> timed;
    for (const std::string& m : methods) {
        std::vector<int> mine;
        for (int ci : alive)
            if (group(ci) == m) mine.push_back(ci);
        const int share = std::max(1, o.max_measured / std::max<int>(1, int(methods.size())));
        for (int ci : thin_front(pareto_front(predicted, top1_all, mine), share))
            if (!std::count(timed.begin(), timed.end(), ci)) timed.push_back(ci);
    }
    for (int a : always)
        if (!std::count(timed.begin(), timed.end(), a)) timed.push_back(a);
    std::sort(timed.begin(), timed.end());  // the unpruned model first
    std::vector<PruneSchedule> timed_schedules;
    std::vector<std::shared_ptr<const Model>> timed_models;
    for (int ci : timed) {
        timed_schedules.push_back(schedules[size_t(ci)]);
        timed_models.push_back(models[int(plans[size_t(ci)].precision)]);
    }
    const VerifiedLatency v = verify_latency(s, timed_models, timed_schedules, o, progress);
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

    // Confirmation: the unpruned model once, then the plans the rule (or the report) asks for.
    out.loss_rule = o.budget.loss_rule;
    out.confidence = o.budget.confidence;
    out.data_note = split.note + upsampled_note;
    Correctness base_confirm;
    if (split.confirm > 0) {
        out.confirm_images = confirmation_images;
        out.confirm_source = split.confirm_source;
    }
    auto confirm_correctness = [&](int ci) {
        Correctness c;
        if (remote) return Correctness(remote_eval({ci}, !o.confirm_data.empty(), split.confirm_first, split.confirm)[0].top1);
        for (const ImageOutcome& im :
             evaluate_prepared(models[int(plans[size_t(ci)].precision)], confirm_images, schedules[size_t(ci)], eo).per_image)
            c.push_back(im.correct1);
        return c;
    };
    const double z_one_sided = normal_quantile(o.budget.confidence);
    auto confirm = [&](int ci) {
        if (out.confirm_images == 0) return;
        const int n = out.confirm_images;
        if (base_confirm.empty()) {
            base_confirm = confirm_correctness(0);
            out.image_evaluations += n;
        }
        const Correctness c = confirm_correctness(ci);
        out.image_evaluations += n;
        ParetoPlan& p = plans[size_t(ci)];
        const PairedInterval d = paired_difference(base_confirm, c, n, z_one_sided);
        p.confirmed = true;
        p.confirm_images = n;
        p.confirm_top1 = 100.0 * double(std::count(c.begin(), c.end(), 1)) / n;
        p.confirm_loss = d.mean;
        p.confirm_high = d.high;
        progress("confirm", 1, 1);
    };
    if (o.budget.max_loss >= 0 && o.budget.loss_rule == LossRule::Confirmed) {
        out.chosen = choose_confirmed_plan(plans, o.budget, confirm, &out.choice);
    } else {
        out.chosen = choose_pareto_plan(plans, o.budget, &out.choice);
        if (out.chosen > 0) {  // the report: how the chosen plan fares on images it was not chosen with
            confirm(out.chosen);
            const ParetoPlan& p = plans[size_t(out.chosen)];
            if (p.confirmed)
                out.choice += "; on " + std::to_string(p.confirm_images) + " confirmation images it loses " +
                              json::format_number(std::round(p.confirm_loss * 1000) / 1000) + " points";
        }
    }
    if (!base_confirm.empty()) {  // the reference of every confirmed loss: its own top-1 there
        plans[0].confirmed = true;
        plans[0].confirm_images = int(base_confirm.size());
        plans[0].confirm_top1 = 100.0 * double(std::count(base_confirm.begin(), base_confirm.end(), 1)) / double(base_confirm.size());
    }
    out.plans = std::move(plans);
    out.compare_index = compare_index;
    if (out.chosen >= 0) out.schedule = schedule_from_steps(schedules[size_t(out.chosen)]);
    return out;
}

}  // namespace pomt
