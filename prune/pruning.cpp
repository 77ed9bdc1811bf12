#include "prune/pruning.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>

#include "pomt/error.h"
#include "core/file_util.h"
#include "prune/prune_pomt.h"
#include "prune/prune_random.h"
#include "prune/prune_tome.h"
#include "prune/prune_topk.h"

namespace pomt {

const char* prune_method_name(PruneMethod m) {
    switch (m) {
        case PruneMethod::Pomt: return "pomt";
        case PruneMethod::TopK: return "topk";
        case PruneMethod::ToMe: return "tome";
        default: return "none";
    }
}

// ---- helpers shared by the methods ------------------------------------------------------------

void compact_rows(float* x, int b, int tokens, int new_tokens, int dim, const int* keep, int k) {
    for (int i = 0; i < k; ++i) {
        const float* src = x + (size_t(b) * tokens + keep[i]) * dim;
        float* dst = x + (size_t(b) * new_tokens + i) * dim;
        if (src != dst) std::memmove(dst, src, size_t(dim) * sizeof(float));
    }
}

void rank_descending(const double* score, int begin, int end, std::vector<int>* order) {
    order->resize(size_t(end - begin));
    std::iota(order->begin(), order->end(), begin);
    auto key = [score](int i) { return std::isnan(score[i]) ? -HUGE_VAL : score[i]; };
    // A total order (ties by index), so std::sort gives what a stable sort would, without the
    // stable sort's buffer allocation on every call.
    std::sort(order->begin(), order->end(), [&](int a, int b) {
        const double ka = key(a), kb = key(b);
        return ka > kb || (ka == kb && a < b);
    });
}

// ---- spec parsing -----------------------------------------------------------------------------

namespace {

std::string trim(const std::string& s) {
    size_t a = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
    return a == std::string::npos ? std::string() : s.substr(a, e - a + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        size_t at = s.find(sep, start);
        parts.push_back(trim(s.substr(start, at == std::string::npos ? std::string::npos : at - start)));
        if (at == std::string::npos) return parts;
        start = at + 1;
    }
}

// A non-negative integer no larger than 1e9 (or a full uint64 for seeds).
uint64_t parse_count(const std::string& text, const std::string& what, bool big = false) {
    if (!text.empty() && text[0] == '-' && text.size() > 1 && std::isdigit((unsigned char)text[1]))
        fail(what + " must not be negative, got " + text);
    bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) fail(what + " must be a non-negative integer, got '" + text + "'");
    errno = 0;
    unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
    if (errno == ERANGE || (!big && v > 1000000000ull)) fail(what + " is too large: " + text);
    return v;
}

PruneStep::Kind kind_from_name(const std::string& name, const std::string& ctx) {
    if (name == "pomt") return PruneStep::Pomt;
    if (name == "topk") return PruneStep::TopK;
    if (name == "tome") return PruneStep::ToMe;
    if (name == "random") return PruneStep::Random;
    fail(ctx + "unknown pruning method '" + name + "' (known: pomt, topk, tome, random, none)");
}

const char* kind_name(PruneStep::Kind k) {
    switch (k) {
        case PruneStep::Pomt: return "pomt";
        case PruneStep::TopK: return "topk";
        case PruneStep::ToMe: return "tome";
        default: return "random";
    }
}

const char* kind_example(PruneStep::Kind k) {
    switch (k) {
        case PruneStep::Pomt: return "pomt:R=56,layer=3";
        case PruneStep::TopK: return "topk:r=8";
        case PruneStep::ToMe: return "tome:r=13";
        default: return "random:keep=120,seed=1";
    }
}

// Checks a step's fields once they are filled in (shared by the spec and the JSON readers).
void finish_step(PruneStep& s, bool has_r, bool has_layer, bool has_keep, const std::string& ctx) {
    const std::string m = std::string(kind_name(s.kind)) + ": ";
    const std::string eg = std::string(" (e.g. ") + kind_example(s.kind) + ")";
    switch (s.kind) {
        case PruneStep::Pomt:
            if (!has_r) fail(ctx + m + "missing R" + eg);
            if (!has_layer) fail(ctx + m + "missing layer" + eg);
            if (s.r.size() != 1 || s.per_block) fail(ctx + m + "R takes one value (one pruning layer)");
            break;
        case PruneStep::TopK:
        case PruneStep::ToMe:
            if (!has_r) fail(ctx + m + "missing r" + eg);
            if (s.r.empty()) fail(ctx + m + "r needs at least one value");
            if (has_layer && (s.r.size() != 1 || s.per_block)) fail(ctx + m + "with layer=L, r takes one value");
            break;
        case PruneStep::Random:
            if (!has_keep) fail(ctx + m + "missing keep" + eg);
            break;
    }
}

PruneStep parse_step(const std::string& text, const std::string& ctx) {
    size_t colon = text.find(':');
    const std::string name = trim(text.substr(0, colon));
    PruneStep s;
    s.kind = kind_from_name(name, ctx);
    if (colon == std::string::npos || trim(text.substr(colon + 1)).empty())
        fail(ctx + name + " needs parameters, e.g. " + kind_example(s.kind));
    // key=value,value,key=value: a bare value continues the previous key's list.
    std::vector<std::pair<std::string, std::vector<std::string>>> params;
    for (const std::string& item : split(text.substr(colon + 1), ',')) {
        size_t eq = item.find('=');
        if (eq == std::string::npos) {
            if (params.empty()) fail(ctx + "'" + item + "' has no key (expected key=value)");
            if (item.empty()) fail(ctx + "empty value after " + params.back().first + "=");
            params.back().second.push_back(item);
            continue;
        }
        std::string key = trim(item.substr(0, eq)), value = trim(item.substr(eq + 1));
        if (key.empty()) fail(ctx + "missing key before '='");
        if (value.empty()) fail(ctx + "missing value for " + key);
        for (auto& kv : params)
            if (kv.first == key || ((key == "r" || key == "R") && (kv.first == "r" || kv.first == "R")))
                fail(ctx + key + " given twice");
        params.push_back({key, {value}});
    }
    bool has_r = false, has_layer = false, has_keep = false;
    const std::string m = std::string(kind_name(s.kind)) + ": ";
    for (auto& kv : params) {
        const std::string& key = kv.first;
        const bool block_method = s.kind != PruneStep::Random;
        auto one = [&]() -> const std::string& {
            if (kv.second.size() != 1) fail(ctx + m + key + " takes one value");
            return kv.second[0];
        };
        if (block_method && (key == "r" || key == "R")) {
            for (const std::string& v : kv.second) s.r.push_back(int(parse_count(v, ctx + m + key)));
            s.per_block = s.r.size() > 1;
            has_r = true;
        } else if (block_method && key == "layer") {
            s.layer = int(parse_count(one(), ctx + m + "layer"));
            has_layer = true;
        } else if (!block_method && key == "keep") {
            s.keep = int(parse_count(one(), ctx + m + "keep"));
            has_keep = true;
        } else if (!block_method && key == "seed") {
            s.seed = parse_count(one(), ctx + m + "seed", true);
        } else {
            fail(ctx + m + "unknown parameter '" + key + "' (" +
                 (block_method ? (s.kind == PruneStep::Pomt ? "expected R, layer" : "expected r, layer")
                               : "expected keep, seed") +
                 ")");
        }
    }
    finish_step(s, has_r, has_layer, has_keep, ctx);
    return s;
}

// JSON number → non-negative int with the same messages as the spec reader.
int json_count(const json::Value& v, const std::string& what) {
    double d = v.as_number(what);
    if (d < 0) fail(what + " must not be negative, got " + json::format_number(d));
    if (d != std::floor(d) || d > 1e9) fail(what + " must be a non-negative integer, got " + json::format_number(d));
    return int(d);
}

PruneStep step_from_json(const json::Value& o, const std::string& where, int layer_index) {
    if (!o.is_object()) fail(where + ": expected an object");
    const json::Value* method = o.find("method");
    if (!method) fail(where + ": missing \"method\"");
    PruneStep s;
    s.kind = kind_from_name(method->as_string(where + ".method"), where + ": ");
    const std::string m = where + ": " + kind_name(s.kind) + ": ";
    bool has_r = false, has_layer = layer_index >= 0, has_keep = false;
    if (layer_index >= 0) s.layer = layer_index;
    for (const auto& kv : o.as_object(where)) {
        const std::string& key = kv.first;
        const bool block_method = s.kind != PruneStep::Random;
        if (key == "method") continue;
        if (block_method && (key == "r" || key == "R")) {
            if (has_r) fail(m + "r given twice");
            has_r = true;
            if (kv.second.is_array()) {
                s.per_block = true;
                for (const json::Value& v : kv.second.as_array(m + key)) s.r.push_back(json_count(v, m + key));
            } else {
                s.r.push_back(json_count(kv.second, m + key));
            }
        } else if (block_method && key == "layer" && layer_index < 0) {
            s.layer = json_count(kv.second, m + "layer");
            has_layer = true;
        } else if (!block_method && key == "keep") {
            s.keep = json_count(kv.second, m + "keep");
            has_keep = true;
        } else if (!block_method && key == "seed") {
            double d = kv.second.as_number(m + "seed");
            if (d < 0 || d != std::floor(d) || d > 9007199254740992.0)
                fail(m + "seed must be a non-negative integer below 2^53");
            s.seed = uint64_t(d);
        } else {
            fail(m + "unknown field \"" + key + "\"");
        }
    }
    finish_step(s, has_r, has_layer, has_keep, where + ": ");
    return s;
}

}  // namespace

