// Softmax, LayerNorm, GELU, attention and the pruning's column reduction, written once over the
// vector types of kernels/simd.h (no intrinsics here) and instantiated by each level's translation
// unit, the scalar one included (kernels/kernels_scalar.cpp, with VecF1). They are tested against
// the readable references beside their entry points (softmax_reference, layernorm_reference,
// attention_head_reference, gelu_erf, head_max_column_sums_reference) in tests/test_kernels_ops.cpp.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/attention.h"
#include "kernels/attention_bf16.h"
#include "kernels/bf16.h"
#include "kernels/dispatch.h"
#include "kernels/gemm_block.h"
#include "kernels/threads.h"

namespace pomt {


namespace simd {

// C independent chains: at least FMA latency × FMA pipes (4×2 on Intel and Zen, 10×1 on Cortex-A72
// in LLVM's model, 4×2 on A76: NEON uses 16), and C + 2 registers must fit the register file (AVX2
// has 16 ymm: 12 chains). Each chain is the addend, as NEON's FMLA accumulates into its destination
// (acc·b + c would cost two register moves per FMLA), and every loop is unrolled so the chains stay
// in registers.
template <class V, int C>
float fma_loop(long iters) {
    using T = typename V::T;
    T acc[C];
#pragma GCC unroll 32
    for (int i = 0; i < C; ++i) acc[i] = V::set1(0.001f * float(i));
    const T b = V::set1(0.999f), c = V::set1(0.0001f);
    for (long it = 0; it < iters; ++it)
#pragma GCC unroll 32
        for (int i = 0; i < C; ++i) acc[i] = V::fmadd(b, c, acc[i]);
    T s = acc[0];
#pragma GCC unroll 32
    for (int i = 1; i < C; ++i) s = V::add(s, acc[i]);
    return V::hsum(s);
}

// See kernels/reductions.h. Row by row, so the attention matrix streams through in memory order
// (columns first would jump a row stride per load); the sums stay in `out`, which is in L1.
template <class V>
void head_max_column_sums(const float* a, size_t head_stride, int ld, int heads, int rows, int cols, float* out) {
    const int L = V::lanes;
    const int vec_cols = cols / L * L;
    std::fill(out, out + vec_cols, 0.0f);
    for (int i = 0; i < rows; ++i) {
        const float* row = a + size_t(i) * ld;
        for (int j = 0; j < vec_cols; j += L) {
            typename V::T m = V::load(row + j);
            for (int h = 1; h < heads; ++h) m = V::max(m, V::load(row + h * head_stride + j));
            V::store(out + j, V::add(V::load(out + j), m));
        }
    }
    if (vec_cols < cols)
        head_max_column_sums_reference(a + vec_cols, head_stride, ld, heads, rows, cols - vec_cols, out + vec_cols);
}

// FAST: Activation::GeluFast (gelu_fast_n) instead of the exact GELU (gelu_n).
template <class V, bool FAST, int N>
POMT_INLINE void gelu_either_n(typename V::T (&v)[N]) {
    if constexpr (FAST) gelu_fast_n<V, N>(v);
    else gelu_n<V, N>(v);
}

template <class V, bool FAST>
void gelu_array(float* x, size_t n) {
    constexpr size_t L = V::lanes;
    size_t i = 0;
    for (; i + 4 * L <= n; i += 4 * L) {  // four at a time: the GELU interleaves their chains
        typename V::T v[4];
        for (size_t j = 0; j < 4; ++j) v[j] = V::load(x + i + j * L);
        gelu_either_n<V, FAST>(v);
        for (size_t j = 0; j < 4; ++j) V::store(x + i + j * L, v[j]);
    }
    for (; i + L <= n; i += L) {
        typename V::T v[1] = {V::load(x + i)};
        gelu_either_n<V, FAST>(v);
        V::store(x + i, v[0]);
    }
    for (; i < n; ++i) {  // same formula, so tails agree with the body
        float v[1] = {x[i]};
        gelu_either_n<VecF1, FAST>(v);
        x[i] = v[0];
    }
}

template <class V>
void quick_gelu_array(float* x, size_t n) {
    size_t i = 0;
    for (; i + V::lanes <= n; i += V::lanes) V::store(x + i, quick_gelu<V>(V::load(x + i)));
    for (; i < n; ++i) x[i] = quick_gelu<VecF1>(x[i]);  // same formula, so tails agree with the body
}

// Max, then e = exp(x − max) in place and its sum, then e·(1/sum). The sum is kept in 16 partial
// sums whatever the vector width (16/lanes vectors over each block of 16 columns, the columns past
// the last whole block added one by one) and reduced by reduce_add16, so every level, scalar
// included, gives the same bits.
template <class V>
POMT_INLINE float row_max(const float* x, int n);
template <class V>
POMT_INLINE float softmax_exp_sum(float* x, int n, float mx);
template <class V>
POMT_INLINE void softmax_after_max(float* x, int n, float mx);

template <class V>
void softmax_row(float* x, int n) {
    softmax_after_max<V>(x, n, row_max<V>(x, n));
}

// softmax_row's steps, inlined, so that each softmax's loops are its own (what `make mca` reads)
// and int8 attention (kernels/attention_int8_impl.h) can run the last one in a pass of its own.
// The max: exact in any order.
template <class V>
POMT_INLINE float row_max(const float* x, int n) {
    using T = typename V::T;
    constexpr int L = V::lanes;
    const int n16 = n / 16 * 16;
    T mv = V::set1(-std::numeric_limits<float>::infinity());
    for (int i = 0; i < n16; i += L) mv = V::max(mv, V::load(x + i));
    float mx = V::hmax(mv);
    for (int i = n16; i < n; ++i) mx = std::max(mx, x[i]);
    return mx;
}

// e = exp(x − mx) in place; returns their sum.
template <class V>
POMT_INLINE float softmax_exp_sum(float* x, int n, float mx) {
    using T = typename V::T;
    constexpr int L = V::lanes, PV = 16 / L;
    const int n16 = n / 16 * 16;
    const T m = V::set1(mx);
    T sv[PV];
    for (int v = 0; v < PV; ++v) sv[v] = V::zero();
    // G blocks of 16 at a time (four vectors), their exps interleaved (exp_n); the sums are added
    // block by block in order, as one block at a time would.
    constexpr int G = PV >= 4 ? 1 : 4 / PV;
    int i = 0;
    for (; i + 16 * G <= n16; i += 16 * G) {
        T e[G * PV];
        for (int b = 0; b < G * PV; ++b) e[b] = V::sub(V::load(x + i + b * L), m);
        exp_n<V, G * PV>(e);
        for (int b = 0; b < G * PV; ++b) {
            V::store(x + i + b * L, e[b]);
            sv[b % PV] = V::add(sv[b % PV], e[b]);
        }
    }
    for (; i < n16; i += 16)
        for (int v = 0; v < PV; ++v) {
            T e = exp<V>(V::sub(V::load(x + i + v * L), m));
            V::store(x + i + v * L, e);
            sv[v] = V::add(sv[v], e);
        }
    float sum = reduce_add16<V>(sv);
    for (int i = n16; i < n; ++i) {
        x[i] = exp<VecF1>(x[i] - mx);
        sum += x[i];
    }
    return sum;
}

// The steps after the max mx: the exponentials and their sum, then e·(1/sum).
template <class V>
POMT_INLINE void softmax_after_max(float* x, int n, float mx) {
    using T = typename V::T;
    constexpr int L = V::lanes;
    const int n16 = n / 16 * 16;
    const float inv = 1.0f / softmax_exp_sum<V>(x, n, mx);
    const T iv = V::set1(inv);
    for (int i = 0; i < n16; i += L) V::store(x + i, V::mul(V::load(x + i), iv));
    for (int i = n16; i < n; ++i) x[i] *= inv;
}

template <class V>
void layernorm_rows(const float* x, int ld_x, float* y, int ld_y, int rows, int dim, const float* gamma,
                    const float* beta, float eps) {
    using T = typename V::T;
    const int L = V::lanes;
    for (int r = 0; r < rows; ++r) {
        const float* xr = x + size_t(r) * ld_x;
        float* yr = y + size_t(r) * ld_y;
        // Sum of x − x[0]: the shift keeps a large common offset from swamping the float sum;
        // two vector accumulators hide the add latency. Then the centred variance (two passes).
        const float shift = xr[0];
        T sh = V::set1(shift), s0 = V::zero(), s1 = V::zero();
        int i = 0;
        for (; i + 2 * L <= dim; i += 2 * L) {
            s0 = V::add(s0, V::sub(V::load(xr + i), sh));
            s1 = V::add(s1, V::sub(V::load(xr + i + L), sh));
        }
        for (; i + L <= dim; i += L) s0 = V::add(s0, V::sub(V::load(xr + i), sh));
        float sum = V::hsum(V::add(s0, s1));
        for (; i < dim; ++i) sum += xr[i] - shift;
        const float mean = shift + sum / dim;
        T mv = V::set1(mean);
        s0 = s1 = V::zero();
        for (i = 0; i + 2 * L <= dim; i += 2 * L) {
            T d0 = V::sub(V::load(xr + i), mv), d1 = V::sub(V::load(xr + i + L), mv);
            s0 = V::fmadd(d0, d0, s0);
            s1 = V::fmadd(d1, d1, s1);
        }
        for (; i + L <= dim; i += L) {
            T d0 = V::sub(V::load(xr + i), mv);
            s0 = V::fmadd(d0, d0, s0);
        }
        float sq = V::hsum(V::add(s0, s1));
        for (; i < dim; ++i) sq += (xr[i] - mean) * (xr[i] - mean);
        const float inv = 1.0f / std::sqrt(sq / dim + eps);
        T iv = V::set1(inv);
        for (i = 0; i + L <= dim; i += L) {
            T n = V::mul(V::sub(V::load(xr + i), mv), iv);
            V::store(yr + i, V::fmadd(n, V::load(gamma + i), V::load(beta + i)));
        }
        for (; i < dim; ++i) yr[i] = std::fma((xr[i] - mean) * inv, gamma[i], beta[i]);
    }
}

// ---- attention: per block of R query rows, logits = scale·Q·Kᵀ + key_bias (K transposed once per
// head so the logits are the same register-blocked product as the GEMM), then e = exp(x − max) and
// its sum per row, then P·V on the unnormalised e with each output row scaled by 1/sum (one multiply
// per output value instead of a pass over the probabilities). The row max is taken as the logits are
// stored, and the columns past `tokens` in the last vector get logit −inf (e = 0), so every pass runs
// on whole vectors. No row's arithmetic depends on R, so the bits do not depend on the row split, nor
// on whether the normalised probabilities are also written out. ----

struct AttnCtx {
    const AttentionHead* a;
    const float* kt;  // [head_dim × npad], columns ≥ tokens are 0
    const float* vp;  // [tokens × dpad], columns ≥ head_dim are 0
    int npad, dpad;
    const float* tail_bias;  // key bias (or 0) of the last partial vector of columns, −inf past tokens
};

template <class V, int R, int NP>
POMT_INLINE void attn_logits_chunk(const AttnCtx& cx, int i0, int col, float* s, size_t lds,
                                   typename V::T (&mx)[R]) {
    const AttentionHead& a = *cx.a;
    typename V::T acc[R][NP * (16 / V::lanes)];
    block_accumulate<V, R, NP>(a.head_dim, a.q + size_t(i0) * a.ld_qkv, size_t(a.ld_qkv), cx.kt + col,
                               size_t(cx.npad), 16, acc);
    const typename V::T scale = V::set1(a.scale);
#pragma GCC unroll 32
    for (int j = 0; j < NP * (16 / V::lanes); ++j) {
        const int c = col + j * V::lanes, n = a.tokens - c;
        if (n <= 0) break;
        // Past `tokens` the sums are 0 (K's zero padding), so the tail bias makes those logits −inf.
        const typename V::T bias = n < V::lanes ? V::load(cx.tail_bias)
                                   : a.key_bias ? V::load(a.key_bias + c)
                                                : V::zero();
#pragma GCC unroll 32
        for (int r = 0; r < R; ++r) {
            typename V::T v = V::fmadd(acc[r][j], scale, bias);
            V::store(s + r * lds + c, v);
            mx[r] = V::max(mx[r], v);
        }
    }
}

template <class V, int R, int NP>
POMT_INLINE void attn_pv_chunk(const AttnCtx& cx, int i0, int col, const float* s, size_t lds, const float* inv) {
    const AttentionHead& a = *cx.a;
    typename V::T acc[R][NP * (16 / V::lanes)];
    block_accumulate<V, R, NP>(a.tokens, s, lds, cx.vp + col, size_t(cx.dpad), 16, acc);
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
        float* o = a.out + size_t(i0 + r) * a.ld_out;
        const typename V::T iv = V::set1(inv[r]);
#pragma GCC unroll 32
        for (int j = 0; j < NP * (16 / V::lanes); ++j) {
            int c = col + j * V::lanes, n = std::min(V::lanes, a.head_dim - c);
            if (n <= 0) break;
            if (n == V::lanes)
                V::store(o + c, V::mul(acc[r][j], iv));
            else
                V::store_partial(o + c, V::mul(acc[r][j], iv), n);
        }
    }
}

// Rows i0 … i0+R−1; s is [R × npad] scratch for the logits, then e.
template <class V, int R, int NPMAX>
void attn_rows(const AttnCtx& cx, int i0, float* s) {
    using T = typename V::T;
    const AttentionHead& a = *cx.a;
    const int n = a.tokens, L = V::lanes, nv = (n + L - 1) / L * L;
    const size_t lds = size_t(cx.npad);
    T mx[R];
    for (int r = 0; r < R; ++r) mx[r] = V::set1(-std::numeric_limits<float>::infinity());
    for (int col = 0; col < n; col += 16 * NPMAX)
        with_count<NPMAX>(std::min(NPMAX, (cx.npad - col) / 16), [&](auto np) {
            attn_logits_chunk<V, R, decltype(np)::value>(cx, i0, col, s, lds, mx);
        });
    float inv[R];
    for (int r = 0; r < R; ++r) {
        float* x = s + r * lds;
        const T m = V::set1(V::hmax(mx[r]));
        T sum = V::zero();
        int i = 0;
        for (; i + 4 * L <= nv; i += 4 * L) {  // four at a time, interleaved (exp_n), summed in order
            T e[4];
            for (int b = 0; b < 4; ++b) e[b] = V::sub(V::load(x + i + b * L), m);
            exp_n<V, 4>(e);
            for (int b = 0; b < 4; ++b) {
                V::store(x + i + b * L, e[b]);
                sum = V::add(sum, e[b]);
            }
        }
        for (; i < nv; i += L) {
            T e = exp<V>(V::sub(V::load(x + i), m));
            V::store(x + i, e);
            sum = V::add(sum, e);
        }
        inv[r] = 1.0f / V::hsum(sum);
        if (a.probs) {  // the stored matrix is the normalised softmax
            float* p = a.probs + size_t(i0 + r) * n;
            const T iv = V::set1(inv[r]);
            int i = 0;
            for (; i + L <= n; i += L) V::store(p + i, V::mul(V::load(x + i), iv));
            if (i < n) V::store_partial(p + i, V::mul(V::load(x + i), iv), n - i);
        }
    }
    for (int col = 0; col < a.head_dim; col += 16 * NPMAX)
        with_count<NPMAX>(std::min(NPMAX, (cx.dpad - col) / 16), [&](auto np) {
            attn_pv_chunk<V, R, decltype(np)::value>(cx, i0, col, s, lds, inv);
        });
}

// One head in blocks of at most RMAX query rows × chunks of at most NPMAX 16-column panels: each
// ISA's file picks the tile (kernels/x86/kernels_*.cpp, kernels/arm/kernels_neon.cpp).
template <class V, int RMAX, int NPMAX>
void attention(const AttentionHead& a) {
    const int n = a.tokens, d = a.head_dim;
    if (n <= 0 || d <= 0 || a.rows_end() <= a.row_begin) return;
    const int npad = (n + 15) / 16 * 16, dpad = (d + 15) / 16 * 16;
    float* kt = thread_scratch(size_t(d) * npad + size_t(RMAX) * npad + 16 + size_t(n) * dpad);
    float* srow = kt + size_t(d) * npad;
    float* tail_bias = srow + size_t(RMAX) * npad;
    float* vp = tail_bias + 16;
    // Kᵀ: whole blocks of B×B transposed in registers, the edges one value at a time (16 keys per
    // pass, so the rows of K being read stay in L1 across the channels).
    constexpr int B = TransposeBlock<V>::size;
    const int jb = B ? n / B * B : 0, cb = B ? d / B * B : 0;
    if constexpr (B > 0)
        for (int j0 = 0; j0 < jb; j0 += B)
            for (int c0 = 0; c0 < cb; c0 += B)
                TransposeBlock<V>::block(a.k + size_t(j0) * a.ld_qkv + c0, size_t(a.ld_qkv),
                                         kt + size_t(c0) * npad + j0, size_t(npad));
    for (int j0 = 0; j0 < n; j0 += 16) {
        const int j1 = std::min(n, j0 + 16);
        for (int c = j1 <= jb ? cb : 0; c < d; ++c) {
            float* row = kt + size_t(c) * npad;
            for (int j = j0; j < j1; ++j) row[j] = a.k[size_t(j) * a.ld_qkv + c];
        }
    }
    for (int c = 0; c < d; ++c) std::fill(kt + size_t(c) * npad + n, kt + size_t(c + 1) * npad, 0.0f);
    const int tail0 = n / V::lanes * V::lanes;
    for (int l = 0; l < V::lanes; ++l)
        tail_bias[l] = tail0 + l >= n ? -std::numeric_limits<float>::infinity()
                                      : a.key_bias ? a.key_bias[tail0 + l] : 0.0f;
    // V copied even when its rows are whole panels: read in place (rows ld_qkv apart) it is slower.
    for (int j = 0; j < n; ++j) {
        std::memcpy(vp + size_t(j) * dpad, a.v + size_t(j) * a.ld_qkv, size_t(d) * sizeof(float));
        std::fill(vp + size_t(j) * dpad + d, vp + size_t(j + 1) * dpad, 0.0f);
    }
    AttnCtx cx{&a, kt, vp, npad, dpad, tail_bias};
    // Rows split evenly into blocks of at most RMAX, so no block is pathologically thin.
    const int first = a.row_begin, rows = a.rows_end() - first;
    const int blocks = (rows + RMAX - 1) / RMAX;
    for (int b = 0; b < blocks; ++b) {
        int i0, i1;
        split_range(rows, blocks, b, &i0, &i1);
        i0 += first;
        i1 += first;
        with_count<RMAX>(i1 - i0, [&](auto r) { attn_rows<V, decltype(r)::value, NPMAX>(cx, i0, srow); });
    }
}

}  // namespace simd
}  // namespace pomt

