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
#include "prune/token_provenance.h"

namespace pomt {

// ---- helpers shared by the methods ------------------------------------------------------------

void compact_rows(float* x, int b, int tokens, int new_tokens, int dim, const int* keep, int k) {
    for (int i = 0; i < k; ++i) {
        const float* src = x + (size_t(b) * tokens + keep[i]) * dim;
        float* dst = x + (size_t(b) * new_tokens + i) * dim;
        if (src != dst) std::memmove(dst, src, size_t(dim) * sizeof(float));
    }
}

void record_moves(const int* keep, int k, int* moved_to, int tokens, const int* merged, int merged_count,
                  int prefix, int merged_row) {
    std::fill(moved_to, moved_to + tokens, -1);
    for (int i = 0; i < k; ++i) moved_to[keep[i]] = i;
    for (int i = 0; i < merged_count; ++i) moved_to[prefix + merged[i]] = merged_row;
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

void keep_prefix_and_best(const int* ranked, int prefix, int kept, std::vector<int>* keep) {
    keep->resize(size_t(prefix + kept));
    int* k = keep->data();
    for (int i = 0; i < prefix; ++i) k[i] = i;
    for (int i = 0; i < kept; ++i) k[prefix + i] = prefix + ranked[i];
    std::sort(k + prefix, k + prefix + kept);
}

// ---- reading specs and schedule files ---------------------------------------------------------
//
// Both forms come down to the key/value pairs of one step, and both go through set_parameter: the
// keys each method takes, what they mean and every check on them are in one place. Only the way one
// value is read (spec text or a JSON value) and the wording of an unknown key depend on the form.

namespace {

// The one table of method names, with what the messages show for each.
struct MethodInfo {
    PruneMethod method;
    const char* name;
    const char* example;  // a complete step, shown when one is incomplete
    const char* keys;     // the parameters it takes, for "unknown parameter" in a spec
};
constexpr MethodInfo kMethods[] = {
    {PruneMethod::None, "none", "none", ""},
    {PruneMethod::Pomt, "pomt", "pomt:R=56,layer=3", "R, layer"},
    {PruneMethod::TopK, "topk", "topk:r=8", "r, layer"},
    {PruneMethod::ToMe, "tome", "tome:r=13", "r, layer"},
    {PruneMethod::Random, "random", "random:keep=120,seed=1", "keep, seed"},
};

const MethodInfo& method_info(PruneMethod m) {
    for (const MethodInfo& i : kMethods)
        if (i.method == m) return i;
    return kMethods[0];
}

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

// A step's method from its name; "none" is a whole spec, not a step's method.
PruneMethod method_from_name(const std::string& name, const std::string& ctx) {
    for (const MethodInfo& i : kMethods)
        if (i.method != PruneMethod::None && name == i.name) return i.method;
    fail(ctx + "unknown pruning method '" + name + "' (known: pomt, topk, tome, random, none)");
}

// One parameter's value as written: the values of `key=v,v,...` in a spec, or a JSON value in a
// schedule file. `what` in the readers is the message prefix naming the parameter.
class ParamValue {
public:
    explicit ParamValue(const std::vector<std::string>& text) : text_(&text) {}
    explicit ParamValue(const json::Value& json) : json_(&json) {}

    // One non-negative integer no larger than 1e9.
    int count(const std::string& what) const {
        return text_ ? int(text_count(one(what), what, false)) : json_count(*json_, what);
    }
    // One value or a list of them (a spec's `r=16,8,8` or a JSON array) appended to `out`;
    // `per_block` tells which the user wrote.
    void counts(const std::string& what, std::vector<int>* out, bool* per_block) const {
        if (text_) {
            for (const std::string& v : *text_) out->push_back(int(text_count(v, what, false)));
            *per_block = out->size() > 1;
        } else if (json_->is_array()) {
            *per_block = true;
            for (const json::Value& v : json_->as_array(what)) out->push_back(json_count(v, what));
        } else {
            out->push_back(json_count(*json_, what));
        }
    }
    // A random seed: a full uint64 in a spec, an exact JSON number (below 2^53) in a file.
    uint64_t seed(const std::string& what) const {
        if (text_) return text_count(one(what), what, true);
        double d = json_->as_number(what);
        if (d < 0 || d != std::floor(d) || d > 9007199254740992.0)
            fail(what + " must be a non-negative integer below 2^53");
        return uint64_t(d);
    }
    // `m` names the step ("...pomt: "), `keys` what the method takes.
    [[noreturn]] void unknown(const std::string& m, const std::string& key, const char* keys) const {
        if (text_) fail(m + "unknown parameter '" + key + "' (expected " + keys + ")");
        fail(m + "unknown field \"" + key + "\"");
    }

private:
    const std::string& one(const std::string& what) const {
        if (text_->size() != 1) fail(what + " takes one value");
        return (*text_)[0];
    }
    // A non-negative integer no larger than 1e9 (or a full uint64 for seeds).
    static uint64_t text_count(const std::string& text, const std::string& what, bool big) {
        if (!text.empty() && text[0] == '-' && text.size() > 1 && std::isdigit((unsigned char)text[1]))
            fail(what + " must not be negative, got " + text);
        bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (!digits) fail(what + " must be a non-negative integer, got '" + text + "'");
        errno = 0;
        unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
        if (errno == ERANGE || (!big && v > 1000000000ull)) fail(what + " is too large: " + text);
        return v;
    }
    static int json_count(const json::Value& v, const std::string& what) {
        double d = v.as_number(what);
        if (d < 0) fail(what + " must not be negative, got " + json::format_number(d));
        if (d != std::floor(d) || d > 1e9) fail(what + " must be a non-negative integer, got " + json::format_number(d));
        return int(d);
    }

    const std::vector<std::string>* text_ = nullptr;
    const json::Value* json_ = nullptr;
};

// One step being read: its parameters go in through set_parameter, then finish checks the whole.
class StepReader {
public:
    // `ctx` starts every message; `layer` ≥ 0: a per-layer entry of a schedule file, whose block is
    // its position (a "layer" key is then unknown).
    StepReader(PruneMethod method, const std::string& ctx, int layer = -1)
        : m_(ctx + method_info(method).name + ": "), layer_key_(layer < 0), has_layer_(layer >= 0) {
        step_.kind = method;
        if (layer >= 0) step_.layer = layer;
    }

    void set_parameter(const std::string& key, const ParamValue& v) {
        if (step_.kind != PruneMethod::Random) {
            if (key == "r" || key == "R") {
                if (has_r_) fail(m_ + "r given twice");
                has_r_ = true;
                v.counts(m_ + key, &step_.r, &step_.per_block);
                return;
            }
            if (key == "layer" && layer_key_) {
                step_.layer = v.count(m_ + "layer");
                has_layer_ = true;
                return;
            }
        } else {
            if (key == "keep") {
                step_.keep = v.count(m_ + "keep");
                has_keep_ = true;
                return;
            }
            if (key == "seed") {
                step_.seed = v.seed(m_ + "seed");
                return;
            }
        }
        v.unknown(m_, key, method_info(step_.kind).keys);
    }

    const PruneStep& finish() const {
        const PruneStep& s = step_;
        const std::string eg = std::string(" (e.g. ") + method_info(s.kind).example + ")";
        switch (s.kind) {
            case PruneMethod::Pomt:
                if (!has_r_) fail(m_ + "missing R" + eg);
                if (!has_layer_) fail(m_ + "missing layer" + eg);
                if (s.r.size() != 1 || s.per_block) fail(m_ + "R takes one value (one pruning layer)");
                break;
            case PruneMethod::TopK:
            case PruneMethod::ToMe:
                if (!has_r_) fail(m_ + "missing r" + eg);
                if (s.r.empty()) fail(m_ + "r needs at least one value");
                if (has_layer_ && (s.r.size() != 1 || s.per_block)) fail(m_ + "with layer=L, r takes one value");
                break;
            case PruneMethod::Random:
                if (!has_keep_) fail(m_ + "missing keep" + eg);
                break;
            case PruneMethod::None:
                break;
        }
        return s;
    }

private:
    PruneStep step_;
    std::string m_;  // the context and the method's name: what every message starts with
    bool layer_key_;
    bool has_r_ = false, has_layer_, has_keep_ = false;
};

// A spec step: method ':' key=value,value,key=value (a bare value continues the previous key's list).
PruneStep parse_step(const std::string& text, const std::string& ctx) {
    size_t colon = text.find(':');
    const std::string name = trim(text.substr(0, colon));
    const PruneMethod method = method_from_name(name, ctx);
    if (colon == std::string::npos || trim(text.substr(colon + 1)).empty())
        fail(ctx + name + " needs parameters, e.g. " + method_info(method).example);
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
    StepReader step(method, ctx);
    for (const auto& kv : params) step.set_parameter(kv.first, ParamValue(kv.second));
    return step.finish();
}

// A schedule file's step object {"method": ..., key: value, ...}; `layer` ≥ 0 for a per-layer entry.
PruneStep step_from_json(const json::Value& o, const std::string& where, int layer) {
    if (!o.is_object()) fail(where + ": expected an object");
    const json::Value* method = o.find("method");
    if (!method) fail(where + ": missing \"method\"");
    StepReader step(method_from_name(method->as_string(where + ".method"), where + ": "), where + ": ", layer);
    for (const auto& kv : o.as_object(where))
        if (kv.first != "method") step.set_parameter(kv.first, ParamValue(kv.second));
    return step.finish();
}

}  // namespace

const char* prune_method_name(PruneMethod m) { return method_info(m).name; }

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
                if (s.kind == PruneMethod::Random) fail(where + ": random pruning happens before the blocks; use \"random\"");
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

// Tokens after action `a` at a block entered by n tokens (p of them prefix tokens, `kept` of those
// protected from ToMe's merging: the class and distillation tokens), or -1 where the step would
// refuse (no patch token left).
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

// ---- the pruner -------------------------------------------------------------------------------

namespace {

class SchedulePruner : public TokenPruner {
public:
    SchedulePruner(ResolvedSchedule s, const ModelConfig& c, TokenProvenance* record)
        : s_(std::move(s)), prefix_(c.num_prefix_tokens()), protected_(c.num_protected_tokens()), record_(record) {
        for (const LayerAction& a : s_.layers) sizes_ = sizes_ || a.method == PruneMethod::ToMe;
    }

    int after_embedding(float* x, int batch, int tokens, int dim) override {
        if (record_) record_->start(batch, tokens, prefix_);
        if (s_.keep <= 0) return tokens;
        if (s_.keep >= tokens) fail("random: keep=" + std::to_string(s_.keep) + " but only " + std::to_string(tokens) + " tokens");
        const int out = random_prune(x, batch, tokens, dim, prefix_, s_.keep, s_.seed, moves(batch, tokens));
        if (record_) record_->apply(moves_, tokens, out, PruneMethod::Random);
        return out;
    }
    bool wants_attention(int layer) const override {
        return layer >= 0 && layer < int(s_.layers.size()) && s_.layers[size_t(layer)].method == PruneMethod::Pomt;
    }
    bool tracks_sizes() const override { return sizes_; }
    int after_attention(BlockInternals& block) override {
        if (block.layer < 0 || block.layer >= int(s_.layers.size())) return block.tokens;
        const LayerAction& a = s_.layers[size_t(block.layer)];
        int* moved_to = moves(block.batch, block.tokens);
        int out = block.tokens;
        switch (a.method) {
            case PruneMethod::Pomt: out = pomt_prune(block, a.r, pomt_, moved_to); break;
            case PruneMethod::TopK: out = topk_prune(block, a.r, topk_, moved_to); break;
            case PruneMethod::ToMe: {
                // facebookresearch/ToMe protects the class (and distillation) token only: registers
                // are matched and merged like patch tokens.
                BlockInternals merged = block;
                merged.prefix_tokens = protected_;
                out = tome_merge(merged, a.r, tome_, moved_to);
                break;
            }
            default: break;
        }
        // A step that keeps the count changed nothing (R = 0, nothing to merge) and recorded nothing.
        if (record_ && out != block.tokens) record_->apply(moves_, block.tokens, out, a.method);
        return out;
    }
    int predicted_tokens_after(int layer, int tokens) const override {
        if (layer < 0 || layer >= int(s_.layers.size())) return tokens;
        return tokens_after_action(s_.layers[size_t(layer)], tokens, prefix_, protected_);
    }

private:
    // Where a step writes its moved_to record when recording, else null.
    int* moves(int batch, int tokens) {
        if (!record_) return nullptr;
        moves_.assign(size_t(batch) * tokens, -1);
        return moves_.data();
    }

    ResolvedSchedule s_;
    int prefix_ = 0;
    int protected_ = 0;  // tokens ToMe never merges
    bool sizes_ = false;
    TokenProvenance* record_ = nullptr;
    std::vector<int> moves_;
    PomtScratch pomt_;
    TopkScratch topk_;
    TomeScratch tome_;
};

}  // namespace

std::unique_ptr<TokenPruner> make_pruner(const ResolvedSchedule& schedule, const ModelConfig& config) {
    return make_pruner(schedule, config, nullptr);
}

std::unique_ptr<TokenPruner> make_pruner(const ResolvedSchedule& schedule, const ModelConfig& config,
                                         TokenProvenance* record) {
    if (schedule.empty()) return nullptr;
    if (int(schedule.layers.size()) != config.depth) fail("pruning schedule resolved for another model");
    return std::make_unique<SchedulePruner>(schedule, config, record);
}

std::unique_ptr<TokenPruner> make_pruner(const PruneSchedule& schedule, const ModelConfig& config) {
    return make_pruner(resolve_schedule(schedule, config), config);
}

}  // namespace pomt