PruneSchedule parse_prune_spec(const std::string& spec) {
    const std::string ctx = "bad --prune spec '" + spec + "': ";
    PruneSchedule out;
    const std::string t = trim(spec);
    if (t.empty()) fail(ctx + "empty (e.g. pomt:R=56,layer=3)");
    if (t == "none") return out;
    for (const std::string& part : split(t, ';')) {
        if (part.empty()) fail(ctx + "empty step");
        if (part == "none") fail(ctx + "'none' cannot be combined with other steps");
        out.steps.push_back(parse_step(part, ctx));
    }
    return out;
}

PruneSchedule parse_schedule_json(const std::string& text, const std::string& what) {
    json::Value root = json::parse(text, what);
    if (!root.is_object()) fail(what + ": a schedule file must be a JSON object");
    PruneSchedule out;
    for (const auto& kv : root.as_object(what)) {
        const std::string& key = kv.first;
        // "search": how `pomt schedule` computed the plan (curves, device, verification); informative.
        if (key == "comment" || key == "format" || key == "version" || key == "search") {
            if (key == "version" && kv.second.as_number(what + ".version") != 1)
                fail(what + ": unsupported schedule version " + json::format_number(kv.second.as_number("")));
        } else if (key == "prune") {
            const std::string& spec = kv.second.as_string(what + ".prune");
            PruneSchedule s = parse_prune_spec(spec);
            out.steps.insert(out.steps.end(), s.steps.begin(), s.steps.end());
        } else if (key == "steps") {
            const auto& arr = kv.second.as_array(what + ".steps");
            for (size_t i = 0; i < arr.size(); ++i)
                out.steps.push_back(step_from_json(arr[i], what + ".steps[" + std::to_string(i) + "]", -1));
        } else if (key == "random") {
            json::Value o = kv.second;
            if (!o.is_object()) fail(what + ".random: expected an object {\"keep\": K, \"seed\": S}");
            if (o.find("method")) fail(what + ".random: unknown field \"method\"");
            o.set("method", json::Value::string("random"));
            out.steps.push_back(step_from_json(o, what + ".random", -1));
        } else if (key == "layers") {
            const auto& arr = kv.second.as_array(what + ".layers");
            for (size_t i = 0; i < arr.size(); ++i) {
                const json::Value& v = arr[i];
                const std::string where = what + ".layers[" + std::to_string(i) + "]";
                if (v.is_null()) continue;
                if (v.is_object() && v.as_object(where).empty()) continue;
                if (v.is_object() && v.find("method") && v.find("method")->is_string() &&
                    v.find("method")->as_string("") == "none") {
                    if (v.as_object(where).size() != 1) fail(where + ": method \"none\" takes no other field");
                    continue;
                }
                PruneStep s = step_from_json(v, where, int(i));
                if (s.kind == PruneStep::Random) fail(where + ": random pruning happens before the blocks; use \"random\"");
                if (s.r.size() != 1 || s.per_block) fail(where + ": r takes one value in a per-layer entry");
                out.steps.push_back(s);
            }
        } else {
            fail(what + ": unknown field \"" + key + "\" (expected layers, steps, random, prune, comment, search)");
        }
    }
    return out;
}

