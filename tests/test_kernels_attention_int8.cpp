// int8 attention (kernels/attention_int8.h) at every int8 variant and fp32 level this CPU has: the
// quantized Q, K, V equal quantize_rows_reference's bytes; the Q·Kᵀ and P'·V sums equal int64
// sums of the same bytes exactly (worst cases included); the float output equals the double
// evaluation of the same quantized operands; the bits do not depend on the variant (at one fp32
// level) or on how the query rows are split; and the result stays near fp32 attention.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "doctest/doctest.h"
#include "kernels/attention.h"
#include "kernels/attention_int8.h"
#include "kernels/gemm_int8.h"
#include "kernels/gemm_int8_kernels.h"
#include "kernels/quantize.h"
#include "tests/test_util.h"

using namespace pomt;
using pomt_test::for_each_int8_variant;
using pomt_test::random_floats;

namespace {

// One head in memory of its own (int8_head_in), quantized token by token from float Q, K, V
// [n × d] (row stride ld), as the forward pass does.
struct OwnedHead {
    std::vector<float> memory;
    Int8Head h;

    OwnedHead(int n, int d) : memory(int8_head_floats(n, d)), h(int8_head_in(memory.data(), n, d)) {}
    void fill(const float* qf, const float* kf, const float* vf, int ld) {
        int8_head_clear(h);
        for (int j = 0; j < h.tokens; ++j) {
            int8_head_quantize_q(h, j, qf + size_t(j) * ld);
            int8_head_quantize_kv(h, j, kf + size_t(j) * ld, vf + size_t(j) * ld);
        }
        int8_head_finish(h);
    }
};

struct Inputs {
    int n, d;
    std::vector<float> q, k, v, bias;
};

Inputs random_inputs(int n, int d, unsigned seed, float spread = 1.5f) {
    Inputs in{n, d, random_floats(size_t(n) * d, seed, -spread, spread), random_floats(size_t(n) * d, seed + 1, -spread, spread),
              random_floats(size_t(n) * d, seed + 2, -1.0f, 1.0f), random_floats(size_t(n), seed + 3, -1.0f, 0.0f)};
    // An offset per token, so the asymmetric ranges (o ≠ 0) are exercised.
    for (int j = 0; j < n; ++j)
        for (int c = 0; c < d; ++c) in.k[size_t(j) * d + c] += 0.3f * float(j % 5), in.v[size_t(j) * d + c] -= 0.2f * float(j % 3);
    return in;
}

struct Output {
    std::vector<float> out, probs;
    std::vector<int32_t> acc_qk, acc_pv;
    std::vector<int8_t> pq;
    std::vector<float> ps, po;
};

// Runs the fast path on rows [r0, r1) of `head` (with a trace) into `o` (sized for every row).
void run_rows(const Int8Head& head, const Inputs& in, bool bias, int r0, int r1, Output& o) {
    const int n = in.n, d = in.d, ldp = quantized_row_bytes(n);
    AttentionHeadInt8 a;
    a.head = &head;
    a.scale = 1.0f / std::sqrt(float(d));
    a.key_bias = bias ? in.bias.data() : nullptr;
    a.out = o.out.data();
    a.ld_out = d;
    a.probs = o.probs.data();
    a.row_begin = r0;
    a.row_end = r1;
    Int8AttentionTrace t;
    t.acc_qk = o.acc_qk.data() + size_t(r0) * n;
    t.acc_pv = o.acc_pv.data() + size_t(r0) * d;
    t.p_q = o.pq.data() + size_t(r0) * ldp;
    t.p_scale = o.ps.data() + r0;
    t.p_offset = o.po.data() + r0;
    attention_head_int8(a, &t);
}

Output run_all(const Int8Head& head, const Inputs& in, bool bias, int parts = 1) {
    const int n = in.n, d = in.d;
    Output o{std::vector<float>(size_t(n) * d), std::vector<float>(size_t(n) * n), std::vector<int32_t>(size_t(n) * n),
             std::vector<int32_t>(size_t(n) * d), std::vector<int8_t>(size_t(n) * quantized_row_bytes(n)),
             std::vector<float>(size_t(n)), std::vector<float>(size_t(n))};
    for (int p = 0; p < parts; ++p) run_rows(head, in, bias, n * p / parts, n * (p + 1) / parts, o);
    return o;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// The checks that need no second run: quantized operands against the reference quantizer,
// integer sums against int64 sums of the same bytes, the floats against the double evaluation.
void check_exact(const OwnedHead& oh, const Inputs& in, const Output& o, bool bias) {
    const int n = in.n, d = in.d, ldq = quantized_row_bytes(d), ldp = quantized_row_bytes(n);
    // Q, K, V bytes and parameters: quantize_rows_reference of each token's segment.
    std::vector<int8_t> row(static_cast<size_t>(ldq));
    float s, off;
    QuantizedRows ref;
    ref.rows = 1, ref.k = d, ref.ld = ldq, ref.q = row.data(), ref.scale = &s, ref.offset = &off;
    std::vector<int8_t> kq(size_t(n) * d), vq(size_t(d) * n);
    unpack_int8_panels(oh.h.k_panels, n, d, kq.data());
    unpack_int8_panels(oh.h.v_panels, d, n, vq.data());
    int bad = 0;
    for (int j = 0; j < n; ++j) {
        quantize_rows_reference(in.q.data() + size_t(j) * d, d, 1, d, ref);
        bad += std::memcmp(row.data(), oh.h.q.q + size_t(j) * ldq, size_t(ldq)) != 0 || s != oh.h.q.scale[j] || off != oh.h.q.offset[j];
        quantize_rows_reference(in.k.data() + size_t(j) * d, d, 1, d, ref);
        bad += std::memcmp(row.data(), kq.data() + size_t(j) * d, size_t(d)) != 0 || s != oh.h.k_scale[j] || off != oh.h.k_offset[j];
        int32_t ks = 0;
        for (int c = 0; c < d; ++c) ks += row[size_t(c)];
        bad += ks != oh.h.k_sum[j];
        quantize_rows_reference(in.v.data() + size_t(j) * d, d, 1, d, ref);
        for (int c = 0; c < d; ++c) bad += row[size_t(c)] != vq[size_t(c) * n + j];
        bad += s != oh.h.v_scale[j] || off != oh.h.v_offset[j];
    }
    CHECK(bad == 0);
    // Integer sums.
    int wrong_qk = 0, wrong_pv = 0;
    for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j) {
            int64_t acc = 0;
            for (int c = 0; c < d; ++c) acc += int64_t(oh.h.q.q[size_t(i) * ldq + c]) * kq[size_t(j) * d + c];
            wrong_qk += acc != o.acc_qk[size_t(i) * n + j];
        }
        for (int c = 0; c < d; ++c) {
            int64_t acc = 0;
            for (int j = 0; j < n; ++j) acc += int64_t(o.pq[size_t(i) * ldp + j]) * vq[size_t(c) * n + j];
            wrong_pv += acc != o.acc_pv[size_t(i) * d + c];
        }
    }
    CHECK(wrong_qk == 0);
    CHECK(wrong_pv == 0);
    // The floats: the double evaluation of the fast path's own operands (its P' included).
    double worst_p = 0, worst_out = 0, scale_out = 1e-30;
    for (int i = 0; i < n; ++i) {
        std::vector<double> logit(static_cast<size_t>(n));
        for (int j = 0; j < n; ++j) {
            double dot = 0;
            for (int c = 0; c < d; ++c)
                dot += (double(oh.h.q.scale[i]) * oh.h.q.q[size_t(i) * ldq + c] + oh.h.q.offset[i]) *
                       (double(oh.h.k_scale[j]) * kq[size_t(j) * d + c] + oh.h.k_offset[j]);
            logit[size_t(j)] = dot / std::sqrt(double(d)) + (bias ? in.bias[size_t(j)] : 0.0);
        }
        const double mx = *std::max_element(logit.begin(), logit.end());
        double sum = 0;
        for (double& x : logit) sum += x = std::exp(x - mx);
        double t = 0;
        for (int j = 0; j < n; ++j) {
            const double p = logit[size_t(j)] / sum;
            worst_p = std::max(worst_p, std::fabs(p - o.probs[size_t(i) * n + j]));
            t += p * oh.h.v_offset[j];
        }
        for (int c = 0; c < d; ++c) {
            double acc = 0;
            for (int j = 0; j < n; ++j)
                acc += (double(o.ps[i]) * o.pq[size_t(i) * ldp + j] + o.po[i]) * vq[size_t(c) * n + j];
            const double want = acc + t;
            scale_out = std::max(scale_out, std::fabs(want));
            worst_out = std::max(worst_out, std::fabs(want - o.out[size_t(i) * d + c]));
        }
    }
    INFO("max |Δp| " << worst_p << ", max |Δout| " << worst_out << " of max |out| " << scale_out);
    CHECK(worst_p <= 2e-6);
    CHECK(worst_out <= 1e-5 * scale_out + 1e-6);
}

}  // namespace

