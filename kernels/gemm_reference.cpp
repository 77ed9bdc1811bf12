#include <cmath>

#include "kernels/gemm.h"

namespace pomt {

float gelu_erf(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752440f)); }

float quick_gelu_reference(float x) { return float(double(x) / (1.0 + std::exp(-1.702 * double(x)))); }

float gelu_fast_reference(float x) {
    const float half = 0.5f * x;
    const float s = std::fmin(std::fmax(x * kGeluFastInvRange, -1.0f), 1.0f);
    const float s2 = s * s;
    float p = kGeluFastP[7];
    for (int k = 6; k >= 0; --k) p = std::fmaf(p, s2, kGeluFastP[k]);
    return std::fmaf(half * s, p, half);  // x/2 + (x/2)·s·P(s²)
}

float activation_reference(Activation act, float x) {
    switch (act) {
        case Activation::Gelu: return gelu_erf(x);
        case Activation::GeluFast: return gelu_fast_reference(x);
        case Activation::QuickGelu: return quick_gelu_reference(x);
        case Activation::None: break;
    }
    return x;
}

void gemm_reference(int m, int n, int k, const float* a, int lda, const float* w, int ldw, float* c, int ldc,
                    const Epilogue& ep) {
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            double acc = 0;
            for (int p = 0; p < k; ++p) acc += double(a[size_t(i) * lda + p]) * double(w[size_t(j) * ldw + p]);
            float v = float(acc) + (ep.bias ? ep.bias[j] : 0.0f);
            v = activation_reference(ep.act, v);
            if (ep.residual) v = ep.residual[size_t(i) * ep.ld_residual + j] + (ep.scale ? ep.scale[j] : 1.0f) * v;
            c[size_t(i) * ldc + j] = v;
        }
}

}  // namespace pomt
