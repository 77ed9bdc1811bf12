#include "kernels/activations.h"

#include <cmath>

#include "kernels/dispatch.h"

namespace pomt {

void gelu_inplace(float* x, size_t n) { active_kernels().gelu(x, n); }

void gelu_fast_inplace(float* x, size_t n) { active_kernels().gelu_fast(x, n); }

void quick_gelu_inplace(float* x, size_t n) { active_kernels().quick_gelu(x, n); }

void softmax_inplace(float* x, int n) {
    if (n > 0) active_kernels().softmax(x, n);
}

void softmax_reference(const float* x, float* y, int n) {
    double mx = x[0];
    for (int i = 1; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += std::exp(x[i] - mx);
    for (int i = 0; i < n; ++i) y[i] = float(std::exp(x[i] - mx) / sum);
}

}  // namespace pomt
