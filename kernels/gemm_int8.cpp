// int8 GEMM driver. PLACEHOLDER PORTABLE VERSION (to be replaced by the dispatched micro-kernels):
// exact int32 sums, then the epilogue of kernels/gemm_int8.h.
#include "kernels/gemm_int8.h"

#include <vector>

#include "kernels/threads.h"

namespace pomt {

void gemm_int8_accumulators(int m, const QuantizedRows& a, const Int8Weights& w, int32_t* acc, int ldacc,
                            ThreadPool* pool) {
    const int groups = quantized_row_bytes(w.k) / kInt8Group;
    const size_t panel_bytes = size_t(kGemmPanel) * quantized_row_bytes(w.k);
    parallel_for(pool, m, 1, [&](int i0, int i1) {
        for (int i = i0; i < i1; ++i) {
            const int8_t* ar = a.q + size_t(i) * a.ld;
            for (int j = 0; j < w.n; ++j) {
                const int8_t* panel = w.panels + size_t(j / kGemmPanel) * panel_bytes + (j % kGemmPanel) * kInt8Group;
                int32_t s = 0;
                for (int g = 0; g < groups; ++g)
                    for (int t = 0; t < kInt8Group; ++t)
                        s += int32_t(ar[g * kInt8Group + t]) * panel[size_t(g) * kGemmPanel * kInt8Group + t];
                acc[size_t(i) * ldacc + j] = s;
            }
        }
    });
}

void gemm_int8(int m, const QuantizedRows& a, const Int8Weights& w, float* c, int ldc, const Epilogue& ep,
               ThreadPool* pool) {
    std::vector<int32_t> acc(size_t(m) * w.n);
    gemm_int8_accumulators(m, a, w, acc.data(), w.n, pool);
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < w.n; ++j) {
            float v = w.scale[j] * (a.scale[i] * float(acc[size_t(i) * w.n + j]) + a.offset[i] * float(w.sum[j]));
            if (ep.bias) v += ep.bias[j];
            v = activation_reference(ep.act, v);
            if (ep.residual) v = ep.residual[size_t(i) * ep.ld_residual + j] + (ep.scale ? ep.scale[j] : 1.0f) * v;
            c[size_t(i) * ldc + j] = v;
        }
}

void gemm_int8_quantized(int m, const QuantizedRows& a, const Int8Weights& w, const Epilogue& ep,
                         QuantizedRows& out, ThreadPool* pool) {
    std::vector<float> c(size_t(m) * w.n);
    gemm_int8(m, a, w, c.data(), w.n, ep, pool);
    quantize_rows(c.data(), w.n, m, w.n, out);
}

}  // namespace pomt
