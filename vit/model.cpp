#include "vit/model.h"

#include <cmath>

#include "core/splitmix64.h"
#include "kernels/gemm_bf16.h"
#include "pomt/error.h"
#include "vit/imagenet_classes.h"

namespace pomt {

namespace {

int64_t numel_of(const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Values in the spirit of timm's init (small weights, unit LayerNorm scale) so random models
// produce finite, non-degenerate activations.
std::vector<float> random_values(const TensorSpec& spec, SplitMix64& rng) {
    std::vector<float> v(size_t(numel_of(spec.shape)));
    const std::string& n = spec.name;
    bool norm = n.find("norm") != std::string::npos;
    if (norm && ends_with(n, ".weight")) {
        for (float& x : v) x = 1.0f;
    } else if (ends_with(n, ".bias")) {
        for (float& x : v) x = 0.0f;
    } else if (ends_with(n, ".gamma")) {
        for (float& x : v) x = 0.1f;
    } else {
        for (float& x : v) x = float((rng.uniform() * 2 - 1) * 0.035);  // std ≈ 0.02
    }
    return v;
}

}  // namespace

const float* Model::tensor(const std::string& name) const {
    for (const NamedTensor& t : by_name_)
        if (t.name == name) return t.linear ? linear_weight(*t.linear) : t.data;
    return nullptr;
}

const float* Model::linear_weight(const LinearParams& p) const {
    if (p.packed.original) return p.packed.original;
    std::lock_guard<std::mutex> lock(unpack_mutex_);
    std::vector<float>& w = unpacked_[&p];
    if (w.empty()) {
        w.resize(size_t(p.packed.n) * p.packed.k);
        if (p.is_int8()) dequantize_weights(p.int8, w.data());
        else if (p.packed.bf16) unpack_bf16_panels(p.packed.bf16, p.packed.n, p.packed.k, w.data());
        else unpack_panels(p.packed.panels, p.packed.n, p.packed.k, w.data());
    }
    return w.data();
}

void Model::bind(const std::function<StoredTensor(const std::string&)>& lookup) {
    const ModelConfig& c = meta_.model;
    auto get = [&](const std::string& name) { return lookup(name).data; };
    auto linear = [&](const std::string& prefix, int out, int in, bool bias) {
        LinearParams p;
        p.bias = bias ? get(prefix + ".bias") : nullptr;
        const StoredTensor w = lookup(prefix + ".weight");
        if (!w.int8.empty()) {
            p.int8 = w.int8;
            p.packed.n = out;
            p.packed.k = in;
            return p;
        }
        if (w.bf16) {
            p.packed = borrow_bf16_panels(w.bf16, out, in);
            return p;
        }
        if (!w.panels) {
            p.packed = pack_weights(w.data, out, in);  // random weights, version 1 files
            return p;
        }
        p.packed = borrow_panels(w.data, out, in);
        if (gemm_uses_row_major_weights()) {
            // The OpenBLAS build multiplies row-major weights: one unpacked copy, made here at load.
            owned_.emplace_back(size_t(out) * in);
            unpack_panels(w.data, out, in, owned_.back().data());
            p.packed.original = owned_.back().data();
        }
        return p;
    };
    auto ln = [&](const std::string& prefix) { return LayerNormParams{get(prefix + ".weight"), get(prefix + ".bias")}; };
    const int D = c.embed_dim, H = c.mlp_hidden;
    cls_token = get("cls_token");
    dist_token = get("dist_token");
    reg_token = get("reg_token");
    pos_embed = get("pos_embed");
    patch_embed = linear("patch_embed.proj", D, c.in_chans * c.patch_size * c.patch_size, !c.pre_norm);
    if (c.pre_norm) norm_pre = ln("norm_pre");
    for (int i = 0; i < c.depth; ++i) {
        std::string b = "blocks." + std::to_string(i) + ".";
        BlockParams bp;
        bp.norm1 = ln(b + "norm1");
        bp.norm2 = ln(b + "norm2");
        bp.qkv = linear(b + "attn.qkv", 3 * D, D, c.qkv_bias);
        bp.proj = linear(b + "attn.proj", D, D, true);
        bp.fc1 = linear(b + "mlp.fc1", H, D, true);
        bp.fc2 = linear(b + "mlp.fc2", D, H, true);
        bp.ls1 = get(b + "ls1.gamma");
        bp.ls2 = get(b + "ls2.gamma");
        blocks.push_back(std::move(bp));
    }
    if (c.fc_norm) fc_norm = ln("fc_norm");
    else norm = ln("norm");
    if (c.global_pool == "map") {
        attn_pool.latent = get("attn_pool.latent");
        attn_pool.q = linear("attn_pool.q", D, D, true);
        attn_pool.kv = linear("attn_pool.kv", 2 * D, D, true);
        attn_pool.proj = linear("attn_pool.proj", D, D, true);
        attn_pool.norm = ln("attn_pool.norm");
        attn_pool.fc1 = linear("attn_pool.mlp.fc1", H, D, true);
        attn_pool.fc2 = linear("attn_pool.mlp.fc2", D, H, true);
    }
    if (c.num_classes > 0) {
        head = linear("head", c.num_classes, D, true);
        if (c.distilled) head_dist = linear("head_dist", c.num_classes, D, true);
    }

    // The name table last: every LinearParams has its final address now.
    std::map<std::string, const LinearParams*> linears = {
        {"patch_embed.proj.weight", &patch_embed}, {"head.weight", &head}, {"head_dist.weight", &head_dist},
        {"attn_pool.q.weight", &attn_pool.q}, {"attn_pool.kv.weight", &attn_pool.kv},
        {"attn_pool.proj.weight", &attn_pool.proj}, {"attn_pool.mlp.fc1.weight", &attn_pool.fc1},
        {"attn_pool.mlp.fc2.weight", &attn_pool.fc2}};
    for (int i = 0; i < c.depth; ++i) {
        const std::string b = "blocks." + std::to_string(i) + ".";
        linears[b + "attn.qkv.weight"] = &blocks[size_t(i)].qkv;
        linears[b + "attn.proj.weight"] = &blocks[size_t(i)].proj;
        linears[b + "mlp.fc1.weight"] = &blocks[size_t(i)].fc1;
        linears[b + "mlp.fc2.weight"] = &blocks[size_t(i)].fc2;
    }
    for (const TensorSpec& s : expected_tensors(c)) {
        if (s.linear) by_name_.push_back({s.name, nullptr, linears.at(s.name)});
        else by_name_.push_back({s.name, get(s.name), nullptr});
    }
}

std::shared_ptr<const Model> Model::load(const std::string& path) {
    std::shared_ptr<Model> m(new Model());
    m->file_ = std::make_unique<WeightsFile>(path);
    m->meta_ = m->file_->meta();
    const WeightsFile& f = *m->file_;
    m->bind([&](const std::string& name) -> StoredTensor {
        const WeightsTensor* t = f.tensor(name);
        if (!t) return {};
        if (t->dtype == TensorDtype::BF16) {  // a bf16 weight (version 4): panels borrowed from the mapping
            StoredTensor s;
            s.bf16 = static_cast<const uint16_t*>(t->bytes());
            return s;
        }
        if (t->dtype != TensorDtype::I8) return {t->data, t->layout == TensorLayout::Panels16, {}, nullptr};
        // An int8 weight (version 3): panels, scales and sums borrowed from the mapping.
        StoredTensor s;
        s.int8.n = int(t->shape[0]);
        s.int8.k = int(numel_of(t->shape) / t->shape[0]);
        s.int8.panels = static_cast<const int8_t*>(t->bytes());
        s.int8.scale = f.tensor(int8_scale_name(name))->data;
        s.int8.sum = static_cast<const int32_t*>(f.tensor(int8_sum_name(name))->bytes());
        return s;
    });
    return m;
}

std::shared_ptr<const Model> Model::random(const ModelConfig& config, uint64_t seed) {
    config.validate();
    WeightsMeta meta;
    meta.model = config;
    meta.preprocess = default_preprocess_for(config);
    if (config.num_classes == 1000)
        for (int i = 0; i < 1000; ++i) meta.class_names.push_back(std::string(imagenet_class_entry(i)).substr(10));
    SplitMix64 rng{seed};
    return from_values(meta, [&](const TensorSpec& s) { return random_values(s, rng); });
}

std::shared_ptr<const Model> Model::from_values(const WeightsMeta& meta,
                                                const std::function<std::vector<float>(const TensorSpec&)>& values) {
    meta.model.validate();
    std::shared_ptr<Model> m(new Model());
    m->meta_ = meta;
    std::vector<TensorSpec> specs = expected_tensors(meta.model);
    m->owned_.reserve(specs.size());
    for (const TensorSpec& s : specs) {
        m->owned_.push_back(values(s));
        if (int64_t(m->owned_.back().size()) != numel_of(s.shape)) fail("wrong size for tensor '" + s.name + "'");
    }
    m->bind([&](const std::string& name) -> StoredTensor {
        for (size_t i = 0; i < specs.size(); ++i)
            if (specs[i].name == name) return {m->owned_[i].data(), false, {}, nullptr};
        return {};
    });
    return m;
}

std::shared_ptr<Model> Model::with_linears(const WeightsMeta& meta,
                                           const std::function<std::vector<float>(const TensorSpec&)>& values,
                                           const std::function<StoredTensor(const float* w, int n, int k)>& linear) {
    meta.model.validate();
    std::shared_ptr<Model> m(new Model());
    m->meta_ = meta;
    std::vector<TensorSpec> specs = expected_tensors(meta.model);
    std::vector<StoredTensor> stored(specs.size());
    m->owned_.reserve(specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
        std::vector<float> v = values(specs[i]);
        if (int64_t(v.size()) != numel_of(specs[i].shape)) fail("wrong size for tensor '" + specs[i].name + "'");
        if (specs[i].linear) {
            const int n = int(specs[i].shape[0]), k = int(numel_of(specs[i].shape) / n);
            stored[i] = linear(v.data(), n, k);
            v.clear();
        }
        m->owned_.push_back(std::move(v));
        if (!specs[i].linear) stored[i].data = m->owned_.back().data();
    }
    m->bind([&](const std::string& name) -> StoredTensor {
        for (size_t i = 0; i < specs.size(); ++i)
            if (specs[i].name == name) return stored[i];
        return {};
    });
    return m;
}

std::shared_ptr<const Model> Model::quantized(const WeightsMeta& meta,
                                              const std::function<std::vector<float>(const TensorSpec&)>& values) {
    return with_linears(meta, values, [](const float* w, int n, int k) {
        StoredTensor t;
        t.int8 = quantize_weights(w, n, k);  // owns its arrays
        return t;
    });
}

std::shared_ptr<const Model> Model::bf16(const WeightsMeta& meta,
                                         const std::function<std::vector<float>(const TensorSpec&)>& values) {
    if (meta.quantization.precision != "bf16") fail("internal: Model::bf16 needs precision \"bf16\"");
    std::vector<AlignedFloats> panels;
    std::shared_ptr<Model> m = with_linears(meta, values, [&](const float* w, int n, int k) {
        PackedWeights p = pack_bf16_weights(w, n, k);
        StoredTensor t;
        t.bf16 = p.bf16;
        panels.push_back(std::move(p.storage));
        return t;
    });
    m->bf16_storage_ = std::move(panels);  // the panels live as long as the model
    return m;
}

std::shared_ptr<const Model> Model::random(const std::string& architecture, uint64_t seed) {
    return random(config_for_architecture(architecture), seed);
}

const LinearParams* Model::linear_params(const std::string& weight_name) const {
    for (const NamedTensor& t : by_name_)
        if (t.name == weight_name) return t.linear;
    return nullptr;
}

void save_model(const Model& model, const std::string& path) {
    auto values = [&](const TensorSpec& s) { return model.tensor_values(s); };
    if (model.is_bf16())
        return write_bf16_weights_file(path, model.meta(), values, [&](const TensorSpec& s) -> const uint16_t* {
            const LinearParams* p = model.linear_params(s.name);
            return p ? p->packed.bf16 : nullptr;
        });
    if (!model.is_int8()) return write_weights_file(path, model.meta(), values);
    write_quantized_weights_file(path, model.meta(), values, [&](const TensorSpec& s) -> const Int8Weights* {
        const LinearParams* p = model.linear_params(s.name);
        return p && p->is_int8() ? &p->int8 : nullptr;
    });
}

std::vector<float> Model::tensor_values(const TensorSpec& spec) const {
    const float* p = tensor(spec.name);
    if (!p) fail("model has no tensor '" + spec.name + "'");
    return std::vector<float>(p, p + numel_of(spec.shape));
}

}  // namespace pomt