PruneSchedule load_schedule_file(const std::string& path) {
    std::vector<unsigned char> bytes = read_file_bytes(path, "schedule file");
    return parse_schedule_json(std::string(bytes.begin(), bytes.end()), "schedule '" + path + "'");
}

PruneSchedule schedule_from_options(const std::string& prune_spec, const std::string& schedule_file) {
    PruneSchedule out;
    if (!schedule_file.empty()) out = load_schedule_file(schedule_file);
    if (!prune_spec.empty()) {
        PruneSchedule s = parse_prune_spec(prune_spec);
        out.steps.insert(out.steps.end(), s.steps.begin(), s.steps.end());
    }
    return out;
}

// ---- resolution against a model --------------------------------------------------------------

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

namespace {

// Tokens after action `a` at a block entered by n tokens (p of them prefix tokens), or -1 where the
// step would refuse (no patch token left).
int tokens_after_action(const LayerAction& a, int n, int p) {
    switch (a.method) {
        case PruneMethod::Pomt: return a.r > 0 && pomt_kept_patches(n, a.r) < 1 ? -1 : pomt_tokens_after(n, p, a.r);
        case PruneMethod::TopK: return a.r > 0 && (p < 1 || a.r >= n - p) ? -1 : n - std::max(a.r, 0);
        case PruneMethod::ToMe: return n - tome_effective_r(n, p, a.r);
        case PruneMethod::None: break;
    }
    return n;
}

}  // namespace

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
        const std::string name = kind_name(s.kind);
        if (s.kind == PruneStep::Random) {
            if (random_seen) fail("random: given twice");
            random_seen = true;
            if (s.keep <= p || s.keep > n0)
                fail("random: keep=" + std::to_string(s.keep) + " is out of range for this model: keep counts every token (" +
                     std::to_string(p) + " prefix + " + std::to_string(n0 - p) + " patch tokens) and must be between " +
                     std::to_string(p + 1) + " and " + std::to_string(n0));
            if (s.keep < n0) out.keep = s.keep, out.seed = s.seed;
            continue;
        }
        const PruneMethod m = s.kind == PruneStep::Pomt ? PruneMethod::Pomt
                              : s.kind == PruneStep::TopK ? PruneMethod::TopK
                                                          : PruneMethod::ToMe;
        if (s.kind == PruneStep::TopK && !c.class_token) fail("topk: needs a model with a class token");
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
        const int after = tokens_after_action(a, n, p);
        if (after < 0) {
            const std::string at = " at block " + std::to_string(l) + " leaves no patch token: " + std::to_string(n) +
                                   " tokens (" + std::to_string(p) + " prefix) enter that block";
            if (a.method == PruneMethod::Pomt)
                fail("pomt: R=" + std::to_string(a.r) + at + ", so R can be at most " + std::to_string(n - 3));
            fail("topk: r=" + std::to_string(a.r) + at + ", so r can be at most " + std::to_string(n - p - 1) + " there");
        }
        n = after;
        out.tokens_after_block.push_back(n);
    }
    return out;
}

