#include "kernels/reductions.h"

#include <algorithm>

#include "kernels/dispatch.h"

namespace pomt {

void head_max_column_sums(const float* a, size_t head_stride, int ld, int heads, int rows, int cols, float* out) {
    active_kernels().head_max_column_sums(a, head_stride, ld, heads, rows, cols, out);
}

void head_max_column_sums_reference(const float* a, size_t head_stride, int ld, int heads, int rows, int cols,
                                   float* out) {
    for (int j = 0; j < cols; ++j) {
        float sum = 0.0f;
        for (int i = 0; i < rows; ++i) {
            const float* col = a + size_t(i) * ld + j;
            float m = col[0];
            for (int h = 1; h < heads; ++h) m = std::max(m, col[h * head_stride]);
            sum += m;
        }
        out[j] = sum;
    }
}

}  // namespace pomt
