#include "kernels/norms.h"

#include <cmath>

#include "kernels/dispatch.h"

namespace pomt {

void layernorm(const float* x, int ld_x, float* y, int ld_y, int rows, int dim, const float* gamma,
               const float* beta, float eps) {
    if (rows > 0 && dim > 0) active_kernels().layernorm(x, ld_x, y, ld_y, rows, dim, gamma, beta, eps);
}

void layernorm_reference(const float* x, int ld_x, float* y, int ld_y, int rows, int dim, const float* gamma,
                         const float* beta, float eps) {
    for (int r = 0; r < rows; ++r) {
        const float* xr = x + size_t(r) * ld_x;
        double mean = 0, var = 0;
        for (int i = 0; i < dim; ++i) mean += xr[i];
        mean /= dim;
        for (int i = 0; i < dim; ++i) var += (xr[i] - mean) * (xr[i] - mean);
        var /= dim;
        double inv = 1.0 / std::sqrt(var + eps);
        for (int i = 0; i < dim; ++i) y[size_t(r) * ld_y + i] = float((xr[i] - mean) * inv * gamma[i] + beta[i]);
    }
}

}  // namespace pomt
