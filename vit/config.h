// Model and preprocessing configuration of a timm VisionTransformer, resolved from a timm
// architecture name (the head count is not in the tensors) plus config.json's overrides.
#pragma once
#include <string>
#include <vector>

#include "core/json.h"

namespace pomt {

struct ModelConfig {
    std::string architecture;  // timm name, e.g. "deit_tiny_patch16_224"
    int img_size = 224;
    int patch_size = 16;
    int in_chans = 3;
    int embed_dim = 0;
    int depth = 0;
    int num_heads = 0;
    int mlp_hidden = 0;  // int(embed_dim · mlp_ratio), as timm computes it
    int num_classes = 1000;
    bool qkv_bias = true;
    bool class_token = true;
    bool distilled = false;       // DeiT distillation token + head_dist; eval output = mean of heads
    int reg_tokens = 0;           // register tokens (timm reg_tokens)
    bool no_embed_class = false;  // pos_embed covers patches only (deit3)
    bool layer_scale = false;     // ls1/ls2 gamma present (init_values set)
    bool pre_norm = false;        // norm_pre LayerNorm before the blocks; patch embedding has no bias
    // "token" (the class token), "avg" (mean of the non-prefix tokens) or "map" (timm's
    // AttentionPoolLatent: a learned latent query attends to every token, then LayerNorm + MLP).
    std::string global_pool = "token";
    bool fc_norm = false;         // LayerNorm after pooling instead of before (timm: default for "avg")
    double ln_eps = 1e-6;         // timm's LayerNorm: 1e-6; CLIP's nn.LayerNorm: 1e-5
    std::string act_layer = "gelu";  // the MLPs' activation: "gelu" (exact erf) or "quick_gelu" (x·σ(1.702x))

    int head_dim() const { return embed_dim / num_heads; }
    int grid() const { return img_size / patch_size; }
    int num_patches() const { return grid() * grid(); }
    int num_prefix_tokens() const { return (class_token ? 1 : 0) + (distilled ? 1 : 0) + reg_tokens; }
    int num_tokens() const { return num_patches() + num_prefix_tokens(); }
    // Tokens no pruning method may drop or merge away in ToMe's rule: the class and distillation
    // tokens (registers are merged like patches, as facebookresearch/ToMe does).
    int num_protected_tokens() const { return (class_token ? 1 : 0) + (distilled ? 1 : 0); }
    bool quick_gelu() const { return act_layer == "quick_gelu"; }
    int pos_embed_len() const { return no_embed_class ? num_patches() : num_tokens(); }

    // Throws pomt::Error when the combination is not a model pomt can run.
    void validate() const;
    json::Value to_json() const;
    static ModelConfig from_json(const json::Value& v, const std::string& what);
};

struct PreprocessConfig {
    int input_size[3] = {3, 224, 224};  // C, H, W
    std::string interpolation = "bicubic";
    double crop_pct = 0.875;
    std::string crop_mode = "center";
    double mean[3] = {0.485, 0.456, 0.406};
    double std[3] = {0.229, 0.224, 0.225};

    json::Value to_json() const;
    static PreprocessConfig from_json(const json::Value& v, const std::string& what);
};

// The architecture as timm defines it for `name` (a pretrained tag after '.' is ignored), with the
// image size and class count of the name's default pretrained_cfg, as timm.create_model(name) builds
// it; throws pomt::Error for a name pomt does not know rather than guess a head count.
ModelConfig config_for_architecture(const std::string& name);

// Names of the architectures pomt knows (for messages and `pomt info --architectures`): the classic
// family at patch 16 and 32, 224 and 384 pixels (other _patchP_IMG sizes resolve too), then the
// DINOv2, CLIP, SigLIP, _gap_ and _reg4_ names.
std::vector<std::string> known_architectures();
// The known names closest to `name` (its pretrained tag ignored), closest first, at most three;
// empty when none is close. The unknown-architecture message offers them.
std::vector<std::string> suggest_architectures(const std::string& name);

// Resolves a hub config.json: architecture, then model_args / num_classes / global_pool overrides.
// `arch_override` (from --arch) replaces the "architecture" field when non-empty.
void config_from_hub_json(const json::Value& hub, const std::string& arch_override, const std::string& what,
                          ModelConfig* model, PreprocessConfig* pre);

// Default preprocessing of an architecture when there is no config.json (timm's defaults).
PreprocessConfig default_preprocess_for(const ModelConfig& cfg);

struct TensorSpec {
    std::string name;
    std::vector<int64_t> shape;
    // A Linear weight: [out × in…] viewed as [shape[0] × the rest], stored as GEMM panels from
    // .pomt format version 2 on (patch_embed.proj, qkv, proj, fc1, fc2, head, head_dist, and the
    // attention pool's q, kv, proj, mlp.fc1, mlp.fc2).
    bool linear = false;
};
// Every tensor the model has, in a fixed order, with timm names and shapes.
std::vector<TensorSpec> expected_tensors(const ModelConfig& cfg);

}  // namespace pomt
