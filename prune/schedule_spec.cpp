// Reading pruning schedules: --prune specs and schedule files (prune/pruning.h; the grammar and the
// file format are in docs/SCHEDULES.md).
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/file_util.h"
#include "pomt/error.h"
#include "prune/pruning.h"

namespace pomt {

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
        } else if (key == "precision") {
            out.precision = kv.second.as_string(what + ".precision");
            if (out.precision != "fp32" && out.precision != "int8" && out.precision != "bf16")
                fail(what + ": precision must be \"fp32\", \"int8\" or \"bf16\", not \"" + out.precision + "\"");
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
            fail(what + ": unknown field \"" + key + "\" (expected layers, steps, random, prune, precision, comment, search)");
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
}  // namespace pomt