TEST_CASE("int8 attention: exact sums, the reference's bytes and floats, at every variant and level") {
    std::vector<std::pair<int, int>> shapes = {{1, 16}, {2, 8}, {5, 32}, {17, 64}, {33, 64}, {50, 64}, {197, 64}};
    for (int n = 3; n <= 33; n += 5) shapes.push_back({n, 24});
    unsigned seed = 1;
    for (const auto& shape : shapes) {  // not a structured binding: lambdas capture n, d (C++17)
        const int n = shape.first, d = shape.second;
        CAPTURE(n);
        CAPTURE(d);
        const Inputs in = random_inputs(n, d, seed += 7);
        pomt_test::for_each_isa([&](Isa) {
            for_each_int8_variant([&](const char*) {
                for (bool bias : {false, true}) {
                    OwnedHead oh(n, d);
                    oh.fill(in.q.data(), in.k.data(), in.v.data(), d);
                    const Output o = run_all(oh.h, in, bias);
                    check_exact(oh, in, o, bias);
                }
            });
        });
    }
}

// What the forward pass calls (one token of every head, from a qkv row) against the per-head
// calls the tests above use: the same bytes, scales, offsets and sums. Tokens in any order, as
// threads may quantize them; V's panels are padded where tokens or columns are not whole groups.
TEST_CASE("int8 attention: int8_heads_quantize_token equals the per-head calls, byte for byte") {
    for (const auto& shape : std::vector<std::pair<int, int>>{{13, 24}, {197, 64}, {6, 80}}) {
        const int n = shape.first, d = shape.second, H = 3, D = H * d;
        CAPTURE(n);
        CAPTURE(d);
        const std::vector<float> qkv = random_floats(size_t(n) * 3 * D, 17 + unsigned(n), -2.0f, 2.0f);
        for_each_int8_variant([&](const char*) {
            std::vector<OwnedHead> want, got;  // reserved: each Int8Head points into its own memory
            want.reserve(H);
            got.reserve(H);
            for (int h = 0; h < H; ++h) want.emplace_back(n, d), got.emplace_back(n, d);
            std::vector<Int8Head> heads;
            for (int h = 0; h < H; ++h) {
                int8_head_clear(want[size_t(h)].h);
                for (int j = 0; j < n; ++j) {
                    const float* row = qkv.data() + size_t(j) * 3 * D + h * d;
                    int8_head_quantize_q(want[size_t(h)].h, j, row);
                    int8_head_quantize_kv(want[size_t(h)].h, j, row + D, row + 2 * D);
                }
                int8_head_finish(want[size_t(h)].h);
                // Garbage where the fast path must write everything itself.
                std::fill(got[size_t(h)].memory.begin(), got[size_t(h)].memory.end(), -7.5f);
                int8_head_clear(got[size_t(h)].h);
                heads.push_back(got[size_t(h)].h);
            }
            for (int j = n - 1; j >= 0; --j) {  // queries, then keys and values, as the pooled block does
                const float* row = qkv.data() + size_t(j) * 3 * D;
                int8_heads_quantize_token(heads.data(), H, j, row, nullptr, nullptr);
                int8_heads_quantize_token(heads.data(), H, j, nullptr, row + D, row + 2 * D);
            }
            for (int h = 0; h < H; ++h) {
                int8_head_finish(got[size_t(h)].h);
                const Int8Head &a = want[size_t(h)].h, &b = got[size_t(h)].h;
                const size_t qbytes = size_t(n) * a.q.ld;
                CHECK(std::memcmp(a.q.q, b.q.q, qbytes) == 0);
                CHECK(std::memcmp(a.k_panels, b.k_panels, int8_head_k_bytes(n, d)) == 0);
                CHECK(std::memcmp(a.v_panels, b.v_panels, int8_head_v_bytes(n, d)) == 0);
                CHECK(std::memcmp(a.k_sum, b.k_sum, size_t(n) * 4) == 0);
                CHECK(std::memcmp(a.v_sum, b.v_sum, size_t(d) * 4) == 0);
                for (const auto& pr : {std::make_pair(a.q.scale, b.q.scale), std::make_pair(a.q.offset, b.q.offset),
                                       std::make_pair(a.k_scale, b.k_scale), std::make_pair(a.k_offset, b.k_offset),
                                       std::make_pair(a.v_scale, b.v_scale), std::make_pair(a.v_offset, b.v_offset)})
                    CHECK(std::memcmp(pr.first, pr.second, size_t(n) * sizeof(float)) == 0);
                // The panels' padding is zero: every byte past the last token or column.
                std::vector<int8_t> vq(size_t(d) * n);
                unpack_int8_panels(b.v_panels, d, n, vq.data());
                std::vector<int8_t> repacked(int8_head_v_bytes(n, d));
                pack_int8_panels(vq.data(), d, n, repacked.data());
                CHECK(std::memcmp(repacked.data(), b.v_panels, repacked.size()) == 0);
            }
        });
    }
}

