#include "vit/config.h"

#include <regex>

#include "pomt/error.h"

namespace pomt {

namespace {

struct Size {
    const char* name;
    int embed_dim, depth, num_heads;
};
// timm's VisionTransformer sizes (vision_transformer.py / deit.py).
const Size kSizes[] = {
    {"tiny", 192, 12, 3}, {"small", 384, 12, 6}, {"base", 768, 12, 12}, {"large", 1024, 24, 16}, {"huge", 1280, 32, 16},
};

const std::regex& arch_regex() {
    static const std::regex re("^(vit|deit|deit3)_(tiny|small|base|large|huge)(_distilled)?_patch([0-9]{1,4})_([0-9]{1,4})$");
    return re;
}

int int_field(const json::Value& v, const std::string& what, int lo, int hi) {
    int64_t x = v.as_int(what);
    if (x < lo || x > hi) fail(what + " = " + std::to_string(x) + " is outside [" + std::to_string(lo) + ", " +
                               std::to_string(hi) + "]");
    return int(x);
}

}  // namespace

std::vector<std::string> known_architectures() {
    std::vector<std::string> names;
    for (const char* fam : {"vit", "deit", "deit3"})
        for (const Size& s : kSizes)
            for (int patch : {16, 32})
                for (int img : {224, 384}) {
                    std::string base = std::string(fam) + "_" + s.name;
                    names.push_back(base + "_patch" + std::to_string(patch) + "_" + std::to_string(img));
                    if (std::string(fam) == "deit")
                        names.push_back(base + "_distilled_patch" + std::to_string(patch) + "_" + std::to_string(img));
                }
    return names;
}

ModelConfig config_for_architecture(const std::string& full_name) {
    std::string name = full_name.substr(0, full_name.find('.'));
    std::smatch m;
    // Length-checked first: libstdc++'s std::regex recurses once per character, so a long name (a
    // hostile config.json) would overflow the stack; the {1,4} digit bounds keep std::stoi in range.
    if (name.size() > 64 || !std::regex_match(name, m, arch_regex()))
        fail("unknown architecture '" + (full_name.size() > 80 ? full_name.substr(0, 80) + "..." : full_name) +
             "': pomt knows timm's vit_/deit_/deit3_{tiny,small,base,large,huge}[_distilled]_patchP_IMG "
             "(give model_args in config.json for other dimensions)");
    ModelConfig c;
    c.architecture = full_name;
    for (const Size& s : kSizes)
        if (m[2] == s.name) {
            c.embed_dim = s.embed_dim;
            c.depth = s.depth;
            c.num_heads = s.num_heads;
        }
    c.patch_size = std::stoi(m[4]);
    c.img_size = std::stoi(m[5]);
    c.mlp_hidden = c.embed_dim * 4;
    c.distilled = m[3].matched;
    if (c.distilled && m[1] != "deit") fail("unknown architecture '" + full_name + "': only deit_ has _distilled");
    if (m[1] == "deit3") {
        c.no_embed_class = true;
        c.layer_scale = true;
    }
    return c;
}

void ModelConfig::validate() const {
    auto bad = [&](const std::string& msg) { fail("model config of '" + architecture + "': " + msg); };
    if (embed_dim <= 0 || embed_dim > 16384) bad("embed_dim must be in 1..16384");
    if (depth <= 0 || depth > 256) bad("depth must be in 1..256");
    if (num_heads <= 0 || embed_dim % num_heads) bad("embed_dim must be a multiple of num_heads");
    if (mlp_hidden <= 0 || mlp_hidden > 65536) bad("MLP hidden size must be in 1..65536");
    if (patch_size <= 0 || img_size <= 0 || img_size % patch_size) bad("img_size must be a multiple of patch_size");
    if (img_size > 4096) bad("img_size must be at most 4096");
    if (in_chans != 3) bad("only 3 input channels are supported");
    if (num_classes < 0 || num_classes > 100000) bad("num_classes must be in 0..100000");
    if (reg_tokens < 0 || reg_tokens > 64) bad("reg_tokens must be in 0..64");
    if (global_pool != "token" && global_pool != "avg")
        bad("global_pool '" + global_pool + "' is not supported (token or avg)");
    if (global_pool == "token" && !class_token) bad("global_pool 'token' needs a class token");
    if (distilled && (!class_token || global_pool != "token")) bad("distilled models pool the class token");
}

json::Value ModelConfig::to_json() const {
    json::Value v = json::Value::object();
    v.set("architecture", json::Value::string(architecture));
    v.set("img_size", json::Value::number(img_size));
    v.set("patch_size", json::Value::number(patch_size));
    v.set("in_chans", json::Value::number(in_chans));
    v.set("embed_dim", json::Value::number(embed_dim));
    v.set("depth", json::Value::number(depth));
    v.set("num_heads", json::Value::number(num_heads));
    v.set("mlp_hidden", json::Value::number(mlp_hidden));
    v.set("num_classes", json::Value::number(num_classes));
    v.set("qkv_bias", json::Value::boolean(qkv_bias));
    v.set("class_token", json::Value::boolean(class_token));
    v.set("distilled", json::Value::boolean(distilled));
    v.set("reg_tokens", json::Value::number(reg_tokens));
    v.set("no_embed_class", json::Value::boolean(no_embed_class));
    v.set("layer_scale", json::Value::boolean(layer_scale));
    v.set("pre_norm", json::Value::boolean(pre_norm));
    v.set("global_pool", json::Value::string(global_pool));
    v.set("fc_norm", json::Value::boolean(fc_norm));
    v.set("ln_eps", json::Value::number(ln_eps));
    return v;
}

ModelConfig ModelConfig::from_json(const json::Value& v, const std::string& what) {
    if (!v.is_object()) fail(what + ": model config is not an object");
    auto get = [&](const char* key) -> const json::Value& {
        const json::Value* f = v.find(key);
        if (!f) fail(what + ": model config lacks '" + key + "'");
        return *f;
    };
    auto key = [&](const char* k) { return what + ": " + k; };
    ModelConfig c;
    c.architecture = get("architecture").as_string(key("architecture"));
    c.img_size = int_field(get("img_size"), key("img_size"), 1, 4096);
    c.patch_size = int_field(get("patch_size"), key("patch_size"), 1, 4096);
    c.in_chans = int_field(get("in_chans"), key("in_chans"), 1, 4);
    c.embed_dim = int_field(get("embed_dim"), key("embed_dim"), 1, 16384);
    c.depth = int_field(get("depth"), key("depth"), 1, 256);
    c.num_heads = int_field(get("num_heads"), key("num_heads"), 1, 16384);
    c.mlp_hidden = int_field(get("mlp_hidden"), key("mlp_hidden"), 1, 65536);
    c.num_classes = int_field(get("num_classes"), key("num_classes"), 0, 100000);
    c.qkv_bias = get("qkv_bias").as_bool(key("qkv_bias"));
    c.class_token = get("class_token").as_bool(key("class_token"));
    c.distilled = get("distilled").as_bool(key("distilled"));
    c.reg_tokens = int_field(get("reg_tokens"), key("reg_tokens"), 0, 64);
    c.no_embed_class = get("no_embed_class").as_bool(key("no_embed_class"));
    c.layer_scale = get("layer_scale").as_bool(key("layer_scale"));
    c.pre_norm = get("pre_norm").as_bool(key("pre_norm"));
    c.global_pool = get("global_pool").as_string(key("global_pool"));
    c.fc_norm = get("fc_norm").as_bool(key("fc_norm"));
    c.ln_eps = get("ln_eps").as_number(key("ln_eps"));
    if (!(c.ln_eps > 0 && c.ln_eps < 1)) fail(what + ": ln_eps must be in (0, 1)");
    c.validate();
    return c;
}

json::Value PreprocessConfig::to_json() const {
    json::Value v = json::Value::object();
    json::Value size = json::Value::array(), mean_v = json::Value::array(), std_v = json::Value::array();
    for (int i = 0; i < 3; ++i) {
        size.push_back(json::Value::number(input_size[i]));
        mean_v.push_back(json::Value::number(mean[i]));
        std_v.push_back(json::Value::number(std[i]));
    }
    v.set("input_size", size);
    v.set("interpolation", json::Value::string(interpolation));
    v.set("crop_pct", json::Value::number(crop_pct));
    v.set("crop_mode", json::Value::string(crop_mode));
    v.set("mean", mean_v);
    v.set("std", std_v);
    return v;
}

PreprocessConfig PreprocessConfig::from_json(const json::Value& v, const std::string& what) {
    if (!v.is_object()) fail(what + ": preprocessing config is not an object");
    PreprocessConfig p;
    auto triple = [&](const char* key, auto setter) {
        const json::Value* f = v.find(key);
        if (!f) return;
        const auto& arr = f->as_array(what + ": " + key);
        if (arr.size() != 3) fail(what + ": " + key + " must have 3 entries");
        for (int i = 0; i < 3; ++i) setter(i, arr[i], what + ": " + key);
    };
    triple("input_size", [&](int i, const json::Value& e, const std::string& w) {
        p.input_size[i] = int_field(e, w, 1, 4096);
    });
    triple("mean", [&](int i, const json::Value& e, const std::string& w) { p.mean[i] = e.as_number(w); });
    triple("std", [&](int i, const json::Value& e, const std::string& w) {
        p.std[i] = e.as_number(w);
        if (!(p.std[i] > 0)) fail(w + " must be positive");
    });
    if (const json::Value* f = v.find("interpolation")) p.interpolation = f->as_string(what + ": interpolation");
    if (p.interpolation != "bicubic" && p.interpolation != "bilinear" && p.interpolation != "nearest")
        fail(what + ": interpolation '" + p.interpolation + "' is not supported (bicubic, bilinear, nearest)");
    if (const json::Value* f = v.find("crop_pct"); f && !f->is_null()) p.crop_pct = f->as_number(what + ": crop_pct");
    if (!(p.crop_pct > 0 && p.crop_pct <= 4)) fail(what + ": crop_pct must be in (0, 4]");
    if (const json::Value* f = v.find("crop_mode")) p.crop_mode = f->as_string(what + ": crop_mode");
    if (p.crop_mode != "center") fail(what + ": crop_mode '" + p.crop_mode + "' is not supported (center)");
    if (p.input_size[0] != 3) fail(what + ": input_size must have 3 channels");
    return p;
}

PreprocessConfig default_preprocess_for(const ModelConfig& cfg) {
    PreprocessConfig p;
    p.input_size[1] = p.input_size[2] = cfg.img_size;
    bool deit = cfg.architecture.rfind("deit", 0) == 0;
    // timm: ViT (augreg) checkpoints use mean = std = 0.5, crop 0.9; DeiT ImageNet statistics, 0.875;
    // 384-pixel checkpoints are evaluated without a crop.
    p.crop_pct = cfg.img_size >= 384 ? 1.0 : (deit ? 0.875 : 0.9);
    if (!deit)
        for (int i = 0; i < 3; ++i) p.mean[i] = p.std[i] = 0.5;
    return p;
}

void config_from_hub_json(const json::Value& hub, const std::string& arch_override, const std::string& what,
                          ModelConfig* model, PreprocessConfig* pre) {
    if (!hub.is_object()) fail(what + ": config.json is not a JSON object");
    std::string arch = arch_override;
    if (arch.empty()) {
        const json::Value* a = hub.find("architecture");
        if (!a) fail(what + ": config.json has no 'architecture' (give --arch NAME)");
        arch = a->as_string(what + ": architecture");
    }
    ModelConfig c = config_for_architecture(arch);
    bool fc_norm_given = false;
    if (const json::Value* f = hub.find("num_classes")) c.num_classes = int_field(*f, what + ": num_classes", 0, 100000);
    if (const json::Value* f = hub.find("global_pool"))
        if (f->is_string()) c.global_pool = f->as_string("");
    double mlp_ratio = 4.0;
    bool mlp_ratio_given = false;
    if (const json::Value* args = hub.find("model_args")) {
        for (const auto& kv : args->as_object(what + ": model_args")) {
            const std::string& k = kv.first;
            const json::Value& val = kv.second;
            const std::string w = what + ": model_args." + k;
            if (k == "embed_dim") c.embed_dim = int_field(val, w, 1, 16384);
            else if (k == "depth") c.depth = int_field(val, w, 1, 256);
            else if (k == "num_heads") c.num_heads = int_field(val, w, 1, 16384);
            else if (k == "mlp_ratio") mlp_ratio = val.as_number(w), mlp_ratio_given = true;
            else if (k == "patch_size") c.patch_size = int_field(val, w, 1, 4096);
            else if (k == "img_size") c.img_size = int_field(val, w, 1, 4096);
            else if (k == "in_chans") c.in_chans = int_field(val, w, 1, 4);
            else if (k == "num_classes") c.num_classes = int_field(val, w, 0, 100000);
            else if (k == "qkv_bias") c.qkv_bias = val.as_bool(w);
            else if (k == "class_token") c.class_token = val.as_bool(w);
            else if (k == "no_embed_class") c.no_embed_class = val.as_bool(w);
            else if (k == "reg_tokens") c.reg_tokens = int_field(val, w, 0, 64);
            else if (k == "pre_norm") c.pre_norm = val.as_bool(w);
            else if (k == "global_pool") c.global_pool = val.as_string(w);
            else if (k == "init_values") c.layer_scale = !val.is_null() && val.as_number(w) != 0.0;
            else if (k == "fc_norm") {
                if (!val.is_null()) c.fc_norm = val.as_bool(w), fc_norm_given = true;
            } else if (k == "drop_rate" || k == "attn_drop_rate" || k == "proj_drop_rate" || k == "drop_path_rate" ||
                       k == "pos_drop_rate" || k == "patch_drop_rate") {
                // Dropout is inactive at inference.
            } else {
                fail(what + ": model_args." + k + " is not supported by pomt");
            }
        }
    }
    if (mlp_ratio_given) {
        if (!(mlp_ratio > 0 && mlp_ratio <= 64)) fail(what + ": model_args.mlp_ratio must be in (0, 64]");
        c.mlp_hidden = int(c.embed_dim * mlp_ratio);
    } else {
        c.mlp_hidden = c.embed_dim * 4;
    }
    if (!fc_norm_given) c.fc_norm = c.global_pool == "avg";  // timm: use_fc_norm defaults to avg pooling
    c.validate();

    PreprocessConfig p = default_preprocess_for(c);
    if (const json::Value* pc = hub.find("pretrained_cfg")) p = PreprocessConfig::from_json(*pc, what + ": pretrained_cfg");
    if (p.input_size[1] != c.img_size || p.input_size[2] != c.img_size)
        fail(what + ": pretrained_cfg input_size " + std::to_string(p.input_size[1]) + "x" +
             std::to_string(p.input_size[2]) + " does not match the model's img_size " + std::to_string(c.img_size));
    *model = c;
    *pre = p;
}

std::vector<TensorSpec> expected_tensors(const ModelConfig& c) {
    const int64_t D = c.embed_dim, H = c.mlp_hidden, P = c.patch_size;
    std::vector<TensorSpec> t;
    if (c.class_token) t.push_back({"cls_token", {1, 1, D}});
    if (c.distilled) t.push_back({"dist_token", {1, 1, D}});
    if (c.reg_tokens) t.push_back({"reg_token", {1, c.reg_tokens, D}});
    t.push_back({"pos_embed", {1, c.pos_embed_len(), D}});
    t.push_back({"patch_embed.proj.weight", {D, c.in_chans, P, P}, true});
    if (!c.pre_norm) t.push_back({"patch_embed.proj.bias", {D}});
    if (c.pre_norm) {
        t.push_back({"norm_pre.weight", {D}});
        t.push_back({"norm_pre.bias", {D}});
    }
    for (int i = 0; i < c.depth; ++i) {
        std::string b = "blocks." + std::to_string(i) + ".";
        t.push_back({b + "norm1.weight", {D}});
        t.push_back({b + "norm1.bias", {D}});
        t.push_back({b + "attn.qkv.weight", {3 * D, D}, true});
        if (c.qkv_bias) t.push_back({b + "attn.qkv.bias", {3 * D}});
        t.push_back({b + "attn.proj.weight", {D, D}, true});
        t.push_back({b + "attn.proj.bias", {D}});
        if (c.layer_scale) t.push_back({b + "ls1.gamma", {D}});
        t.push_back({b + "norm2.weight", {D}});
        t.push_back({b + "norm2.bias", {D}});
        t.push_back({b + "mlp.fc1.weight", {H, D}, true});
        t.push_back({b + "mlp.fc1.bias", {H}});
        t.push_back({b + "mlp.fc2.weight", {D, H}, true});
        t.push_back({b + "mlp.fc2.bias", {D}});
        if (c.layer_scale) t.push_back({b + "ls2.gamma", {D}});
    }
    const char* final_norm = c.fc_norm ? "fc_norm" : "norm";
    t.push_back({std::string(final_norm) + ".weight", {D}});
    t.push_back({std::string(final_norm) + ".bias", {D}});
    if (c.num_classes > 0) {
        t.push_back({"head.weight", {c.num_classes, D}, true});
        t.push_back({"head.bias", {c.num_classes}});
        if (c.distilled) {
            t.push_back({"head_dist.weight", {c.num_classes, D}, true});
            t.push_back({"head_dist.bias", {c.num_classes}});
        }
    }
    return t;
}

}  // namespace pomt