namespace pomt {
namespace simd {

// round_row_to_bf16 per level: to bf16 values, a vector at a time with V::store_bf16; to floats
// (the widen variant's A), the loop the level's flags vectorize.
template <class V, class Out>
void round_bf16_row(const float* x, int n, Out* out) {
    int i = 0;
    if constexpr (sizeof(Out) == 2)
        for (; i + V::lanes <= n; i += V::lanes) V::store_bf16(out + i, V::load(x + i));
    for (; i < n; ++i) {
        uint32_t u;
        std::memcpy(&u, x + i, 4);
        u = bf16_rounded_bits(u);
        if constexpr (sizeof(Out) == 2) out[i] = Out(u >> 16);
        else std::memcpy(out + i, &u, 4);
    }
}

// bf16 attention's packing of one head's K and V (bf16_head_pack, kernels/attention_bf16.h) over
// tokens [token0, token1), instantiated per level. K: token j is column j of a 16-token panel, its
// bf16 pairs as 32-bit words one pair row (16 words) apart; a whole panel's rows are rounded into
// a buffer and its words transposed in TransposeBlock<V> blocks, the rest one word at a time. V:
// tokens 2g and 2g+1 share pair row g, one word per column (head_dim padded to 16 with zeros), a
// word rounded from both rows at once so the loop vectorizes. Scattered a word at a time, with V's
// pairs built from two rounded rows, packing took 8–9 % of DeiT-Small int8 with bf16 attention
// (perf); this, 4 %.
template <class V>
void pack_bf16_head(const float* k, const float* v, int ld, int n, int d, int token0, int token1, uint16_t* k_panels,
                    uint16_t* v_panels) {
    constexpr int P = kGemmPanel, B = TransposeBlock<V>::size, WMAX = kMaxBf16HeadDim / 2;
    const int W = (d + 1) / 2;  // words per token (an odd head_dim's last word: a zero high half)
    const size_t k_panel = size_t(P) * W;
    auto words_of = [&](int j) { return k_panels + (size_t(j / P) * k_panel + j % P) * 2; };  // word 0 of token j
    auto round_row = [&](const float* x, uint16_t* w) {
        w[2 * W - 1] = 0;
        round_bf16_row<V, uint16_t>(x, d, w);
    };
    alignas(64) uint16_t rows[P][2 * WMAX];
    auto scatter = [&](int j, const uint16_t* w) {  // token j's words, one at a time
        uint16_t* col = words_of(j);
        for (int g = 0; g < W; ++g) std::memcpy(col + size_t(g) * P * 2, w + 2 * g, 4);
    };
    const int wb = B ? W / B * B : 0;
    for (int j0 = token0; j0 < token1;) {
        const int j1 = std::min(token1, (j0 / P + 1) * P);
        if (B > 0 && j0 % P == 0 && j1 - j0 == P) {
            for (int t = 0; t < P; ++t) round_row(k + size_t(j0 + t) * ld, rows[t]);
            uint16_t* panel = words_of(j0);
            // The words as floats: TransposeBlock only moves bits.
            for (int t0 = 0; t0 < P; t0 += B)
                for (int g0 = 0; g0 < wb; g0 += B)
                    TransposeBlock<V>::block(reinterpret_cast<const float*>(rows[t0] + 2 * g0), WMAX,
                                             reinterpret_cast<float*>(panel + (size_t(g0) * P + t0) * 2), P);
            for (int t = 0; t < P; ++t)
                for (int g = wb; g < W; ++g) std::memcpy(panel + (size_t(g) * P + t) * 2, rows[t] + 2 * g, 4);
        } else {
            for (int j = j0; j < j1; ++j) {
                round_row(k + size_t(j) * ld, rows[0]);
                scatter(j, rows[0]);
            }
        }
        j0 = j1;
    }
    const bool last = token1 == n;
    if (last) {  // the columns past the last token, zero
        std::memset(rows[0], 0, sizeof(rows[0]));
        for (int j = n; j % P; ++j) scatter(j, rows[0]);
    }
    const int kv = (n + 31) / 32 * 32, dpad = (d + P - 1) / P * P;
    const size_t v_panel = size_t(P) * kv;
    for (int j = token0; j < (last ? kv : token1); j += 2) {
        const float* v0 = j < n ? v + size_t(j) * ld : nullptr;
        const float* v1 = j + 1 < n ? v + size_t(j + 1) * ld : nullptr;
        for (int c0 = 0; c0 < dpad; c0 += P) {
            uint32_t* word = reinterpret_cast<uint32_t*>(v_panels + size_t(c0 / P) * v_panel) + size_t(j / 2) * P;
            if (v0 && v1 && c0 + P <= d) {
                for (int c = 0; c < P; ++c) {
                    uint32_t lo, hi;
                    std::memcpy(&lo, v0 + c0 + c, 4);
                    std::memcpy(&hi, v1 + c0 + c, 4);
                    word[c] = (bf16_rounded_bits(lo) >> 16) | (bf16_rounded_bits(hi) & 0xffff0000u);
                }
            } else {
                for (int c = 0; c < P; ++c) {
                    uint32_t lo = 0, hi = 0;
                    if (c0 + c < d) {
                        if (v0) std::memcpy(&lo, v0 + c0 + c, 4);
                        if (v1) std::memcpy(&hi, v1 + c0 + c, 4);
                    }
                    word[c] = (bf16_rounded_bits(lo) >> 16) | (bf16_rounded_bits(hi) & 0xffff0000u);
                }
            }
        }
    }
}

// bf16 attention's softmax (kernels/attention_bf16.h): x = fma(scale, x, bias_j) (bias null: +0)
// fused into the max pass, then softmax_row's exp and normalisation (the same bits), then p =
// bf16(x) over npad values, the padding zero (P·V's A operand).
// Rows of 16 or more columns take their columns past the last 16-column block as whole vectors:
// the last 16 columns, [n − 16, n), read before the block loop overwrites the part they share
// with it and written after it (the shared part gets the same values twice), their sum added one
// by one after the blocks' as softmax_row adds its tail. The scalar tail cost a row of 197 columns
// a fifth of its time; the max runs in two chains. The normalisation stores each vector's bf16
// rounding as it goes (V::store_bf16), instead of a rounding pass over the row.
template <class V>
void softmax_bf16_row(float* x, int n, float scale, const float* bias, uint16_t* p, int npad) {
    using T = typename V::T;
    constexpr int L = V::lanes, PV = 16 / L;
    const int n16 = n / 16 * 16, tail = n - n16;
    const T s = V::set1(scale);
    auto logit = [&](int i) { return V::fmadd(s, V::load(x + i), bias ? V::load(bias + i) : V::zero()); };
    if (n < 16) {
        float mx = -std::numeric_limits<float>::infinity();
        for (int i = 0; i < n; ++i) mx = std::max(mx, x[i] = std::fma(scale, x[i], bias ? bias[i] : 0.0f));
        softmax_after_max<V>(x, n, mx);
    } else {
        float* last = x + n - 16;
        T v[PV];
        // Max: two chains over the blocks, then the last 16 columns.
        for (int j = 0; j < PV; ++j) v[j] = logit(n - 16 + j * L);
        T m0 = V::set1(-std::numeric_limits<float>::infinity()), m1 = m0;
        int i = 0;
        for (; i + 32 <= n16; i += 32)
            for (int j = 0; j < PV; ++j) {
                const T y0 = logit(i + j * L), y1 = logit(i + 16 + j * L);
                V::store(x + i + j * L, y0);
                V::store(x + i + 16 + j * L, y1);
                m0 = V::max(m0, y0);
                m1 = V::max(m1, y1);
            }
        for (; i < n16; i += L) {
            const T y = logit(i);
            V::store(x + i, y);
            m0 = V::max(m0, y);
        }
        if (tail)
            for (int j = 0; j < PV; ++j) {
                V::store(last + j * L, v[j]);
                m1 = V::max(m1, v[j]);
            }
        const T m = V::set1(V::hmax(V::max(m0, m1)));  // a max is exact in any order
        // e = exp(x − max) and the sum: softmax_after_max's blocks, then the last columns.
        for (int j = 0; j < PV; ++j) v[j] = V::sub(V::load(last + j * L), m);
        exp_n<V, PV>(v);
        T sv[PV];
        for (int j = 0; j < PV; ++j) sv[j] = V::zero();
        constexpr int G = PV >= 4 ? 1 : 4 / PV;
        for (i = 0; i + 16 * G <= n16; i += 16 * G) {
            T e[G * PV];
            for (int b = 0; b < G * PV; ++b) e[b] = V::sub(V::load(x + i + b * L), m);
            exp_n<V, G * PV>(e);
            for (int b = 0; b < G * PV; ++b) {
                V::store(x + i + b * L, e[b]);
                sv[b % PV] = V::add(sv[b % PV], e[b]);
            }
        }
        for (; i < n16; i += 16)
            for (int j = 0; j < PV; ++j) {
                T e = exp<V>(V::sub(V::load(x + i + j * L), m));
                V::store(x + i + j * L, e);
                sv[j] = V::add(sv[j], e);
            }
        float sum = reduce_add16<V>(sv);
        if (tail) {
            alignas(64) float t[16];
            for (int j = 0; j < PV; ++j) {
                V::store(t + j * L, v[j]);
                V::store(last + j * L, v[j]);
            }
            for (int j = 16 - tail; j < 16; ++j) sum += t[j];
        }
        // e·(1/sum) and its bf16 rounding in one pass, the last columns' products taken before the
        // blocks change the shared part.
        const T iv = V::set1(1.0f / sum);
        for (int j = 0; j < PV; ++j) v[j] = V::mul(V::load(last + j * L), iv);
        for (i = 0; i < n16; i += L) {
            const T y = V::mul(V::load(x + i), iv);
            V::store(x + i, y);
            V::store_bf16(p + i, y);
        }
        if (tail)
            for (int j = 0; j < PV; ++j) {
                V::store(last + j * L, v[j]);
                V::store_bf16(p + n - 16 + j * L, v[j]);
            }
    }
    if (n < 16) round_bf16_row<V, uint16_t>(x, n, p);
    for (int i = n; i < npad; ++i) p[i] = 0;
}

}  // namespace simd
}  // namespace pomt

