#include "kernels/panels.h"

namespace pomt {

size_t panel_floats(int n, int k) {
    const size_t panels = (size_t(n) + kGemmPanel - 1) / kGemmPanel;
    return panels * size_t(k) * kGemmPanel;
}

void pack_panels(const float* w, int n, int k, float* dst) {
    const int panels = (n + kGemmPanel - 1) / kGemmPanel;
    for (int pi = 0; pi < panels; ++pi)
        for (int kk = 0; kk < k; ++kk)
            for (int j = 0; j < kGemmPanel; ++j) {
                const int col = pi * kGemmPanel + j;
                *dst++ = col < n ? w[size_t(col) * k + kk] : 0.0f;
            }
}

void unpack_panels(const float* panels, int n, int k, float* w) {
    for (int col = 0; col < n; ++col) {
        const float* src = panels + size_t(col / kGemmPanel) * k * kGemmPanel + col % kGemmPanel;
        float* row = w + size_t(col) * k;
        for (int kk = 0; kk < k; ++kk) row[kk] = src[size_t(kk) * kGemmPanel];
    }
}

}  // namespace pomt
