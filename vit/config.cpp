#include "vit/config.h"

#include "pomt/error.h"

namespace pomt {

namespace {

int int_field(const json::Value& v, const std::string& what, int lo, int hi) {
    int64_t x = v.as_int(what);
    if (x < lo || x > hi) fail(what + " = " + std::to_string(x) + " is outside [" + std::to_string(lo) + ", " +
                               std::to_string(hi) + "]");
    return int(x);
}

}  // namespace

void ModelConfig::validate() const {
    auto bad = [&](const std::string& msg) { fail("model config of '" + architecture + "': " + msg); };
    if (embed_dim <= 0 || embed_dim > 16384) bad("embed_dim must be in 1..16384");
    if (depth <= 0 || depth > 256) bad("depth must be in 1..256");
    if (num_heads <= 0 || embed_dim % num_heads) bad("embed_dim must be a multiple of num_heads");
    // The int8 and bf16 attention kernels keep a head's row on the stack (timm's largest: 128).
    if (embed_dim / num_heads > 256) bad("head_dim (embed_dim / num_heads) must be at most 256");
    if (mlp_hidden <= 0 || mlp_hidden > 65536) bad("MLP hidden size must be in 1..65536");
    if (patch_size <= 0 || img_size <= 0 || img_size % patch_size) bad("img_size must be a multiple of patch_size");
    if (img_size > 4096) bad("img_size must be at most 4096");
    if (in_chans != 3) bad("only 3 input channels are supported");
    if (num_classes < 0 || num_classes > 100000) bad("num_classes must be in 0..100000");
    if (reg_tokens < 0 || reg_tokens > 64) bad("reg_tokens must be in 0..64");
    if (global_pool != "token" && global_pool != "avg" && global_pool != "map")
        bad("global_pool '" + global_pool + "' is not supported (token, avg or map)");
    if (act_layer != "gelu" && act_layer != "quick_gelu")
        bad("act_layer '" + act_layer + "' is not supported (gelu or quick_gelu)");
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
    // Written only when not the default, so files of the GELU models stay as they were.
    if (act_layer != "gelu") v.set("act_layer", json::Value::string(act_layer));
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
    if (const json::Value* f = v.find("act_layer")) c.act_layer = f->as_string(key("act_layer"));
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
    if (c.global_pool == "map") {
        // timm's AttentionPoolLatent (latent_len 1, qkv_bias on whatever the blocks use, its MLP
        // with the blocks' mlp_ratio).
        t.push_back({"attn_pool.latent", {1, 1, D}});
        t.push_back({"attn_pool.q.weight", {D, D}, true});
        t.push_back({"attn_pool.q.bias", {D}});
        t.push_back({"attn_pool.kv.weight", {2 * D, D}, true});
        t.push_back({"attn_pool.kv.bias", {2 * D}});
        t.push_back({"attn_pool.proj.weight", {D, D}, true});
        t.push_back({"attn_pool.proj.bias", {D}});
        t.push_back({"attn_pool.norm.weight", {D}});
        t.push_back({"attn_pool.norm.bias", {D}});
        t.push_back({"attn_pool.mlp.fc1.weight", {H, D}, true});
        t.push_back({"attn_pool.mlp.fc1.bias", {H}});
        t.push_back({"attn_pool.mlp.fc2.weight", {D, H}, true});
        t.push_back({"attn_pool.mlp.fc2.bias", {D}});
    }
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
