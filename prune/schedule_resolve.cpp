// Resolving a pruning schedule against a model: one action per block, validated, with its token
// counts, and the warnings for schedules that run but are probably not what was meant
// (prune/pruning.h).
#include <algorithm>

#include "pomt/error.h"
#include "prune/prune_pomt.h"
#include "prune/prune_tome.h"
#include "prune/pruning.h"

namespace pomt {

bool ResolvedSchedule::empty() const {
    if (keep > 0) return false;
    for (const LayerAction& a : layers)
        if (a.method != PruneMethod::None) return false;
    return true;
}

std::string ResolvedSchedule::describe() const {
    std::string s;
    auto add = [&](const std::string& part) { s += (s.empty() ? "" : "; ") + part; };
    if (keep > 0) add("random keep=" + std::to_string(keep) + " seed=" + std::to_string(seed));
    bool uniform = !layers.empty() && layers[0].method != PruneMethod::None;
    for (const LayerAction& a : layers) uniform = uniform && a.method == layers[0].method && a.r == layers[0].r;
    auto action = [](const LayerAction& a) {
        return std::string(prune_method_name(a.method)) + (a.method == PruneMethod::Pomt ? " R=" : " r=") + std::to_string(a.r);
    };
    if (uniform && layers.size() > 1) {
        add(action(layers[0]) + " in every block");
    } else {
        for (size_t i = 0; i < layers.size(); ++i)
            if (layers[i].method != PruneMethod::None) add(action(layers[i]) + " at block " + std::to_string(i));
    }
    return s.empty() ? "none" : s;
}

json::Value ResolvedSchedule::to_json() const {
    json::Value root = json::Value::object();
    if (keep > 0) {
        json::Value r = json::Value::object();
        r.set("keep", json::Value::number(keep));
        r.set("seed", json::Value::number(double(seed)));
        root.set("random", r);
    }
    json::Value arr = json::Value::array();
    for (const LayerAction& a : layers) {
        if (a.method == PruneMethod::None) {
            arr.push_back(json::Value());
            continue;
        }
        json::Value o = json::Value::object();
        o.set("method", json::Value::string(prune_method_name(a.method)));
        o.set(a.method == PruneMethod::Pomt ? "R" : "r", json::Value::number(a.r));
        arr.push_back(o);
    }
    root.set("layers", arr);
    return root;
}

int tokens_after_action(const LayerAction& a, int n, int p, int kept) {
    switch (a.method) {
        case PruneMethod::Pomt: return a.r > 0 && pomt_kept_patches(n, a.r) < 1 ? -1 : pomt_tokens_after(n, p, a.r);
        case PruneMethod::TopK: return a.r > 0 && (p < 1 || a.r >= n - p) ? -1 : n - std::max(a.r, 0);
        case PruneMethod::ToMe: return n - tome_effective_r(n, kept, a.r);
        case PruneMethod::None:
        case PruneMethod::Random: break;
    }
    return n;
}

ResolvedSchedule resolve_schedule(const PruneSchedule& schedule, const ModelConfig& c) {
    ResolvedSchedule out;
    const int depth = c.depth, p = c.num_prefix_tokens(), n0 = c.num_tokens();
    out.layers.assign(size_t(depth), LayerAction());
    bool random_seen = false;
    auto block_name = [&](int layer) {
        return "block " + std::to_string(layer) + " is out of range: the model has " + std::to_string(depth) +
               " blocks (0-" + std::to_string(depth - 1) + ")";
    };
    auto set_action = [&](int layer, PruneMethod m, int r) {
        if (r == 0) return;  // R = 0 / r = 0: no-op
        LayerAction& a = out.layers[size_t(layer)];
        if (a.method != PruneMethod::None)
            fail("two pruning steps at block " + std::to_string(layer) + " (" + prune_method_name(a.method) + " and " +
                 prune_method_name(m) + ")");
        a.method = m;
        a.r = r;
    };
    for (const PruneStep& s : schedule.steps) {
        const std::string name = prune_method_name(s.kind);
        if (s.kind == PruneMethod::Random) {
            if (random_seen) fail("random: given twice");
            random_seen = true;
            if (s.keep <= p || s.keep > n0)
                fail("random: keep=" + std::to_string(s.keep) + " is out of range for this model: keep counts every token (" +
                     std::to_string(p) + " prefix + " + std::to_string(n0 - p) + " patch tokens) and must be between " +
                     std::to_string(p + 1) + " and " + std::to_string(n0));
            if (s.keep < n0) out.keep = s.keep, out.seed = s.seed;
            continue;
        }
        if (s.kind == PruneMethod::None) continue;  // a step built in code that does nothing
        const PruneMethod m = s.kind;
        if (s.kind == PruneMethod::TopK && !c.class_token) fail("topk: needs a model with a class token");
        if (s.layer >= 0) {
            if (s.layer >= depth) fail(name + ": " + block_name(s.layer));
            set_action(s.layer, m, s.r.at(0));
        } else if (!s.per_block) {
            for (int l = 0; l < depth; ++l) set_action(l, m, s.r.at(0));
        } else {
            if (int(s.r.size()) > depth)
                fail(name + ": " + std::to_string(s.r.size()) + " per-block values but the model has " +
                     std::to_string(depth) + " blocks");
            for (size_t l = 0; l < s.r.size(); ++l) set_action(int(l), m, s.r[l]);
        }
    }
    // Token counts, with the checks that need them.
    int n = out.keep > 0 ? out.keep : n0;
    out.tokens_after_embedding = n;
    for (int l = 0; l < depth; ++l) {
        const LayerAction& a = out.layers[size_t(l)];
        const int after = tokens_after_action(a, n, p, c.num_protected_tokens());
        if (after < 0) {
            const std::string at = " at block " + std::to_string(l) + " leaves no patch token: " + std::to_string(n) +
                                   " tokens (" + std::to_string(p) + " prefix) enter that block";
            if (a.method == PruneMethod::Pomt)
                fail("pomt: R=" + std::to_string(a.r) + at + ", so R can be at most " + std::to_string(n - 3));
            fail("topk: r=" + std::to_string(a.r) + at + ", so r can be at most " + std::to_string(n - p - 1) + " there");
        }
        if (a.method == PruneMethod::ToMe && after <= p)
            // Registers merge like patches, so ToMe can eat into them; pooling and the other methods
            // need the prefix rows and at least one token after them.
            fail("tome: r=" + std::to_string(a.r) + " at block " + std::to_string(l) + " leaves " + std::to_string(after) +
                 " tokens, no more than the model's " + std::to_string(p) +
                 " prefix tokens (ToMe merges registers like patches): use a smaller r");
        n = after;
        out.tokens_after_block.push_back(n);
    }
    return out;
}

// A model whose later blocks see fewer than 1/32 of its patches (6 of ViT-Tiny's 196) has little of
// the image left to classify: worth a warning, not an error (it runs, and may be what is measured).
constexpr int kFewPatchesDivisor = 32;

std::vector<std::string> schedule_warnings(const PruneSchedule& schedule, const ModelConfig& c,
                                           bool last_block_all_rows) {
    std::vector<std::string> out;
    if (schedule.empty()) return out;
    const ResolvedSchedule plan = resolve_schedule(schedule, c);
    const int depth = c.depth, p = c.num_prefix_tokens(), patches = c.num_patches();
    // The last block of a class-token model computes the pooled rows only (Session::forward_blocks),
    // and no step changes those rows, so a step there is skipped.
    const bool pooled_last = c.global_pool == "token" && !last_block_all_rows;
    const std::string rows = c.distilled ? "the class and distillation tokens' rows" : "the class token's row";
    const PruneMethod last_method = plan.layers[size_t(depth - 1)].method;
    bool effective = plan.keep > 0;
    for (int l = 0; l < depth - (pooled_last ? 1 : 0); ++l)
        effective = effective || plan.layers[size_t(l)].method != PruneMethod::None;
    const bool at_last = pooled_last && last_method != PruneMethod::None;
    // Said only for a step placed there explicitly: a method run in every block (tome:r=13) reaches
    // the last one by design.
    bool placed_last = false;
    for (const PruneStep& st : schedule.steps)
        placed_last = placed_last || (st.layer == depth - 1 && !st.r.empty() && st.r[0] != 0) ||
                      (st.per_block && int(st.r.size()) == depth && st.r.back() != 0);
    const std::string last = "block " + std::to_string(depth - 1) + " is the last, which computes " + rows + " only";
    if (!effective) {
        out.push_back("pruning changes nothing on this model: " +
                      (at_last ? last + ", so a prune there is a no-op" : "every step removes 0 tokens"));
        return out;
    }
    if (at_last && placed_last)
        out.push_back("the " + std::string(prune_method_name(last_method)) + " step at block " +
                      std::to_string(depth - 1) + " is a no-op: " + last);
    // The token counts the blocks compute with: entering each block, and after the last one when
    // pooling reads every token.
    std::vector<int> seen = {plan.tokens_after_embedding};
    for (int l = 0; l + 1 < depth; ++l) seen.push_back(plan.tokens_after_block[size_t(l)]);
    if (!pooled_last) seen.push_back(plan.tokens_after_block.back());
    const int few = std::max(1, patches / kFewPatchesDivisor);
    auto where = [&](size_t i) {
        if (i == 0) return std::string("after the embedding");
        return i < size_t(depth) ? "from block " + std::to_string(i) + " on" : std::string("after the last block");
    };
    for (size_t i = 0; i < seen.size(); ++i)
        if (seen[i] - p <= few) {
            // Where it falls under the threshold, and the fewest it comes to (ToMe keeps merging).
            const size_t least = size_t(std::min_element(seen.begin() + long(i), seen.end()) - seen.begin());
            const std::string fewest = std::to_string(seen[least] - p), all = std::to_string(seen[least]);
            out.push_back("pruning leaves " +
                          (least == i ? fewest + " of the " + std::to_string(patches) + " patch tokens (" + all +
                                            " tokens in all) " + where(i)
                                      : std::to_string(seen[i] - p) + " of the " + std::to_string(patches) +
                                            " patch tokens " + where(i) + ", and " + fewest + " (" + all +
                                            " tokens in all) " + where(least)) +
                          ": the model sees almost nothing of the image");
            break;
        }
    return out;
}

}  // namespace pomt
