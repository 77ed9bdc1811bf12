// bf16 attention of one head on AMX tiles (kernels/attention_bf16.h), the amx-bf16 variant's
// Bf16Kernels::attention: the steps of attention_head_bf16 with the same sums (TDPBF16PS in
// 16-pair steps, Bf16Order::AmxSteps), so the same bits, but the tiles stored straight into the
// logits rows and the output rows. At head_dim 64 a Q·Kᵀ tile is only two steps deep, and the
// GEMM's path (sums stored to a buffer, then an epilogue pass copying them out) cost as much as
// the products themselves; here the scale and key bias are applied in the softmax's max pass,
// which reads the row anyway. V's inputs are padded to whole steps (bf16_head_v_inputs), so P·V
// never copies a partial step either.

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <cstring>

#include "kernels/attention_bf16.h"
#include "kernels/dispatch.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_bf16_kernels.h"
#include "kernels/x86/amx.h"
#include "kernels/x86/bf16_convert.h"

namespace pomt {

namespace {

constexpr int kRows = amx::kTileRows, kCols = amx::kTilePanels * kGemmPanel;  // 32 × 32 per tile

}  // namespace

void attention_bf16_amx(const AttentionHeadBf16& a, const Bf16AttentionTrace* trace) {
    const Bf16Head& h = *a.head;
    const int n = h.tokens, d = h.head_dim, first = a.row_begin, rows = a.rows_end() - first;
    if (n <= 0 || d <= 0 || rows <= 0) return;
    const IsaKernels& level = active_kernels();
    amx::new_call();
    // Scratch: the block's logits (rows of n rounded up to a whole tile of columns), Q rounded
    // (pairs of head_dim), P (bf16_head_v_inputs values per row) and, when head_dim is not whole
    // panels, P·V's output before it is copied into the head's columns.
    const int ldl = (n + kCols - 1) / kCols * kCols, dq = bf16_row_elems(d), kv = bf16_head_v_inputs(n);
    const int dpad = (d + kCols - 1) / kCols * kCols;
    const bool direct = d % kGemmPanel == 0;
    float* logits = thread_scratch(size_t(kRows) * ldl + size_t(kRows) * (dq + kv) / 2 + (direct ? 0 : size_t(kRows) * dpad) + 32);
    uint16_t* q = reinterpret_cast<uint16_t*>(logits + size_t(kRows) * ldl);
    uint16_t* p = q + size_t(kRows) * dq;
    float* pv = reinterpret_cast<float*>(p + size_t(kRows) * kv);
    const int k_panels = (n + kGemmPanel - 1) / kGemmPanel, v_panels = (d + kGemmPanel - 1) / kGemmPanel;
    const size_t k_stride = size_t(kGemmPanel) * dq * 2, v_stride = size_t(kGemmPanel) * kv * 2;  // bytes
    for (int i0 = first; i0 < first + rows; i0 += kRows) {
        const int m = std::min(kRows, first + rows - i0);
        for (int r = 0; r < m; ++r) {
            uint16_t* qr = q + size_t(r) * dq;
            round_bf16_row_cvtne(a.q + size_t(i0 + r) * a.ld_q, d, qr);
            if (dq > d) qr[d] = 0;
        }
        // S = Q·Kᵀ, two panels of keys per tile, stored into the logits rows.
        for (int p0 = 0; p0 < k_panels; p0 += amx::kTilePanels)
            amx::multiply<amx::DotBf16>(q, size_t(dq) * 2, m, reinterpret_cast<const uint8_t*>(h.k_panels) + p0 * k_stride, k_stride,
                               std::min(amx::kTilePanels, k_panels - p0), dq / 2, logits + p0 * kGemmPanel,
                               long(ldl) * 4);
        for (int r = 0; r < m; ++r) {
            float* x = logits + size_t(r) * ldl;
            uint16_t* pr = p + size_t(r) * kv;
            const size_t out_row = size_t(i0 - first + r);
            if (trace && trace->sums) std::memcpy(trace->sums + out_row * n, x, size_t(n) * sizeof(float));
            level.softmax_bf16(x, n, a.scale, a.key_bias, pr, kv);
            if (a.probs) std::memcpy(a.probs + size_t(i0 + r) * n, x, size_t(n) * sizeof(float));
            if (trace && trace->p) std::memcpy(trace->p + out_row * kv, pr, size_t(kv) * sizeof(uint16_t));
        }
        // out = P·V, two panels of head_dim per tile, stored into the output rows (or pv first).
        float* o = direct ? a.out + size_t(i0) * a.ld_out : pv;
        const long ldo = direct ? long(a.ld_out) * 4 : long(dpad) * 4;
        for (int p0 = 0; p0 < v_panels; p0 += amx::kTilePanels)
            amx::multiply<amx::DotBf16>(p, size_t(kv) * 2, m, reinterpret_cast<const uint8_t*>(h.v_panels) + p0 * v_stride, v_stride,
                               std::min(amx::kTilePanels, v_panels - p0), kv / 2, o + p0 * kGemmPanel, ldo);
        if (!direct)
            for (int r = 0; r < m; ++r)
                std::memcpy(a.out + size_t(i0 + r) * a.ld_out, pv + size_t(r) * dpad, size_t(d) * sizeof(float));
    }
}

}  // namespace pomt
