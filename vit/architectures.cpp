// timm architecture names → ModelConfig, as timm.create_model resolves them: the name's model_args
// (its @register_model function in timm/models/vision_transformer.py / deit.py), the image size and
// class count of its default pretrained_cfg, then a hub config.json's overrides.
#include <cmath>
#include <regex>

#include "core/suggest.h"
#include "pomt/error.h"
#include "vit/config.h"

namespace pomt {

namespace {

// ---- the classic family: {vit,deit,deit3}_{size}[_distilled]_patchP_IMG -----------------------

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

// ---- named architectures: the rest of timm's VisionTransformer family ------------------------

// The default pretrained_cfg's normalisation.
enum class Stats { ImageNet, Half, OpenAiClip };

struct NamedArchitecture {
    const char* name;
    // timm's model_args for the name, verbatim (JSON); applied like a config.json's model_args.
    const char* model_args;
    // From the name's default pretrained_cfg (timm passes input_size and num_classes to the model).
    int img_size, num_classes;
    Stats stats;
    double crop_pct;
    double ln_eps;  // 1e-6: timm's LayerNorm; 1e-5: norm_layer=nn.LayerNorm (CLIP)
};

#define DINOV2(size, args) "{\"patch_size\":14," size ",\"init_values\":1e-5" args "}"
#define CLIP(patch, size, args) "{\"patch_size\":" #patch "," size ",\"pre_norm\":true" args "}"
#define S_DINO "\"embed_dim\":384,\"depth\":12,\"num_heads\":6"
#define B_VIT "\"embed_dim\":768,\"depth\":12,\"num_heads\":12"
#define L_VIT "\"embed_dim\":1024,\"depth\":24,\"num_heads\":16"
#define H_VIT "\"embed_dim\":1280,\"depth\":32,\"num_heads\":16"
#define QUICK ",\"act_layer\":\"quick_gelu\""
#define REG4 ",\"reg_tokens\":4,\"no_embed_class\":true"
#define SIGLIP(patch, size, args) "{\"patch_size\":" #patch "," size ",\"class_token\":false,\"global_pool\":\"map\"" args "}"
#define GAP_M "{\"patch_size\":16,\"embed_dim\":512,\"depth\":12,\"num_heads\":8,\"class_token\":false," \
              "\"global_pool\":\"avg\",\"qkv_bias\":false,\"init_values\":1e-6,\"fc_norm\":false}"

const NamedArchitecture kNamed[] = {
    // DINOv2 (feature extractors: the default pretrained_cfg has no classifier).
    {"vit_small_patch14_dinov2", DINOV2(S_DINO, ",\"img_size\":518"), 518, 0, Stats::ImageNet, 1.0, 1e-6},
    {"vit_base_patch14_dinov2", DINOV2(B_VIT, ",\"img_size\":518"), 518, 0, Stats::ImageNet, 1.0, 1e-6},
    {"vit_large_patch14_dinov2", DINOV2(L_VIT, ",\"img_size\":518"), 518, 0, Stats::ImageNet, 1.0, 1e-6},
    {"vit_small_patch14_reg4_dinov2", DINOV2(S_DINO, REG4), 518, 0, Stats::ImageNet, 1.0, 1e-6},
    {"vit_base_patch14_reg4_dinov2", DINOV2(B_VIT, REG4), 518, 0, Stats::ImageNet, 1.0, 1e-6},
    {"vit_large_patch14_reg4_dinov2", DINOV2(L_VIT, REG4), 518, 0, Stats::ImageNet, 1.0, 1e-6},
    // CLIP image towers: norm_pre, nn.LayerNorm; default tags fine-tuned on ImageNet-1k.
    {"vit_base_patch32_clip_224", CLIP(32, B_VIT, ""), 224, 1000, Stats::OpenAiClip, 0.9, 1e-5},
    {"vit_base_patch32_clip_256", CLIP(32, B_VIT, ""), 256, 1000, Stats::OpenAiClip, 1.0, 1e-5},
    {"vit_base_patch32_clip_384", CLIP(32, B_VIT, ""), 384, 1000, Stats::OpenAiClip, 1.0, 1e-5},
    {"vit_base_patch32_clip_448", CLIP(32, B_VIT, ""), 448, 1000, Stats::OpenAiClip, 1.0, 1e-5},
    {"vit_base_patch16_clip_224", CLIP(16, B_VIT, ""), 224, 1000, Stats::OpenAiClip, 0.95, 1e-5},
    {"vit_base_patch16_clip_384", CLIP(16, B_VIT, ""), 384, 1000, Stats::OpenAiClip, 1.0, 1e-5},
    {"vit_large_patch14_clip_224", CLIP(14, L_VIT, ""), 224, 1000, Stats::OpenAiClip, 1.0, 1e-5},
    {"vit_large_patch14_clip_336", CLIP(14, L_VIT, ""), 336, 1000, Stats::OpenAiClip, 1.0, 1e-5},
    {"vit_huge_patch14_clip_224", CLIP(14, H_VIT, ""), 224, 1000, Stats::OpenAiClip, 1.0, 1e-5},
    {"vit_huge_patch14_clip_336", CLIP(14, H_VIT, ""), 336, 1000, Stats::OpenAiClip, 1.0, 1e-5},
    {"vit_huge_patch14_clip_378", CLIP(14, H_VIT, ""), 378, 1000, Stats::OpenAiClip, 1.0, 1e-5},
    {"vit_giant_patch14_clip_224", CLIP(14, "\"embed_dim\":1408,\"depth\":40,\"num_heads\":16,\"mlp_ratio\":4.363636363636363", ""),
     224, 1000, Stats::OpenAiClip, 1.0, 1e-5},  // mlp_ratio = 48/11
    {"vit_gigantic_patch14_clip_224", CLIP(14, "\"embed_dim\":1664,\"depth\":48,\"num_heads\":16,\"mlp_ratio\":4.923076923076923", ""),
     224, 1000, Stats::OpenAiClip, 1.0, 1e-5},  // mlp_ratio = 64/13
    // CLIP with QuickGELU (OpenAI / MetaCLIP / DFN weights): default tags are the image-text
    // embedding projections (512 / 768 / 1024 outputs).
    {"vit_base_patch32_clip_quickgelu_224", CLIP(32, B_VIT, QUICK), 224, 512, Stats::OpenAiClip, 0.9, 1e-5},
    {"vit_base_patch16_clip_quickgelu_224", CLIP(16, B_VIT, QUICK), 224, 512, Stats::OpenAiClip, 0.9, 1e-5},
    {"vit_large_patch14_clip_quickgelu_224", CLIP(14, L_VIT, QUICK), 224, 768, Stats::OpenAiClip, 0.9, 1e-5},
    {"vit_large_patch14_clip_quickgelu_336", CLIP(14, L_VIT, QUICK), 336, 768, Stats::OpenAiClip, 1.0, 1e-5},
    {"vit_huge_patch14_clip_quickgelu_224", CLIP(14, H_VIT, QUICK), 224, 1024, Stats::OpenAiClip, 0.9, 1e-5},
    {"vit_huge_patch14_clip_quickgelu_378", CLIP(14, H_VIT, QUICK), 378, 1024, Stats::OpenAiClip, 1.0, 1e-5},
    // SigLIP image towers: no class token, attention pooling; features out by default.
    {"vit_base_patch16_siglip_224", SIGLIP(16, B_VIT, ""), 224, 0, Stats::Half, 0.9, 1e-6},
    {"vit_base_patch16_siglip_256", SIGLIP(16, B_VIT, ""), 256, 0, Stats::Half, 0.9, 1e-6},
    {"vit_base_patch16_siglip_384", SIGLIP(16, B_VIT, ""), 384, 0, Stats::Half, 1.0, 1e-6},
    {"vit_base_patch16_siglip_512", SIGLIP(16, B_VIT, ""), 512, 0, Stats::Half, 1.0, 1e-6},
    {"vit_large_patch16_siglip_256", SIGLIP(16, L_VIT, ""), 256, 0, Stats::Half, 0.9, 1e-6},
    {"vit_large_patch16_siglip_384", SIGLIP(16, L_VIT, ""), 384, 0, Stats::Half, 1.0, 1e-6},
    {"vit_so400m_patch14_siglip_224", SIGLIP(14, "\"embed_dim\":1152,\"depth\":27,\"num_heads\":16,\"mlp_ratio\":3.7362", ""),
     224, 0, Stats::Half, 0.9, 1e-6},
    // Global average pooling, no class token (LayerScale, no qkv bias, final norm before pooling).
    {"vit_medium_patch16_gap_240", GAP_M, 240, 1000, Stats::Half, 0.95, 1e-6},
    {"vit_medium_patch16_gap_256", GAP_M, 256, 1000, Stats::Half, 0.95, 1e-6},
    {"vit_medium_patch16_gap_384", GAP_M, 384, 1000, Stats::Half, 0.95, 1e-6},
    // Registers without a class token: average pooling (fc_norm) or attention pooling.
    {"vit_base_patch16_reg4_gap_256",
     "{\"patch_size\":16," B_VIT ",\"img_size\":256,\"class_token\":false,\"no_embed_class\":true,\"reg_tokens\":4,"
     "\"global_pool\":\"avg\"}",
     256, 1000, Stats::Half, 0.9, 1e-6},
    {"vit_so150m_patch16_reg4_map_256",
     "{\"patch_size\":16,\"embed_dim\":896,\"depth\":18,\"num_heads\":14,\"mlp_ratio\":2.572,\"class_token\":false,"
     "\"reg_tokens\":4,\"global_pool\":\"map\"}",
     256, 1000, Stats::Half, 0.9, 1e-6},
};

#undef DINOV2
#undef CLIP
#undef S_DINO
#undef B_VIT
#undef L_VIT
#undef H_VIT
#undef QUICK
#undef REG4
#undef SIGLIP
#undef GAP_M

// Names timm has but pomt refuses, with the reason.
struct Refused {
    const char* name;
    const char* why;
};
const Refused kRefused[] = {
    {"vit_giant_patch14_dinov2", "its SwiGLU MLP is not supported"},
    {"vit_giant_patch14_reg4_dinov2", "its SwiGLU MLP is not supported"},
    {"vit_so400m_patch14_siglip_384", "384 is not a multiple of its patch size 14 (timm drops the remainder)"},
};

const NamedArchitecture* find_named(const std::string& name) {
    for (const NamedArchitecture& a : kNamed)
        if (name == a.name) return &a;
    return nullptr;
}

int int_field(const json::Value& v, const std::string& what, int lo, int hi) {
    int64_t x = v.as_int(what);
    if (x < lo || x > hi) fail(what + " = " + std::to_string(x) + " is outside [" + std::to_string(lo) + ", " +
                               std::to_string(hi) + "]");
    return int(x);
}

// timm's VisionTransformer kwargs as they accumulate (the name's, then config.json's); the derived
// fields (mlp_hidden, fc_norm's default) are settled by finish().
struct TimmArgs {
    ModelConfig c;
    double mlp_ratio = 4.0;
    bool fc_norm_given = false;  // timm's fc_norm=None: LayerNorm after pooling iff global_pool == 'avg'
};

// One timm kwarg; anything pomt cannot honour is refused, naming the key.
void apply_arg(TimmArgs* a, const std::string& k, const json::Value& val, const std::string& w) {
    ModelConfig& c = a->c;
    if (k == "embed_dim") c.embed_dim = int_field(val, w, 1, 16384);
    else if (k == "depth") c.depth = int_field(val, w, 1, 256);
    else if (k == "num_heads") c.num_heads = int_field(val, w, 1, 16384);
    else if (k == "mlp_ratio") {
        a->mlp_ratio = val.as_number(w);
        if (!(a->mlp_ratio > 0 && a->mlp_ratio <= 64)) fail(w + " must be in (0, 64]");
    } else if (k == "patch_size") c.patch_size = int_field(val, w, 1, 4096);
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
    else if (k == "act_layer") {
        c.act_layer = val.as_string(w);
        if (c.act_layer != "gelu" && c.act_layer != "quick_gelu")
            fail(w + " '" + c.act_layer + "' is not supported (gelu, quick_gelu)");
    } else if (k == "fc_norm") {
        a->fc_norm_given = !val.is_null();
        if (a->fc_norm_given) c.fc_norm = val.as_bool(w);
    } else if (k == "final_norm") {
        if (!val.as_bool(w)) fail(w + " = false is not supported");
    } else if (k == "pool_include_prefix") {
        if (val.as_bool(w)) fail(w + " = true is not supported");
    } else if (k == "dynamic_img_size" || k == "drop_rate" || k == "attn_drop_rate" || k == "proj_drop_rate" ||
               k == "drop_path_rate" || k == "pos_drop_rate" || k == "patch_drop_rate") {
        // Dropout is inactive at inference; pomt runs the model at its own img_size.
    } else {
        fail(w + " is not supported by pomt");
    }
}

void apply_args(TimmArgs* a, const json::Value& args, const std::string& what) {
    for (const auto& kv : args.as_object(what)) apply_arg(a, kv.first, kv.second, what + "." + kv.first);
}

ModelConfig finish(TimmArgs a) {
    ModelConfig& c = a.c;
    c.mlp_hidden = int(double(c.embed_dim) * a.mlp_ratio);  // Python's int(dim * mlp_ratio)
    if (!a.fc_norm_given) c.fc_norm = c.global_pool == "avg";
    c.validate();
    return c;
}

std::string shown(const std::string& s) { return s.size() > 80 ? s.substr(0, 80) + "..." : s; }

std::string unknown_architecture_message(const std::string& full_name) {
    const std::vector<std::string> near = suggest_architectures(full_name);
    const std::string listing = "every name: pomt info --architectures, or pomt.architectures() in Python";
    if (!near.empty())
        return "unknown architecture '" + shown(full_name) + "': did you mean " + or_list(near) + "? (" + listing + ")";
    return "unknown architecture '" + shown(full_name) + "': not a timm VisionTransformer pomt knows (" + listing +
           "; config.json's model_args give other dimensions)";
}

TimmArgs args_for_architecture(const std::string& full_name) {
    const std::string name = full_name.substr(0, full_name.find('.'));
    TimmArgs a;
    ModelConfig& c = a.c;
    c.architecture = full_name;
    if (const NamedArchitecture* n = find_named(name)) {
        c.img_size = n->img_size;
        c.num_classes = n->num_classes;
        c.ln_eps = n->ln_eps;
        apply_args(&a, json::parse(n->model_args, n->name), std::string("model_args of ") + n->name);
        return a;
    }
    for (const Refused& r : kRefused)
        if (name == r.name) fail("architecture '" + name + "' is not supported: " + r.why);
    std::smatch m;
    // Length-checked first: libstdc++'s std::regex recurses once per character, so a long name (a
    // hostile config.json) would overflow the stack; the {1,4} digit bounds keep std::stoi in range.
    if (name.size() > 64 || !std::regex_match(name, m, arch_regex()))
        fail(unknown_architecture_message(full_name));
    for (const Size& s : kSizes)
        if (m[2] == s.name) {
            c.embed_dim = s.embed_dim;
            c.depth = s.depth;
            c.num_heads = s.num_heads;
        }
    c.patch_size = std::stoi(m[4]);
    c.img_size = std::stoi(m[5]);
    c.distilled = m[3].matched;
    if (c.distilled && m[1] != "deit") fail("unknown architecture '" + full_name + "': only deit_ has _distilled");
    if (m[1] == "deit3") {
        c.no_embed_class = true;
        c.layer_scale = true;
    }
    return a;
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
    for (const NamedArchitecture& n : kNamed) names.push_back(n.name);
    return names;
}

std::vector<std::string> suggest_architectures(const std::string& name) {
    return nearest_names(name.substr(0, name.find('.')), known_architectures());
}

ModelConfig config_for_architecture(const std::string& full_name) { return finish(args_for_architecture(full_name)); }

PreprocessConfig default_preprocess_for(const ModelConfig& cfg) {
    PreprocessConfig p;
    p.input_size[1] = p.input_size[2] = cfg.img_size;
    const std::string name = cfg.architecture.substr(0, cfg.architecture.find('.'));
    if (const NamedArchitecture* n = find_named(name)) {
        p.crop_pct = n->crop_pct;
        static const double kClipMean[3] = {0.48145466, 0.4578275, 0.40821073};
        static const double kClipStd[3] = {0.26862954, 0.26130258, 0.27577711};
        for (int i = 0; i < 3; ++i) {
            if (n->stats == Stats::Half) p.mean[i] = p.std[i] = 0.5;
            if (n->stats == Stats::OpenAiClip) p.mean[i] = kClipMean[i], p.std[i] = kClipStd[i];
        }
        return p;
    }
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
    TimmArgs a = args_for_architecture(arch);
    if (const json::Value* f = hub.find("num_classes")) a.c.num_classes = int_field(*f, what + ": num_classes", 0, 100000);
    if (const json::Value* f = hub.find("global_pool"))
        if (f->is_string()) a.c.global_pool = f->as_string("");
    if (const json::Value* args = hub.find("model_args")) apply_args(&a, *args, what + ": model_args");
    ModelConfig c = finish(a);

    PreprocessConfig p = default_preprocess_for(c);
    if (const json::Value* pc = hub.find("pretrained_cfg")) p = PreprocessConfig::from_json(*pc, what + ": pretrained_cfg");
    if (p.input_size[1] != c.img_size || p.input_size[2] != c.img_size)
        fail(what + ": pretrained_cfg input_size " + std::to_string(p.input_size[1]) + "x" +
             std::to_string(p.input_size[2]) + " does not match the model's img_size " + std::to_string(c.img_size));
    *model = c;
    *pre = p;
}

}  // namespace pomt
