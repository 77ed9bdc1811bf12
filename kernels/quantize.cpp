#include "kernels/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/gemm_int8_kernels.h"

namespace pomt {

// The active int8 variant's row quantizer (kernels/gemm_int8_block.h: vector min/max and the
// formula's float operations in the reference's order, so the same bits as the reference).
void quantize_rows(const float* x, int ldx, int rows, int k, QuantizedRows& out) {
    const Int8Kernels& kern = active_int8_kernels();
    for (int r = 0; r < rows; ++r) {
        int8_t* q = out.q + size_t(r) * out.ld;
        kern.quantize_row(x + size_t(r) * ldx, k, q, out.scale + r, out.offset + r);
        std::memset(q + k, 0, size_t(out.ld - k));
    }
}

void quantize_rows_reference(const float* x, int ldx, int rows, int k, QuantizedRows& out) {
    for (int r = 0; r < rows; ++r) {
        const float* row = x + size_t(r) * ldx;
        const float lo = *std::min_element(row, row + k), hi = *std::max_element(row, row + k);
        const float mid = 0.5f * (hi + lo), range = hi - lo;
        int8_t* q = out.q + size_t(r) * out.ld;
        out.offset[r] = mid;
        out.scale[r] = range > 0.0f ? range / 254.0f : 0.0f;
        for (int t = 0; t < out.ld; ++t) {
            if (t >= k || !(range > 0.0f)) {
                q[t] = 0;
                continue;
            }
            const float scaled = (row[t] - mid) * (254.0f / range);
            q[t] = clamp_to_int8(std::nearbyint(scaled));
        }
    }
}

void dequantize_row(const QuantizedRows& in, int r, float* x) {
    const int8_t* q = in.q + size_t(r) * in.ld;
    for (int t = 0; t < in.k; ++t) x[t] = in.scale[r] * float(q[t]) + in.offset[r];
}

}  // namespace pomt