// ---- the pruner -------------------------------------------------------------------------------

namespace {

class SchedulePruner : public TokenPruner {
public:
    SchedulePruner(ResolvedSchedule s, const ModelConfig& c) : s_(std::move(s)), prefix_(c.num_prefix_tokens()) {
        for (const LayerAction& a : s_.layers) sizes_ = sizes_ || a.method == PruneMethod::ToMe;
    }

    int after_embedding(float* x, int batch, int tokens, int dim) override {
        if (s_.keep <= 0) return tokens;
        if (s_.keep >= tokens) fail("random: keep=" + std::to_string(s_.keep) + " but only " + std::to_string(tokens) + " tokens");
        return random_prune(x, batch, tokens, dim, prefix_, s_.keep, s_.seed);
    }
    bool wants_attention(int layer) const override {
        return layer >= 0 && layer < int(s_.layers.size()) && s_.layers[size_t(layer)].method == PruneMethod::Pomt;
    }
    bool tracks_sizes() const override { return sizes_; }
    int after_attention(BlockInternals& block) override {
        if (block.layer < 0 || block.layer >= int(s_.layers.size())) return block.tokens;
        const LayerAction& a = s_.layers[size_t(block.layer)];
        switch (a.method) {
            case PruneMethod::Pomt: return pomt_prune(block, a.r, scratch_);
            case PruneMethod::TopK: return topk_prune(block, a.r, scratch_);
            case PruneMethod::ToMe: return tome_merge(block, a.r, scratch_);
            default: return block.tokens;
        }
    }
    int predicted_tokens_after(int layer, int tokens) const override {
        if (layer < 0 || layer >= int(s_.layers.size())) return tokens;
        return tokens_after_action(s_.layers[size_t(layer)], tokens, prefix_);
    }

private:
    ResolvedSchedule s_;
    int prefix_ = 0;
    bool sizes_ = false;
    PruneScratch scratch_;
};

}  // namespace

std::unique_ptr<TokenPruner> make_pruner(const ResolvedSchedule& schedule, const ModelConfig& config) {
    if (schedule.empty()) return nullptr;
    if (int(schedule.layers.size()) != config.depth) fail("pruning schedule resolved for another model");
    return std::make_unique<SchedulePruner>(schedule, config);
}

std::unique_ptr<TokenPruner> make_pruner(const PruneSchedule& schedule, const ModelConfig& config) {
    return make_pruner(resolve_schedule(schedule, config), config);
}

}  // namespace pomt
