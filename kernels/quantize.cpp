#include "kernels/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace pomt {

namespace {

// One row by the formula of kernels/quantize.h. Shared by the fast path and the reference so
// both are the same bits; the fast path differs only in how it finds the range.
void quantize_one_row(const float* x, int k, float lo, float hi, int8_t* q, float* scale, float* offset) {
    const float mid = 0.5f * (hi + lo);
    const float range = hi - lo;
    *offset = mid;
    if (!(range > 0.0f)) {
        *scale = 0.0f;
        std::memset(q, 0, size_t(k));
        return;
    }
    *scale = range / 254.0f;
    const float inv = 254.0f / range;
    for (int t = 0; t < k; ++t) {
        float v = std::nearbyint((x[t] - mid) * inv);
        v = std::min(127.0f, std::max(-127.0f, v));
        q[t] = int8_t(v);
    }
}

}  // namespace

void quantize_rows(const float* x, int ldx, int rows, int k, QuantizedRows& out) {
    for (int r = 0; r < rows; ++r) {
        const float* row = x + size_t(r) * ldx;
        float lo = row[0], hi = row[0];
        for (int t = 1; t < k; ++t) {
            lo = std::min(lo, row[t]);
            hi = std::max(hi, row[t]);
        }
        int8_t* q = out.q + size_t(r) * out.ld;
        quantize_one_row(row, k, lo, hi, q, out.scale + r, out.offset + r);
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
            q[t] = int8_t(std::clamp(std::nearbyint(scaled), -127.0f, 127.0f));
        }
    }
}

void dequantize_row(const QuantizedRows& in, int r, float* x) {
    const int8_t* q = in.q + size_t(r) * in.ld;
    for (int t = 0; t < in.k; ++t) x[t] = in.scale[r] * float(q[t]) + in.offset[r];
}

}  // namespace pomt