TEST_CASE("int8 attention: the same bits at every int8 variant of a level and every split of the rows") {
    for (const auto& shape : std::vector<std::pair<int, int>>{{13, 32}, {197, 64}, {50, 80}}) {
        const int n = shape.first, d = shape.second;
        CAPTURE(n);
        const Inputs in = random_inputs(n, d, 99 + unsigned(n));
        pomt_test::for_each_isa([&](Isa) {
            std::vector<float> first_out, first_probs;
            for_each_int8_variant([&](const char*) {
                OwnedHead oh(n, d);
                oh.fill(in.q.data(), in.k.data(), in.v.data(), d);
                const Output whole = run_all(oh.h, in, true);
                for (int parts : {2, 3, 7}) {
                    const Output split = run_all(oh.h, in, true, std::min(parts, n));
                    CHECK(same_bits(split.out, whole.out));
                    CHECK(same_bits(split.probs, whole.probs));
                }
                if (first_out.empty()) {
                    first_out = whole.out, first_probs = whole.probs;
                } else {
                    CHECK(same_bits(whole.out, first_out));
                    CHECK(same_bits(whole.probs, first_probs));
                }
            });
        });
    }
}

TEST_CASE("int8 attention: worst cases (every value at ±127) and long sequences stay exact") {
    // Q and K rows of alternating extremes quantize to ±127; with head_dim 256 a Q·Kᵀ sum reaches
    // 127²·256 = 4.1e6. A 1370-token sequence of equal logits gives P' rows of equal values
    // (a constant row: q = 0, its offset carries it) and one of a peaked row.
    for (const auto& shape : std::vector<std::pair<int, int>>{{40, 256}, {1370, 64}}) {
        const int n = shape.first, d = shape.second;
        CAPTURE(n);
        Inputs in = random_inputs(n, d, 5);
        for (int j = 0; j < n; ++j)
            for (int c = 0; c < d; ++c) {
                const float sgn = ((j + c) % 2) ? 1.0f : -1.0f;
                in.q[size_t(j) * d + c] = (c % 2) ? 3.0f : -3.0f;
                in.k[size_t(j) * d + c] = n > 100 ? 1.0f : sgn * 3.0f;
                in.v[size_t(j) * d + c] = sgn * 2.0f;
            }
        for_each_int8_variant([&](const char*) {
            OwnedHead oh(n, d);
            oh.fill(in.q.data(), in.k.data(), in.v.data(), d);
            const Output o = run_all(oh.h, in, false);
            check_exact(oh, in, o, false);
        });
    }
}

