#include "quantize/calibrate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "kernels/gemm.h"
#include "kernels/gemm_int8.h"
#include "kernels/norms.h"
#include "pomt/error.h"
#include "vit/forward.h"

namespace pomt {

namespace {

void append(std::vector<float>& rows, const std::vector<float>& more) { rows.insert(rows.end(), more.begin(), more.end()); }

void track_max(const float* x, int rows, int ld, int dim, std::vector<float>& m) {
    for (int i = 0; i < rows; ++i)
        for (int d = 0; d < dim; ++d) m[size_t(d)] = std::max(m[size_t(d)], std::fabs(x[size_t(i) * ld + d]));
}

// Sees each block from inside (TokenPruner's hook after the attention residual, never pruning):
// norm2's output (fc1's input) and the attention output (proj's input) rebuilt from the kept
// probabilities and V. Also keeps the embedded tokens of a full run (after_embedding).
class RangeObserver : public TokenPruner {
public:
    RangeObserver(const Model& m, ActivationRanges& r) : model_(m), ranges_(r) {}
    bool sample_ = false;  // also keep this image's rows
    std::vector<float> embedded;
    int after_embedding(float* x, int batch, int tokens, int dim) override {
        embedded.assign(x, x + size_t(batch) * tokens * dim);
        return tokens;
    }
    bool wants_attention(int) const override { return true; }
    int after_attention(BlockInternals& b) override {
        if (!record_) return b.tokens;
        const ModelConfig& c = model_.config();
        const int n = b.tokens, D = b.dim, hd = D / b.heads;
        std::vector<float> h(size_t(n) * D);
        const LayerNormParams& ln = model_.blocks[size_t(b.layer)].norm2;
        for (int img = 0; img < b.batch; ++img) {
            const float* x = b.x + size_t(img) * n * D;
            layernorm(x, D, h.data(), D, n, D, ln.weight, ln.bias, float(c.ln_eps));
            track_max(h.data(), n, D, D, ranges_.fc1_in[size_t(b.layer)]);
            if (sample_) append(ranges_.samples[kFc1Input][size_t(b.layer)], h);
            const float* qkv = b.qkv + size_t(img) * n * 3 * D;
            std::fill(h.begin(), h.end(), 0.0f);
            for (int hh = 0; hh < b.heads; ++hh) {
                const float* p = b.attn + (size_t(img) * b.heads + hh) * n * n;
                for (int i = 0; i < n; ++i)
                    for (int j = 0; j < n; ++j) {
                        const float pij = p[size_t(i) * n + j];
                        const float* v = qkv + size_t(j) * 3 * D + 2 * D + hh * hd;
                        float* o = h.data() + size_t(i) * D + hh * hd;
                        for (int d = 0; d < hd; ++d) o[d] += pij * v[d];
                    }
            }
            track_max(h.data(), n, D, D, ranges_.proj_in[size_t(b.layer)]);
            if (sample_) append(ranges_.samples[kProjInput][size_t(b.layer)], h);
        }
        return b.tokens;
    }
    bool record_ = false;

private:
    const Model& model_;
    ActivationRanges& ranges_;
};

}  // namespace

ActivationRanges measure_activation_ranges(const std::shared_ptr<const Model>& fp32, int count,
                                           const std::function<std::vector<float>(int)>& image_at, int threads,
                                           int sample_images) {
    const ModelConfig& c = fp32->config();
    const int D = c.embed_dim;
    ActivationRanges r;
    r.qkv_in.assign(size_t(c.depth), std::vector<float>(size_t(D), 0.0f));
    r.proj_in = r.fc1_in = r.qkv_in;
    for (auto& s : r.samples) s.assign(size_t(c.depth), {});
    Session session(fp32, threads);
    RangeObserver observer(*fp32, r);
    std::vector<float> h;
    for (int i = 0; i < count; ++i) {
        const std::vector<float> image = image_at(i);
        // A full run for the embedded tokens, then block by block: each block's input gives
        // norm1's output, and the observer the rest.
        RunOptions options;
        options.pruner = &observer;
        observer.record_ = false;
        session.run(image.data(), 1, options);
        std::vector<float> x = observer.embedded;
        const int n = int(x.size() / size_t(D));
        h.resize(x.size());
        observer.record_ = true;
        observer.sample_ = r.images < sample_images;
        for (int layer = 0; layer < c.depth; ++layer) {
            const LayerNormParams& ln = fp32->blocks[size_t(layer)].norm1;
            layernorm(x.data(), D, h.data(), D, n, D, ln.weight, ln.bias, float(c.ln_eps));
            track_max(h.data(), n, D, D, r.qkv_in[size_t(layer)]);
            if (observer.sample_) append(r.samples[kQkvInput][size_t(layer)], h);
            session.run_blocks(x.data(), 1, n, layer, 1, &observer);
        }
        ++r.images;
    }
    return r;
}

std::vector<float> smoothing_factors(const std::vector<float>& act_max, const float* w, int n, int k, double alpha) {
    std::vector<float> s(size_t(k), 1.0f);
    for (int t = 0; t < k; ++t) {
        float wmax = 0.0f;
        for (int j = 0; j < n; ++j) wmax = std::max(wmax, std::fabs(w[size_t(j) * k + t]));
        const float amax = act_max[size_t(t)];
        if (!(amax > 0.0f) || !(wmax > 0.0f)) continue;
        const double v = std::pow(double(amax), alpha) / std::pow(double(wmax), 1.0 - alpha);
        s[size_t(t)] = float(std::clamp(v, 1e-5, 1e5));
    }
    return s;
}

namespace {

const LinearParams& linear_of(const BlockParams& bp, int input) {
    return input == kQkvInput ? bp.qkv : input == kProjInput ? bp.proj : bp.fc1;
}

// Σ (int8 product − fp32 product)² over the sampled rows x [rows × k], with x / s and w · s.
double int8_error(const std::vector<float>& x, const float* w, int n, int k, const std::vector<float>& s,
                  const std::vector<float>& reference) {
    const int rows = int(x.size() / size_t(k));
    std::vector<float> xs(x.size()), ws(size_t(n) * k);
    for (size_t i = 0; i < x.size(); ++i) xs[i] = x[i] / s[i % size_t(k)];
    for (size_t i = 0; i < ws.size(); ++i) ws[i] = w[i] * s[i % size_t(k)];
    const Int8Weights wq = quantize_weights(ws.data(), n, k);
    QuantizedRows xq;
    xq.rows = rows;
    xq.k = k;
    xq.ld = quantized_row_bytes(k);
    std::vector<int8_t> q(size_t(rows) * xq.ld);
    std::vector<float> scale(static_cast<size_t>(rows)), offset(static_cast<size_t>(rows)), y(size_t(rows) * n);
    xq.q = q.data();
    xq.scale = scale.data();
    xq.offset = offset.data();
    quantize_rows(xs.data(), k, rows, k, xq);
    gemm_int8(rows, xq, wq, y.data(), n, Epilogue(), nullptr);
    double err = 0;
    for (size_t i = 0; i < y.size(); ++i) err += (double(y[i]) - reference[i]) * (double(y[i]) - reference[i]);
    return err;
}

SmoothingPlan plan_for(const Model& fp32, const ActivationRanges& ranges, const std::vector<double>& alphas,
                       bool choose) {
    const ModelConfig& c = fp32.config();
    const int D = c.embed_dim;
    if (int(ranges.qkv_in.size()) != c.depth) fail("calibration ranges do not match the model's depth");
    SmoothingPlan plan;
    for (int input = 0; input < kSmoothableInputs; ++input) {
        plan.factors[input].assign(size_t(c.depth), std::vector<float>(size_t(D), 1.0f));
        plan.alpha[input].assign(size_t(c.depth), -1.0);
    }
    for (int l = 0; l < c.depth; ++l)
        for (int input = 0; input < kSmoothableInputs; ++input) {
            const LinearParams& lin = linear_of(fp32.blocks[size_t(l)], input);
            const float* w = fp32.linear_weight(lin);
            const int n = lin.packed.n;
            std::vector<float>& chosen = plan.factors[input][size_t(l)];
            if (!choose) {
                chosen = smoothing_factors(ranges.max_of(input, l), w, n, D, alphas[0]);
                plan.alpha[input][size_t(l)] = alphas[0];
                continue;
            }
            double best = smoothing_error(fp32, ranges, input, l, chosen);
            for (double alpha : alphas) {
                std::vector<float> s = smoothing_factors(ranges.max_of(input, l), w, n, D, alpha);
                const double err = smoothing_error(fp32, ranges, input, l, s);
                if (err < best) {
                    best = err;
                    chosen = std::move(s);
                    plan.alpha[input][size_t(l)] = alpha;
                }
            }
        }
    return plan;
}

}  // namespace

double smoothing_error(const Model& fp32, const ActivationRanges& ranges, int input, int layer,
                       const std::vector<float>& s) {
    const int D = fp32.config().embed_dim;
    const std::vector<float>& x = ranges.samples[input][size_t(layer)];
    if (x.empty()) fail("calibration kept no sample rows to choose the smoothing with");
    const LinearParams& lin = linear_of(fp32.blocks[size_t(layer)], input);
    const float* w = fp32.linear_weight(lin);
    const int n = lin.packed.n, rows = int(x.size() / size_t(D));
    std::vector<float> reference(size_t(rows) * n);
    gemm(rows, x.data(), D, pack_weights(w, n, D), reference.data(), n, Epilogue(), nullptr);
    return int8_error(x, w, n, D, s, reference);
}

SmoothingPlan fixed_smoothing(const Model& fp32, const ActivationRanges& ranges, double alpha) {
    return plan_for(fp32, ranges, {alpha}, false);
}

SmoothingPlan choose_smoothing(const Model& fp32, const ActivationRanges& ranges, const std::vector<double>& alphas) {
    return plan_for(fp32, ranges, alphas, true);
}

std::string SmoothingPlan::describe() const {
    std::map<double, int> count;
    int total = 0;
    for (const auto& per_input : alpha)
        for (double a : per_input) ++count[a], ++total;
    std::string s = "smoothquant on " + std::to_string(total) + " Linears:";
    for (const auto& [a, n] : count) {
        char buf[48];
        if (a < 0) std::snprintf(buf, sizeof buf, " %d none", n);
        else std::snprintf(buf, sizeof buf, " %d alpha=%.2f", n, a);
        s += buf;
    }
    return s;
}

std::function<std::vector<float>(const TensorSpec&)> smoothed_values(const std::shared_ptr<const Model>& fp32,
                                                                     const SmoothingPlan& plan) {
    const ModelConfig& c = fp32->config();
    const int D = c.embed_dim;
    for (const auto& f : plan.factors)
        if (int(f.size()) != c.depth) fail("smoothing plan does not match the model's depth");
    // How each tensor takes the factors: divided per element of its last dimension (LayerNorm γ
    // and β), column k multiplied by s_k (the smoothed Linear), or row first_row + r divided by s_r
    // (V's outputs in the qkv weight and bias).
    struct Fold {
        const std::vector<float>* s;
        enum { DivideVector, ScaleColumns, DivideRowsFrom } how;
        int first_row = 0;
    };
    auto factors = std::make_shared<SmoothingPlan>(plan);
    std::multimap<std::string, Fold> folds;
    for (int l = 0; l < c.depth; ++l) {
        const std::string b = "blocks." + std::to_string(l) + ".";
        const std::vector<float>* s_qkv = &factors->factors[kQkvInput][size_t(l)];
        const std::vector<float>* s_proj = &factors->factors[kProjInput][size_t(l)];
        const std::vector<float>* s_fc1 = &factors->factors[kFc1Input][size_t(l)];
        folds.insert({b + "norm1.weight", {s_qkv, Fold::DivideVector}});
        folds.insert({b + "norm1.bias", {s_qkv, Fold::DivideVector}});
        folds.insert({b + "attn.qkv.weight", {s_qkv, Fold::ScaleColumns}});
        folds.insert({b + "attn.qkv.weight", {s_proj, Fold::DivideRowsFrom, 2 * D}});
        folds.insert({b + "attn.qkv.bias", {s_proj, Fold::DivideRowsFrom, 2 * D}});
        folds.insert({b + "attn.proj.weight", {s_proj, Fold::ScaleColumns}});
        folds.insert({b + "norm2.weight", {s_fc1, Fold::DivideVector}});
        folds.insert({b + "norm2.bias", {s_fc1, Fold::DivideVector}});
        folds.insert({b + "mlp.fc1.weight", {s_fc1, Fold::ScaleColumns}});
    }
    return [fp32, factors, folds](const TensorSpec& spec) {
        std::vector<float> v = fp32->tensor_values(spec);
        auto range = folds.equal_range(spec.name);
        for (auto it = range.first; it != range.second; ++it) {
            const std::vector<float>& s = *it->second.s;
            const size_t k = s.size();
            switch (it->second.how) {
                case Fold::DivideVector:
                    for (size_t i = 0; i < v.size(); ++i) v[i] /= s[i % k];
                    break;
                case Fold::ScaleColumns:
                    for (size_t i = 0; i < v.size(); ++i) v[i] *= s[i % k];
                    break;
                case Fold::DivideRowsFrom: {
                    const size_t row_len = spec.shape.size() > 1 ? size_t(spec.shape[1]) : 1;  // a bias: one value per row
                    for (size_t r = 0; r < k; ++r)
                        for (size_t t = 0; t < row_len; ++t) v[(size_t(it->second.first_row) + r) * row_len + t] /= s[r];
                    break;
                }
            }
        }
        return v;
    };
}

}  // namespace pomt
