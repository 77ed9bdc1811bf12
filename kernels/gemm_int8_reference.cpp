// The int8 weight layout (packing, per-column quantization) and the readable references of
// kernels/gemm_int8.h.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/gemm_int8.h"

namespace pomt {

size_t int8_panel_bytes(int n, int k) {
    const size_t panels = (size_t(n) + kGemmPanel - 1) / kGemmPanel;
    return panels * kGemmPanel * size_t(quantized_row_bytes(k));
}

void pack_int8_panels(const int8_t* wq, int n, int k, int8_t* dst) {
    const int panels = (n + kGemmPanel - 1) / kGemmPanel, groups = quantized_row_bytes(k) / kInt8Group;
    for (int p = 0; p < panels; ++p)
        for (int g = 0; g < groups; ++g)
            for (int j = 0; j < kGemmPanel; ++j)
                for (int t = 0; t < kInt8Group; ++t) {
                    const int col = p * kGemmPanel + j, in = g * kInt8Group + t;
                    *dst++ = col < n && in < k ? wq[size_t(col) * k + in] : 0;
                }
}

void unpack_int8_panels(const int8_t* panels, int n, int k, int8_t* wq) {
    const size_t panel_bytes = size_t(kGemmPanel) * quantized_row_bytes(k);
    for (int col = 0; col < n; ++col)
        for (int in = 0; in < k; ++in)
            wq[size_t(col) * k + in] = panels[size_t(col / kGemmPanel) * panel_bytes +
                                              size_t(in / kInt8Group) * kGemmPanel * kInt8Group +
                                              (col % kGemmPanel) * kInt8Group + in % kInt8Group];
}

Int8Weights quantize_weights(const float* w, int n, int k) {
    struct Owned {
        std::vector<int8_t> panels;
        std::vector<float> scale;
        std::vector<int32_t> sum;
    };
    auto owned = std::make_shared<Owned>();
    std::vector<int8_t> wq(size_t(n) * k);
    owned->scale.resize(size_t(n));
    owned->sum.resize(size_t(n));
    for (int j = 0; j < n; ++j) {
        const float* row = w + size_t(j) * k;
        float amax = 0.0f;
        for (int t = 0; t < k; ++t) amax = std::max(amax, std::fabs(row[t]));
        const float scale = amax > 0.0f ? amax / 127.0f : 1.0f;
        int32_t sum = 0;
        for (int t = 0; t < k; ++t) {
            const int8_t v = clamp_to_int8(std::nearbyint(row[t] / scale));
            wq[size_t(j) * k + t] = v;
            sum += v;
        }
        owned->scale[size_t(j)] = scale;
        owned->sum[size_t(j)] = sum;
    }
    owned->panels.resize(int8_panel_bytes(n, k));
    pack_int8_panels(wq.data(), n, k, owned->panels.data());
    Int8Weights r;
    r.n = n;
    r.k = k;
    r.panels = owned->panels.data();
    r.scale = owned->scale.data();
    r.sum = owned->sum.data();
    r.storage = owned;
    return r;
}

void dequantize_weights(const Int8Weights& w, float* out) {
    std::vector<int8_t> wq(size_t(w.n) * w.k);
    unpack_int8_panels(w.panels, w.n, w.k, wq.data());
    for (int j = 0; j < w.n; ++j)
        for (int t = 0; t < w.k; ++t) out[size_t(j) * w.k + t] = w.scale[j] * float(wq[size_t(j) * w.k + t]);
}

void gemm_int8_accumulators_reference(int m, const QuantizedRows& a, const Int8Weights& w, int32_t* acc,
                                      int ldacc) {
    std::vector<int8_t> wq(size_t(w.n) * w.k);
    unpack_int8_panels(w.panels, w.n, w.k, wq.data());
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < w.n; ++j) {
            int64_t s = 0;
            for (int t = 0; t < w.k; ++t) s += int64_t(a.q[size_t(i) * a.ld + t]) * wq[size_t(j) * w.k + t];
            acc[size_t(i) * ldacc + j] = int32_t(s);
        }
}

void gemm_int8_reference(int m, const QuantizedRows& a, const Int8Weights& w, float* c, int ldc,
                         const Epilogue& ep) {
    std::vector<int32_t> acc(size_t(m) * w.n);
    gemm_int8_accumulators_reference(m, a, w, acc.data(), w.n);
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < w.n; ++j) {
            double v = double(w.scale[j]) * (double(a.scale[i]) * acc[size_t(i) * w.n + j] +
                                             double(a.offset[i]) * w.sum[j]);
            if (ep.bias) v += ep.bias[j];
            float f = activation_reference(ep.act, float(v));
            if (ep.residual)
                f = ep.residual[size_t(i) * ep.ld_residual + j] + (ep.scale ? ep.scale[j] : 1.0f) * f;
            c[size_t(i) * ldc + j] = f;
        }
}

}  // namespace pomt