TEST_CASE("int8 attention: near fp32 attention on the same inputs") {
    // The quantization effect, not a bug: a relative L2 error of about 1 % at 8 bits.
    for (auto [n, d] : std::vector<std::pair<int, int>>{{197, 64}, {50, 32}}) {
        const Inputs in = random_inputs(n, d, 41);
        OwnedHead oh(n, d);
        oh.fill(in.q.data(), in.k.data(), in.v.data(), d);
        const Output o = run_all(oh.h, in, true);
        std::vector<float> want(size_t(n) * d);
        AttentionHead f;
        f.tokens = n;
        f.head_dim = d;
        f.scale = 1.0f / std::sqrt(float(d));
        f.q = in.q.data(), f.k = in.k.data(), f.v = in.v.data();
        f.ld_qkv = d;
        f.key_bias = in.bias.data();
        f.out = want.data();
        f.ld_out = d;
        attention_head_reference(f);
        double num = 0, den = 0;
        for (size_t i = 0; i < want.size(); ++i) num += std::pow(double(o.out[i]) - want[i], 2), den += std::pow(double(want[i]), 2);
        const double rel = std::sqrt(num / den);
        INFO("relative L2 error against fp32 attention: " << rel);
        CHECK(rel > 1e-4);  // it is quantized
        CHECK(rel < 0.01);
    }
}
