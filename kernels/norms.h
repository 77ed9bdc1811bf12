// LayerNorm over the last dimension, as torch.nn.LayerNorm: (x − mean) / sqrt(var + eps) · γ + β,
// biased variance. y may alias x.
#pragma once

namespace pomt {

void layernorm(const float* x, int ld_x, float* y, int ld_y, int rows, int dim, const float* gamma,
               const float* beta, float eps);

// Readable reference in double precision (tests compare the fast path against it).
void layernorm_reference(const float* x, int ld_x, float* y, int ld_y, int rows, int dim, const float* gamma,
                         const float* beta, float eps);

}  // namespace pomt
