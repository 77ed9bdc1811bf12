// The plain reference forward pass (see forward.h). Deliberately simple: one image at a time,
// one token at a time, the reference kernels only.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/attention.h"
#include "kernels/attention_bf16.h"
#include "kernels/attention_int8.h"
#include "kernels/bf16.h"
#include "kernels/gemm.h"
#include "kernels/norms.h"
#include "kernels/quantize.h"
#include "vit/forward.h"
#include "vit/layers.h"

namespace pomt {

void unfold_patches(const float* image, int channels, int img_size, int patch, float* out) {
    const int grid = img_size / patch, k = channels * patch * patch;
    for (int gy = 0; gy < grid; ++gy)
        for (int gx = 0; gx < grid; ++gx) {
            float* row = out + size_t(gy * grid + gx) * k;
            for (int c = 0; c < channels; ++c)
                for (int py = 0; py < patch; ++py)
                    for (int px = 0; px < patch; ++px)
                        *row++ = image[(size_t(c) * img_size + gy * patch + py) * img_size + gx * patch + px];
        }
}

namespace {

// What an int8 Linear reads: its input rows quantized per row (x ≈ scale·q + offset,
// kernels/quantize.h), as floats.
std::vector<float> quantized_input(const float* in, int rows, int in_dim) {
    QuantizedRows q;
    std::vector<int8_t> values(size_t(rows) * quantized_row_bytes(in_dim));
    std::vector<float> scale(rows), offset(rows), out(size_t(rows) * in_dim);
    q.rows = rows;
    q.k = in_dim;
    q.ld = quantized_row_bytes(in_dim);
    q.q = values.data();
    q.scale = scale.data();
    q.offset = offset.data();
    quantize_rows_reference(in, in_dim, rows, in_dim, q);
    for (int r = 0; r < rows; ++r) dequantize_row(q, r, out.data() + size_t(r) * in_dim);
    return out;
}

// The reference multiplies the PyTorch-layout weight, never the panels the fast path reads. An
// int8 Linear (Model::quantized) is simulated: its input quantized per row, its weight dequantized
// (scale·wq, Model::linear_weight), the products summed in double; a bf16 one likewise with its input
// rounded to bf16 and its weight widened.
void linear_ref(const Model& model, const LinearParams& p, const float* in, int rows, int in_dim, int out_dim,
                float* out) {
    Epilogue ep;
    ep.bias = p.bias;
    std::vector<float> simulated;
    if (p.is_int8()) simulated = quantized_input(in, rows, in_dim);
    if (p.packed.is_bf16())  // a bf16 Linear: its input rounded to bf16, its weight widened
        for (size_t i = 0; i < size_t(rows) * in_dim; ++i) simulated.push_back(round_to_bf16(in[i]));
    gemm_reference(rows, out_dim, in_dim, simulated.empty() ? in : simulated.data(), in_dim, model.linear_weight(p),
                   in_dim, out, out_dim, ep);
}

// timm's AttentionPoolLatent.forward on one image's tokens x [n × D] (latent_len 1, so its 'token'
// pooling is the one latent row):
//   q = q(latent); k, v = kv(x); o = softmax(q·kᵀ/√hd)·v per head; o = proj(o); o = o + mlp(norm(o)).
std::vector<float> attention_pool_reference(const Model& model, const float* x, int n) {
    const ModelConfig& c = model.config();
    const AttnPoolParams& ap = model.attn_pool;
    const int D = c.embed_dim, heads = c.num_heads, hd = c.head_dim(), H = c.mlp_hidden;
    std::vector<float> q(D), kv(size_t(n) * 2 * D), o(D), y(D), h(D), mlp(H);
    linear_ref(model, ap.q, ap.latent, 1, D, D, q.data());
    linear_ref(model, ap.kv, x, n, D, 2 * D, kv.data());
    for (int hh = 0; hh < heads; ++hh) {
        std::vector<double> logits(n);
        double mx = -HUGE_VAL;
        for (int j = 0; j < n; ++j) {
            double s = 0;
            for (int d = 0; d < hd; ++d) s += double(q[hh * hd + d]) * kv[size_t(j) * 2 * D + hh * hd + d];
            logits[j] = s / std::sqrt(double(hd));
            mx = std::max(mx, logits[j]);
        }
        double z = 0;
        for (int j = 0; j < n; ++j) z += (logits[j] = std::exp(logits[j] - mx));
        for (int d = 0; d < hd; ++d) {
            double s = 0;
            for (int j = 0; j < n; ++j) s += logits[j] / z * kv[size_t(j) * 2 * D + D + hh * hd + d];
            o[hh * hd + d] = float(s);
        }
    }
    linear_ref(model, ap.proj, o.data(), 1, D, D, y.data());
    layernorm_reference(y.data(), D, h.data(), D, 1, D, ap.norm.weight, ap.norm.bias, float(c.ln_eps));
    linear_ref(model, ap.fc1, h.data(), 1, D, H, mlp.data());
    const Activation act = hidden_activation(c, ap.fc1, ap.fc2);  // GELU to 8.1e-5 between int8 Linears
    for (float& v : mlp) v = activation_reference(act, v);
    linear_ref(model, ap.fc2, mlp.data(), 1, H, D, h.data());
    for (int d = 0; d < D; ++d) y[d] += h[d];
    return y;
}

}  // namespace

std::vector<float> forward_reference(const Model& model, const float* images, int batch) {
    const ModelConfig& c = model.config();
    const int D = c.embed_dim, n = c.num_tokens(), prefix = c.num_prefix_tokens(), np = c.num_patches();
    const int heads = c.num_heads, hd = c.head_dim(), H = c.mlp_hidden;
    const int K = c.in_chans * c.patch_size * c.patch_size;
    const float eps = float(c.ln_eps);
    const int outputs = c.num_classes > 0 ? c.num_classes : D;
    std::vector<float> logits(size_t(batch) * outputs);

    std::vector<float> patches(size_t(np) * K), x(size_t(n) * D), h(size_t(n) * D), qkv(size_t(n) * 3 * D);
    std::vector<float> attn(size_t(n) * D), tmp(size_t(n) * D), mlp(size_t(n) * H);
    for (int b = 0; b < batch; ++b) {
        const float* img = images + size_t(b) * c.in_chans * c.img_size * c.img_size;
        unfold_patches(img, c.in_chans, c.img_size, c.patch_size, patches.data());
        linear_ref(model, model.patch_embed, patches.data(), np, K, D, x.data() + size_t(prefix) * D);

        // Prefix tokens in timm's order: class, distillation, registers.
        int t = 0;
        if (c.class_token) std::copy(model.cls_token, model.cls_token + D, x.begin() + size_t(t++) * D);
        if (c.distilled) std::copy(model.dist_token, model.dist_token + D, x.begin() + size_t(t++) * D);
        for (int r = 0; r < c.reg_tokens; ++r)
            std::copy(model.reg_token + size_t(r) * D, model.reg_token + size_t(r + 1) * D, x.begin() + size_t(t++) * D);
        // Position embedding: all tokens, or only the patches when no_embed_class (deit3).
        const int pos_first = c.no_embed_class ? prefix : 0;
        for (int i = pos_first; i < n; ++i)
            for (int d = 0; d < D; ++d) x[size_t(i) * D + d] += model.pos_embed[size_t(i - pos_first) * D + d];
        if (c.pre_norm)
            layernorm_reference(x.data(), D, x.data(), D, n, D, model.norm_pre.weight, model.norm_pre.bias, eps);

        for (const BlockParams& bp : model.blocks) {
            layernorm_reference(x.data(), D, h.data(), D, n, D, bp.norm1.weight, bp.norm1.bias, eps);
            linear_ref(model, bp.qkv, h.data(), n, D, 3 * D, qkv.data());
            for (int hh = 0; hh < heads; ++hh) {
                AttentionHead a;
                a.tokens = n;
                a.head_dim = hd;
                a.scale = 1.0f / std::sqrt(float(hd));
                a.q = qkv.data() + hh * hd;
                a.k = qkv.data() + D + hh * hd;
                a.v = qkv.data() + 2 * D + hh * hd;
                a.ld_qkv = 3 * D;
                a.out = attn.data() + hh * hd;
                a.ld_out = D;
                // An int8 model's attention: Q, K, V and the probabilities quantized, as the Session does.
                if (model.int8_attention()) attention_head_int8_reference(a);
                else if (model.bf16_attention()) attention_head_bf16_reference(a);  // Q, K, V, P rounded
                else attention_head_reference(a);
            }
            linear_ref(model, bp.proj, attn.data(), n, D, D, tmp.data());
            for (int i = 0; i < n; ++i)
                for (int d = 0; d < D; ++d) x[size_t(i) * D + d] += (bp.ls1 ? bp.ls1[d] : 1.0f) * tmp[size_t(i) * D + d];
            layernorm_reference(x.data(), D, h.data(), D, n, D, bp.norm2.weight, bp.norm2.bias, eps);
            linear_ref(model, bp.fc1, h.data(), n, D, H, mlp.data());
            const Activation act = hidden_activation(c, bp.fc1, bp.fc2);  // GELU to 8.1e-5 between int8 Linears
            for (float& v : mlp) v = activation_reference(act, v);
            linear_ref(model, bp.fc2, mlp.data(), n, H, D, tmp.data());
            for (int i = 0; i < n; ++i)
                for (int d = 0; d < D; ++d) x[size_t(i) * D + d] += (bp.ls2 ? bp.ls2[d] : 1.0f) * tmp[size_t(i) * D + d];
        }

        // Final norm (per token), pooling, then fc_norm and the head(s).
        if (!c.fc_norm) layernorm_reference(x.data(), D, x.data(), D, n, D, model.norm.weight, model.norm.bias, eps);
        std::vector<float> pooled(D), pooled_dist(D);
        if (c.global_pool == "map") {
            // timm (pool_include_prefix=False) gives the pool the patch tokens only, registers excluded.
            pooled = attention_pool_reference(model, x.data() + size_t(prefix) * D, n - prefix);
        } else if (c.global_pool == "avg") {
            for (int d = 0; d < D; ++d) {
                double s = 0;
                for (int i = prefix; i < n; ++i) s += x[size_t(i) * D + d];
                pooled[d] = float(s / (n - prefix));
            }
        } else {
            std::copy(x.begin(), x.begin() + D, pooled.begin());
            if (c.distilled) std::copy(x.begin() + D, x.begin() + 2 * D, pooled_dist.begin());
        }
        if (c.fc_norm) layernorm_reference(pooled.data(), D, pooled.data(), D, 1, D, model.fc_norm.weight, model.fc_norm.bias, eps);
        float* out = logits.data() + size_t(b) * outputs;
        if (c.num_classes == 0) {
            std::copy(pooled.begin(), pooled.end(), out);
            continue;
        }
        linear_ref(model, model.head, pooled.data(), 1, D, c.num_classes, out);
        if (c.distilled) {
            std::vector<float> second(c.num_classes);
            linear_ref(model, model.head_dist, pooled_dist.data(), 1, D, c.num_classes, second.data());
            for (int k = 0; k < c.num_classes; ++k) out[k] = (out[k] + second[k]) / 2;
        }
    }
    return logits;
}

}  // namespace pomt
