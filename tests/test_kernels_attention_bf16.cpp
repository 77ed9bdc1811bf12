// bf16 attention (kernels/attention_bf16.h) at every bf16 variant and fp32 level this CPU has: K
// and V packed as pack_bf16_panels packs them (the padding zero); the Q·Kᵀ sums equal
// gemm_bf16_reference's in the variant's order bit for bit; the probabilities equal the scalar
// level's softmax of those sums, rounded; P·V equals gemm_bf16_reference on that P bit for bit;
// the bits do not depend on how the query rows are split or how the packing is split; the whole
// stays within bf16's rounding of the double reference and near fp32 attention.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "kernels/attention.h"
#include "kernels/attention_bf16.h"
#include "kernels/bf16.h"
#include "kernels/dispatch.h"
#include "kernels/isa.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_bf16_kernels.h"
#include "tests/test_util.h"
#include "tests/test_util_logits.h"

using namespace pomt;
using pomt_test::for_each_bf16_variant;
using pomt_test::random_floats;

namespace {

struct Inputs {
    int n, d;
    std::vector<float> q, k, v, bias;  // [n × d] each (row stride d), bias [n]
};

Inputs random_inputs(int n, int d, unsigned seed) {
    Inputs in{n, d, random_floats(size_t(n) * d, seed, -2.0f, 2.0f), random_floats(size_t(n) * d, seed + 1, -2.0f, 2.0f),
              random_floats(size_t(n) * d, seed + 2, -1.0f, 1.0f), random_floats(size_t(n), seed + 3, -1.0f, 0.0f)};
    return in;
}

// One head in memory of its own, packed in `parts` token ranges (even boundaries), the memory
// filled with a NaN pattern first so that padding left unwritten shows.
struct OwnedHead {
    std::vector<float> memory;
    Bf16Head h;
    OwnedHead(const Inputs& in, int parts = 1)
        : memory(bf16_head_floats(in.n, in.d), std::nanf("")), h(bf16_head_in(memory.data(), in.n, in.d)) {
        const int step = std::max(2, (in.n / parts + 1) / 2 * 2);
        for (int j0 = 0; j0 < in.n; j0 += step)
            bf16_head_pack(h, in.k.data(), in.v.data(), in.d, j0, std::min(in.n, j0 + step));
    }
};

struct Output {
    std::vector<float> out, probs, sums;
    std::vector<uint16_t> p;
};

Output run(const Bf16Head& h, const Inputs& in, bool bias, int parts = 1) {
    const int n = in.n, d = in.d, kv = bf16_head_v_inputs(n);
    Output o{std::vector<float>(size_t(n) * d, -7.0f), std::vector<float>(size_t(n) * n), std::vector<float>(size_t(n) * n),
             std::vector<uint16_t>(size_t(n) * kv)};
    for (int part = 0; part < parts; ++part) {
        AttentionHeadBf16 a;
        a.head = &h;
        a.q = in.q.data();
        a.ld_q = d;
        a.scale = 1.0f / std::sqrt(float(d));
        a.key_bias = bias ? in.bias.data() : nullptr;
        a.out = o.out.data();
        a.ld_out = d;
        a.probs = o.probs.data();
        a.row_begin = n * part / parts;
        a.row_end = n * (part + 1) / parts;
        Bf16AttentionTrace t;
        t.sums = o.sums.data() + size_t(a.row_begin) * n;
        t.p = o.p.data() + size_t(a.row_begin) * kv;
        attention_head_bf16(a, &t);
    }
    return o;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void check_exact(const OwnedHead& oh, const Inputs& in, const Output& o, bool bias) {
    const int n = in.n, d = in.d, kv = bf16_head_v_inputs(n);
    const Bf16Order order = active_bf16_kernels().order;
    // The packing: K and V as pack_bf16_panels would pack [n × d] and [d × kv] (V transposed,
    // zero past the last token).
    std::vector<uint16_t> kp(bf16_panel_elems(n, d)), vp(bf16_panel_elems(d, kv));
    pack_bf16_panels(in.k.data(), n, d, kp.data());
    std::vector<float> vt(size_t(d) * kv, 0.0f);
    for (int j = 0; j < n; ++j)
        for (int c = 0; c < d; ++c) vt[size_t(c) * kv + j] = in.v[size_t(j) * d + c];
    pack_bf16_panels(vt.data(), d, kv, vp.data());
    CHECK(std::memcmp(kp.data(), oh.h.k_panels, kp.size() * 2) == 0);
    CHECK(std::memcmp(vp.data(), oh.h.v_panels, vp.size() * 2) == 0);
    // S = Q·Kᵀ in the variant's order.
    std::vector<float> sums(size_t(n) * n);
    gemm_bf16_reference(n, in.q.data(), d, oh.h.k_weights(), sums.data(), n, Epilogue(), order);
    CHECK(same_bits(o.sums, sums));
    // P: softmax_row (the fp32 softmax, the same bits at every level) of fma(scale, S, bias), then
    // rounded to bf16; and the scalar level's softmax_bf16 gives exactly that.
    std::vector<uint16_t> p(size_t(n) * kv, 0);
    std::vector<float> probs(size_t(n) * n);
    const float scale = 1.0f / std::sqrt(float(d));
    for (int i = 0; i < n; ++i) {
        float* x = probs.data() + size_t(i) * n;
        for (int j = 0; j < n; ++j) x[j] = std::fma(scale, sums[size_t(i) * n + j], bias ? in.bias[size_t(j)] : 0.0f);
        kernels_for(Isa::Scalar).softmax(x, n);
        for (int j = 0; j < n; ++j) p[size_t(i) * kv + j] = bf16_from_float(x[j]);
        std::vector<float> y(sums.begin() + ptrdiff_t(i) * n, sums.begin() + ptrdiff_t(i + 1) * n);
        std::vector<uint16_t> yq(size_t(kv), 1);
        kernels_for(Isa::Scalar).softmax_bf16(y.data(), n, scale, bias ? in.bias.data() : nullptr, yq.data(), kv);
        CHECK(same_bits(y, std::vector<float>(x, x + n)));
        CHECK(std::equal(yq.begin(), yq.end(), p.begin() + ptrdiff_t(i) * kv));
    }
    CHECK(o.p == p);
    CHECK(same_bits(o.probs, probs));
    // out = P·V in the variant's order.
    std::vector<float> pf(p.size()), out(size_t(n) * d);
    for (size_t i = 0; i < p.size(); ++i) pf[i] = bf16_to_float(p[i]);
    gemm_bf16_reference(n, pf.data(), kv, oh.h.v_weights(), out.data(), d, Epilogue(), order);
    CHECK(same_bits(o.out, out));
}

}  // namespace

TEST_CASE("bf16 attention: packing, exact sums in the variant's order, the softmax's bits, at every variant and level") {
    std::vector<std::pair<int, int>> shapes = {{1, 16}, {2, 8}, {5, 32}, {17, 64}, {31, 64}, {32, 64},
                                               {33, 64}, {50, 64}, {197, 64}, {9, 33}, {40, 48}, {65, 80}};
    unsigned seed = 3;
    for (const auto& shape : shapes) {  // not a structured binding: lambdas capture n, d (C++17)
        const int n = shape.first, d = shape.second;
        CAPTURE(n);
        CAPTURE(d);
        const Inputs in = random_inputs(n, d, seed += 11);
        pomt_test::for_each_isa([&](Isa) {
            for_each_bf16_variant([&](const char*) {
                for (bool bias : {false, true}) {
                    CAPTURE(bias);
                    const OwnedHead oh(in);
                    check_exact(oh, in, run(oh.h, in, bias), bias);
                }
            });
        });
    }
}

TEST_CASE("bf16 attention's softmax: every level gives the scalar level's bits, also for −inf and huge logits") {
    // The levels round P as they normalise (each V's store_bf16): every row length around the
    // vector widths, rows with −inf (a masked key) or logits far apart (probabilities that flush,
    // and subnormal ones). Not NaN or +inf logits (x − max is then NaN): the exp's clamps turn a
    // NaN into a number on x86 (MINPS returns its second operand) and keep it on Arm (FMIN
    // propagates it), a gap softmax_row shares.
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> specials = {-inf, 1e30f, -1e30f, 80.0f, -80.0f, 0.0f};
    uint32_t state = 99;
    auto next = [&] { return state = state * 1664525u + 1013904223u; };
    int rows = 0;
    for (int n = 1; n <= 70; ++n)
        for (int kind = 0; kind < 4; ++kind) {
            CAPTURE(n);
            CAPTURE(kind);
            std::vector<float> s(static_cast<size_t>(n)), bias(static_cast<size_t>(n));
            for (int j = 0; j < n; ++j) {
                s[size_t(j)] = float(int(next() % 2001) - 1000) * (kind == 3 ? 0.2f : 0.01f);
                bias[size_t(j)] = -float(next() % 100) * 0.01f;
            }
            if (kind == 1 || kind == 2) s[next() % unsigned(n)] = specials[next() % specials.size()];
            if (kind == 2) s[next() % unsigned(n)] = specials[next() % specials.size()];
            const int kv = (n + 31) / 32 * 32;
            std::vector<float> want_x = s;
            std::vector<uint16_t> want_p(size_t(kv), 1);
            kernels_for(Isa::Scalar).softmax_bf16(want_x.data(), n, 0.125f, bias.data(), want_p.data(), kv);
            pomt_test::for_each_isa([&](Isa isa) {
                const std::string level = isa_name(isa);
                CAPTURE(level);
                std::vector<float> x = s;
                std::vector<uint16_t> p(size_t(kv), 1);
                active_kernels().softmax_bf16(x.data(), n, 0.125f, bias.data(), p.data(), kv);
                CHECK(same_bits(x, want_x));
                CHECK(p == want_p);
            });
            ++rows;
        }
    CHECK(rows == 280);
}

TEST_CASE("bf16 attention: every split of the rows and of the packing gives the same bits") {
    for (const auto& shape : std::vector<std::pair<int, int>>{{13, 32}, {197, 64}, {71, 80}}) {
        const int n = shape.first, d = shape.second;
        CAPTURE(n);
        const Inputs in = random_inputs(n, d, 77 + unsigned(n));
        for_each_bf16_variant([&](const char*) {
            const OwnedHead whole_pack(in);
            const Output whole = run(whole_pack.h, in, true);
            for (int parts : {2, 3, 7}) {
                CAPTURE(parts);
                const OwnedHead split_pack(in, parts);
                CHECK(std::memcmp(split_pack.memory.data(), whole_pack.memory.data(), whole_pack.memory.size() * 4) == 0);
                const Output split = run(whole_pack.h, in, true, std::min(parts, n));
                CHECK(same_bits(split.out, whole.out));
                CHECK(same_bits(split.probs, whole.probs));
            }
        });
    }
}

TEST_CASE("bf16 attention: within bf16's rounding of the double reference, and near fp32 attention") {
    for (const auto& shape : std::vector<std::pair<int, int>>{{197, 64}, {50, 32}, {577, 64}}) {
        const int n = shape.first, d = shape.second;
        CAPTURE(n);
        const Inputs in = random_inputs(n, d, 41 + unsigned(n));
        AttentionHead f;
        f.tokens = n;
        f.head_dim = d;
        f.scale = 1.0f / std::sqrt(float(d));
        f.q = in.q.data();
        f.k = in.k.data();
        f.v = in.v.data();
        f.ld_qkv = d;
        f.key_bias = in.bias.data();
        f.ld_out = d;
        std::vector<float> ref(size_t(n) * d), ref_probs(size_t(n) * n), fp32(size_t(n) * d);
        f.out = ref.data();
        f.probs = ref_probs.data();
        attention_head_bf16_reference(f);
        f.out = fp32.data();
        f.probs = nullptr;
        attention_head_reference(f);
        const double to_fp32 = pomt_test::relative_l2(ref, fp32);
        INFO("bf16 reference vs fp32 attention, relative L2 " << to_fp32);
        CHECK(to_fp32 > 1e-4);  // the roundings are there
        CHECK(to_fp32 < 1e-2);  // and only they: 8 significant bits
        for_each_bf16_variant([&](const char*) {
            const OwnedHead oh(in);
            const Output o = run(oh.h, in, true);
            // The fast path's float sums and softmax differ from the double ones in the last bits, so
            // a probability at a rounding boundary goes one bf16 step (2^-8 of it) the other way:
            // each output moves by at most 2^-8 of Σ p·|v| ≤ max |v| = 1 from those, plus float error.
            double worst = 0, worst_p = 0;
            for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, double(std::fabs(o.out[i] - ref[i])));
            for (size_t i = 0; i < ref_probs.size(); ++i)
                worst_p = std::max(worst_p, double(std::fabs(o.probs[i] - ref_probs[i])));
            INFO("largest output difference " << worst << ", probability difference " << worst_p);
            CHECK(worst <= 0x1p-8);
            CHECK(worst_p <= 1e-3);  // Q and K rounded the same; the sums' order only
            CHECK(pomt_test::relative_l2(o.out, ref) < 0.1 * to_fp32);
        });
    }
}