// int8 attention's fast path: its softmax is softmax_row above.
#include "kernels/attention_int8_impl.h"

namespace pomt {
namespace simd {

// A level's kernel table: every entry instantiated for V, with the tiles of `Tiles` (gemm_rows,
// gemm_panels, attn_rows, attn_panels: rows × 16-column panels) and fma_chains chains in the FMA probe.
template <class V, class Tiles>
constexpr IsaKernels kernel_table(Isa isa) {
    return {isa,
            gemm_tile_dispatch<V, Tiles::gemm_rows, Tiles::gemm_panels>,
            Tiles::gemm_rows,
            Tiles::gemm_panels,
            gelu_array<V, false>,
            gelu_array<V, true>,
            quick_gelu_array<V>,
            softmax_row<V>,
            layernorm_rows<V>,
            attention<V, Tiles::attn_rows, Tiles::attn_panels>,
            attention_int8<V>,
            attention_int8_scores<V>,
            attention_int8_pv<V>,
            head_max_column_sums<V>,
            round_bf16_row<V, uint16_t>,
            round_bf16_row<V, float>,
            softmax_bf16_row<V>,
            pack_bf16_head<V>,
            fma_loop<V, Tiles::fma_chains>,
            Tiles::fma_chains * V::lanes};
}

}  // namespace simd
}  // namespace pomt
