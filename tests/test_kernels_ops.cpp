// Attention, LayerNorm, softmax and GELU against their readable references at every ISA level.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/isa.h"
#include "kernels/norms.h"
#include "kernels/reductions.h"
#include "tests/test_util.h"

using namespace pomt;
using pomt_test::for_each_isa;
using pomt_test::random_floats;

namespace {

// q, k, v of one head inside a [tokens × 3·heads·d] qkv buffer, as the model lays them out.
void check_attention(int tokens, int d, bool bias, bool probs, float logit_gain) {
    const int heads = 2, dim = heads * d, ld_qkv = 3 * dim, h = 1;
    std::vector<float> qkv = random_floats(size_t(tokens) * ld_qkv, unsigned(tokens * 31 + d), -logit_gain, logit_gain);
    std::vector<float> kb = random_floats(tokens, unsigned(tokens + 5), -2.0f, 0.0f);
    AttentionHead a;
    a.tokens = tokens;
    a.head_dim = d;
    a.scale = 1.0f / std::sqrt(float(d));
    a.q = qkv.data() + h * d;
    a.k = qkv.data() + dim + h * d;
    a.v = qkv.data() + 2 * dim + h * d;
    a.ld_qkv = ld_qkv;
    a.key_bias = bias ? kb.data() : nullptr;
    a.ld_out = dim + 3;

    std::vector<float> ref_out(size_t(tokens) * a.ld_out, 0.0f), ref_probs(size_t(tokens) * tokens);
    AttentionHead r = a;
    r.out = ref_out.data();
    r.probs = ref_probs.data();
    attention_head_reference(r);

    for_each_isa([&](Isa isa) {
        std::string isa_str = isa_name(isa);
        CAPTURE(isa_str);
        CAPTURE(tokens);
        CAPTURE(d);
        CAPTURE(bias);
        CAPTURE(probs);
        const float guard_value = -777.0f;
        std::vector<float> out(size_t(tokens) * a.ld_out, guard_value), pr(size_t(tokens) * tokens, -1.0f);
        AttentionHead f = a;
        f.out = out.data();
        f.probs = probs ? pr.data() : nullptr;
        attention_head(f);
        int bad = 0;
        for (int i = 0; i < tokens; ++i) {
            for (int c = 0; c < d; ++c) {
                float got = out[size_t(i) * a.ld_out + c], want = ref_out[size_t(i) * a.ld_out + c];
                if (!(std::fabs(got - want) <= 2e-5f * logit_gain + 1e-6f)) {
                    if (!bad) std::printf("  out(%d,%d): got %.9g want %.9g\n", i, c, got, want);
                    ++bad;
                }
            }
            for (int c = d; c < a.ld_out; ++c)
                if (out[size_t(i) * a.ld_out + c] != guard_value) ++bad;  // writes only head_dim values
            if (probs)
                for (int j = 0; j < tokens; ++j) {
                    float got = pr[size_t(i) * tokens + j], want = ref_probs[size_t(i) * tokens + j];
                    if (!(std::fabs(got - want) <= 2e-6f + 1e-5f * want)) {
                        if (!bad) std::printf("  probs(%d,%d): got %.9g want %.9g\n", i, j, got, want);
                        ++bad;
                    }
                }
        }
        CHECK(bad == 0);
        // Query rows split into ranges (as threads split a head): the same bits, nothing outside
        // a range written.
        for (int parts : {2, 3}) {
            std::vector<float> out2(out.size(), guard_value), pr2(pr.size(), -1.0f);
            AttentionHead g = f;
            g.out = out2.data();
            g.probs = probs ? pr2.data() : nullptr;
            for (int p = 0; p < parts; ++p) {
                g.row_begin = p * tokens / parts;
                g.row_end = (p + 1) * tokens / parts;
                attention_head(g);
            }
            CAPTURE(parts);
            CHECK(std::memcmp(out2.data(), out.data(), out.size() * sizeof(float)) == 0);
            if (probs) CHECK(std::memcmp(pr2.data(), pr.data(), pr.size() * sizeof(float)) == 0);
        }
        AttentionHead none = f;
        std::vector<float> untouched(out.size(), guard_value);
        none.out = untouched.data();
        none.probs = nullptr;
        none.row_begin = none.row_end = tokens / 2;
        attention_head(none);
        CHECK(std::count(untouched.begin(), untouched.end(), guard_value) == long(untouched.size()));
    });
}

}  // namespace

TEST_CASE("attention: token counts 1..33 and 197, with/without key bias and probs") {
    for (int tokens = 1; tokens <= 33; ++tokens)
        for (int d : {1, 7, 16, 64})
            for (int bias = 0; bias < 2; ++bias)
                for (int probs = 0; probs < 2; ++probs) check_attention(tokens, d, bias, probs, 1.0f);
    for (int bias = 0; bias < 2; ++bias)
        for (int probs = 0; probs < 2; ++probs) {
            check_attention(197, 64, bias, probs, 1.0f);
            check_attention(50, 32, bias, probs, 1.0f);
        }
}

TEST_CASE("attention: large logits stay stable") {
    check_attention(49, 64, true, true, 6.0f);
    check_attention(17, 48, false, false, 8.0f);
}

// The vector kernels transpose K in register blocks (edges one value at a time) and pad the last
// vector of logits with −inf: token counts around the block and vector edges, head_dims that are not
// a multiple of 16, and a long sequence.
TEST_CASE("attention: block edges of the transposed K, odd head_dims, 577 tokens") {
    for (int tokens : {34, 47, 48, 49, 63, 64, 65, 99})
        for (int d : {4, 8, 24, 48, 80})
            for (int bias = 0; bias < 2; ++bias) check_attention(tokens, d, bias, bias == 1, 1.0f);
    check_attention(577, 64, true, false, 1.0f);
    check_attention(577, 64, false, true, 1.0f);
}

// The output does not depend on whether the probabilities are stored (a pruner asking for them must
// not change the model's result).
TEST_CASE("attention: the same output bits with and without probs") {
    for_each_isa([&](Isa isa) {
        std::string isa_str = isa_name(isa);
        CAPTURE(isa_str);
        for (int tokens : {5, 50, 197}) {
            const int d = 64, ld = 3 * d;
            std::vector<float> qkv = random_floats(size_t(tokens) * ld, unsigned(tokens + 99));
            std::vector<float> kb = random_floats(tokens, unsigned(tokens + 7), -2.0f, 0.0f);
            std::vector<float> out1(size_t(tokens) * d), out2(size_t(tokens) * d), pr(size_t(tokens) * tokens);
            AttentionHead a;
            a.tokens = tokens;
            a.head_dim = d;
            a.scale = 0.125f;
            a.q = qkv.data();
            a.k = qkv.data() + d;
            a.v = qkv.data() + 2 * d;
            a.ld_qkv = ld;
            a.key_bias = kb.data();
            a.ld_out = d;
            a.out = out1.data();
            attention_head(a);
            a.out = out2.data();
            a.probs = pr.data();
            attention_head(a);
            CAPTURE(tokens);
            CHECK(std::memcmp(out1.data(), out2.data(), out1.size() * sizeof(float)) == 0);
        }
    });
}

TEST_CASE("softmax: against the double reference at every ISA level") {
    for_each_isa([&](Isa isa) {
        std::string isa_str = isa_name(isa);
        CAPTURE(isa_str);
        std::vector<int> sizes;
        for (int n = 1; n <= 33; ++n) sizes.push_back(n);
        for (int n : {49, 50, 64, 197, 577, 1000}) sizes.push_back(n);
        for (int n : sizes)
            for (float gain : {1.0f, 30.0f, 200.0f}) {
                std::vector<float> x = random_floats(n, unsigned(n * 3 + int(gain)), -gain, gain), want(n);
                softmax_reference(x.data(), want.data(), n);
                softmax_inplace(x.data(), n);
                int bad = 0;
                double sum = 0;
                for (int i = 0; i < n; ++i) {
                    if (!(std::fabs(x[i] - want[i]) <= 1e-6f + 1e-5f * want[i])) ++bad;
                    sum += x[i];
                }
                CAPTURE(n);
                CAPTURE(gain);
                CHECK(bad == 0);
                CHECK(std::fabs(sum - 1.0) < 1e-5);
            }
        // Equal logits, and -inf entries (masked tokens) that must come out as exactly 0.
        std::vector<float> x(37, 2.5f);
        softmax_inplace(x.data(), 37);
        for (float v : x) CHECK(v == doctest::Approx(1.0 / 37).epsilon(1e-6));
        std::vector<float> y = random_floats(29, 9);
        y[3] = y[28] = -std::numeric_limits<float>::infinity();
        softmax_inplace(y.data(), 29);
        CHECK(y[3] == 0.0f);
        CHECK(y[28] == 0.0f);
    });
}

TEST_CASE("gelu_inplace: within 1e-6 of the erf form over a wide range, every ISA level") {
    std::vector<float> xs;
    for (double x = -40; x <= 40; x += 1.0 / 4096) xs.push_back(float(x));
    for (float x : {1e3f, -1e3f, 1e6f, -1e6f, 3e38f, -3e38f, 0.0f, -0.0f, 1e-30f, -1e-30f, 5.65f, -5.65f, 5.7f})
        xs.push_back(x);
    for_each_isa([&](Isa isa) {
        std::string isa_str = isa_name(isa);
        CAPTURE(isa_str);
        // Odd lengths and offsets exercise the vector tails.
        for (size_t off : {size_t(0), size_t(1), size_t(3)}) {
            std::vector<float> y(xs.begin() + off, xs.end());
            gelu_inplace(y.data(), y.size());
            int bad = 0;
            double worst = 0;
            for (size_t i = 0; i < y.size(); ++i) {
                double x = xs[i + off];
                double want = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
                double err = std::fabs(y[i] - want);
                // Past |x| = 2^23 one float ulp exceeds 1e-6; there the result must be x itself (or 0).
                double tol = std::fabs(x) > 1e6 ? 0.0 : 1e-6;
                if (!(err <= tol)) {
                    if (!bad) std::printf("  gelu(%.9g) = %.9g, want %.9g\n", x, y[i], want);
                    ++bad;
                }
                if (std::fabs(x) < 1e6) worst = std::max(worst, err);
                // Agrees with the scalar gelu_erf (the std::erf form in float) as well.
                if (!(std::fabs(y[i] - gelu_erf(float(x))) <= 1e-6 + 1e-7 * std::fabs(x))) ++bad;
            }
            CHECK(bad == 0);
            CHECK(worst < 1e-6);
        }
    });
}

// Float bit patterns rather than a uniform step: every exponent from 2^-20 up to 8 (where the
// polynomial and its clamp at |x| = 5.5 live) with scattered mantissas, both signs, plus the floats
// right around the clamp. Every level (scalar included) computes the same formula with the same
// exact IEEE operations, so they must also agree bit for bit.
TEST_CASE("gelu_inplace: float bit patterns up to |x| = 8 and the clamp edge, same bits at every level") {
    std::vector<float> xs;
    auto from_bits = [](uint32_t b) {
        float f;
        std::memcpy(&f, &b, 4);
        return f;
    };
    for (uint32_t b = 0x35800000u; b < 0x41000000u; b += 997) xs.push_back(from_bits(b));  // [2^-20, 8)
    float up = 5.5f, down = 5.5f;
    xs.push_back(5.5f);
    for (int k = 0; k < 64; ++k) {  // 64 floats either side of the clamp
        xs.push_back(up = std::nextafter(up, 10.0f));
        xs.push_back(down = std::nextafter(down, 0.0f));
    }
    const size_t half = xs.size();
    for (size_t i = 0; i < half; ++i) xs.push_back(-xs[i]);
    std::vector<float> first;
    for_each_isa([&](Isa isa) {
        std::string isa_str = isa_name(isa);
        CAPTURE(isa_str);
        std::vector<float> y = xs;
        gelu_inplace(y.data(), y.size());
        int bad = 0;
        double worst = 0, worst_x = 0;
        for (size_t i = 0; i < y.size(); ++i) {
            double x = xs[i];
            double want = x < 0 ? 0.5 * x * std::erfc(-x / std::sqrt(2.0)) : x - 0.5 * x * std::erfc(x / std::sqrt(2.0));
            double err = std::fabs(y[i] - want);
            if (!(err <= 1e-6)) ++bad;
            if (err > worst) worst = err, worst_x = x;
        }
        CAPTURE(worst_x);
        CHECK(bad == 0);
        CHECK(worst < 1e-6);
        if (first.empty())
            first = y;
        else
            CHECK(std::memcmp(first.data(), y.data(), y.size() * sizeof(float)) == 0);
    });
}

// The scalar level is the vector levels' templates over a one-float "vector" (kernels/simd.h
// VecF1), and softmax keeps 16 partial sums reduced in one fixed tree whatever the width, so
// softmax and GELU give the same bits at every level: checked against the scalar level for each
// vector level of this architecture; a level the CPU lacks is skipped, visibly.
TEST_CASE("softmax and gelu: bit-identical at the scalar and every vector level") {
    std::vector<std::vector<float>> rows;
    std::vector<int> sizes;
    for (int n = 1; n <= 48; ++n) sizes.push_back(n);
    for (int n : {49, 50, 64, 65, 96, 145, 196, 197, 577, 1000}) sizes.push_back(n);
    for (int n : sizes)
        for (float gain : {1.0f, 30.0f, 200.0f}) {
            rows.push_back(random_floats(n, unsigned(n * 7 + int(gain)), -gain, gain));
            if (n >= 3) rows.back()[size_t(n) / 3] = -std::numeric_limits<float>::infinity();  // a masked token
        }
    std::vector<float> xs;
    for (double x = -12; x <= 12; x += 1.0 / 1024) xs.push_back(float(x));
    std::vector<float> wide = random_floats(100003, 17, -1e4f, 1e4f);  // odd length: the vector tails
    xs.insert(xs.end(), wide.begin(), wide.end());
    for (float x : {0.0f, -0.0f, 1e-30f, -1e-30f, 5.5f, -5.5f, 3e38f, -3e38f}) xs.push_back(x);

    auto run = [&](std::vector<std::vector<float>>* soft, std::vector<float>* gel) {
        *soft = rows;
        for (std::vector<float>& r : *soft) softmax_inplace(r.data(), int(r.size()));
        *gel = xs;
        gelu_inplace(gel->data(), gel->size());
    };
    // for_each_isa runs the scalar level first and prints a SKIP line for levels the CPU lacks.
    std::vector<std::vector<float>> soft_scalar, soft;
    std::vector<float> gelu_scalar, gel;
    pomt_test::for_each_isa([&](Isa isa) {
        if (isa == Isa::Scalar) {
            run(&soft_scalar, &gelu_scalar);
            return;
        }
        REQUIRE(!soft_scalar.empty());
        std::string isa_str = isa_name(isa);
        CAPTURE(isa_str);
        run(&soft, &gel);
        int bad_rows = 0;
        for (size_t i = 0; i < rows.size(); ++i)
            if (std::memcmp(soft[i].data(), soft_scalar[i].data(), rows[i].size() * sizeof(float)) != 0) {
                if (!bad_rows) std::printf("  softmax row of %zu differs at %s\n", rows[i].size(), isa_str.c_str());
                ++bad_rows;
            }
        CHECK(bad_rows == 0);
        size_t bad = 0;
        for (size_t i = 0; i < xs.size(); ++i)
            if (std::memcmp(&gel[i], &gelu_scalar[i], sizeof(float)) != 0 && !(std::isnan(gel[i]) && std::isnan(gelu_scalar[i]))) {
                if (!bad) std::printf("  gelu(%.9g): %.9g at %s, %.9g at scalar\n", xs[i], gel[i], isa_str.c_str(), gelu_scalar[i]);
                ++bad;
            }
        CHECK(bad == 0);
    });
}

TEST_CASE("gelu_inplace: NaN stays NaN and the tails are exact at every ISA level") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> xs = {nan, 6.0f, -6.0f, 100.0f, -100.0f, 3e38f, -3e38f, nan, 1.0f};
    for_each_isa([&](Isa isa) {
        std::string isa_str = isa_name(isa);
        CAPTURE(isa_str);
        for (size_t n : {xs.size(), size_t(1), size_t(17)}) {  // the vector body and the scalar tail
            std::vector<float> y(n);
            for (size_t i = 0; i < n; ++i) y[i] = xs[i % xs.size()];
            gelu_inplace(y.data(), n);
            for (size_t i = 0; i < n; ++i) {
                float x = xs[i % xs.size()];
                CAPTURE(x);
                if (std::isnan(x))
                    CHECK(std::isnan(y[i]));
                else if (std::fabs(x) >= 100.0f)
                    CHECK(y[i] == (x > 0 ? x : 0.0f));
            }
        }
    });
}

// QuickGELU x·σ(1.702x) against the double-precision formula: every float bit pattern from 2^-20
// up to 64 (the exp's whole useful range, both signs, with scattered mantissas) plus a uniform grid,
// the clamp of the exp (x ≈ −51.7) and huge values; bit-identical at every level (one formula of
// exact IEEE operations), and quick_gelu_reference within 1 float ulp-scale of the same formula.
TEST_CASE("quick_gelu_inplace: against the double formula over every exponent, same bits at every level") {
    std::vector<float> xs;
    auto from_bits = [](uint32_t b) {
        float f;
        std::memcpy(&f, &b, 4);
        return f;
    };
    for (uint32_t b = 0x35800000u; b < 0x42800000u; b += 613) xs.push_back(from_bits(b));  // [2^-20, 64)
    for (double x = 0; x <= 40; x += 1.0 / 1024) xs.push_back(float(x));
    for (float x : {0.0f, 1e-30f, 51.0f, 51.7f, 51.8f, 52.0f, 60.0f, 100.0f, 1e3f, 1e6f, 3e38f}) xs.push_back(x);
    const size_t half = xs.size();
    for (size_t i = 0; i < half; ++i) xs.push_back(-xs[i]);
    std::vector<float> first;
    for_each_isa([&](Isa isa) {
        std::string isa_str = isa_name(isa);
        CAPTURE(isa_str);
        for (size_t off : {size_t(0), size_t(1), size_t(3)}) {  // odd lengths: the vector tails
            std::vector<float> y(xs.begin() + off, xs.end());
            quick_gelu_inplace(y.data(), y.size());
            int bad = 0;
            double worst = 0, worst_x = 0;
            for (size_t i = 0; i < y.size(); ++i) {
                const double x = xs[i + off];
                const double want = x / (1.0 + std::exp(-1.702 * x));
                // A few float roundings (the exp's ~1 ulp, the sum, the division), plus the rounding of
                // the exp's argument −1.702·x, which e^t turns into a relative error of |t|·2^-24;
                // absolute 1e-30 where the result is ~0 (x below −40).
                const double ulp = 1.0 / 16777216.0;
                const double tol = (8 + 2 * 1.702 * std::fabs(x)) * ulp * std::fabs(want) + 1e-30;
                const double err = std::fabs(y[i] - want);
                if (!(err <= tol)) {
                    if (!bad) std::printf("  quick_gelu(%.9g) = %.9g, want %.9g\n", x, y[i], want);
                    ++bad;
                }
                if (err / (std::fabs(want) + 1e-30) > worst) worst = err / (std::fabs(want) + 1e-30), worst_x = x;
                if (!(std::fabs(quick_gelu_reference(float(x)) - want) <= 0.6e-7 * std::fabs(want) + 1e-37)) ++bad;
            }
            CAPTURE(worst);
            CAPTURE(worst_x);
            CHECK(bad == 0);
            if (off == 0) {
                if (first.empty()) first = y;
                else CHECK(std::memcmp(first.data(), y.data(), y.size() * sizeof(float)) == 0);
            }
        }
    });
}

TEST_CASE("quick_gelu_inplace: NaN stays NaN, large |x| gives x or 0 at every ISA level") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> xs = {nan, 100.0f, -100.0f, 3e38f, -3e38f, 1.0f, nan, 20.0f, -1e4f};
    for_each_isa([&](Isa isa) {
        std::string isa_str = isa_name(isa);
        CAPTURE(isa_str);
        for (size_t n : {xs.size(), size_t(1), size_t(17)}) {
            std::vector<float> y(n);
            for (size_t i = 0; i < n; ++i) y[i] = xs[i % xs.size()];
            quick_gelu_inplace(y.data(), n);
            for (size_t i = 0; i < n; ++i) {
                const float x = xs[i % xs.size()];
                CAPTURE(x);
                if (std::isnan(x)) CHECK(std::isnan(y[i]));
                else if (x >= 100.0f) CHECK(y[i] == x);
                else if (x <= -100.0f) CHECK(std::fabs(y[i]) <= 1e-30f);
            }
        }
    });
}

TEST_CASE("layernorm: against the double reference at every ISA level, in place too") {
    for_each_isa([&](Isa isa) {
        std::string isa_str = isa_name(isa);
        CAPTURE(isa_str);
        std::vector<int> dims;
        for (int d = 1; d <= 33; ++d) dims.push_back(d);
        for (int d : {48, 64, 192, 384, 768, 1000}) dims.push_back(d);
        for (int dim : dims)
            for (float offset : {0.0f, 50.0f}) {
                const int rows = 5, ld = dim + 7;
                std::vector<float> x = random_floats(size_t(rows) * ld, unsigned(dim), -2.0f, 2.0f);
                for (float& v : x) v += offset;  // a large mean tests the two-pass variance
                std::vector<float> g = random_floats(dim, 2, 0.5f, 1.5f), b = random_floats(dim, 3);
                std::vector<float> want(size_t(rows) * ld, 0.0f), got(size_t(rows) * ld, -5.0f);
                layernorm_reference(x.data(), ld, want.data(), ld, rows, dim, g.data(), b.data(), 1e-6f);
                layernorm(x.data(), ld, got.data(), ld, rows, dim, g.data(), b.data(), 1e-6f);
                std::vector<float> inplace = x;
                layernorm(inplace.data(), ld, inplace.data(), ld, rows, dim, g.data(), b.data(), 1e-6f);
                int bad = 0;
                for (int r = 0; r < rows; ++r)
                    for (int i = 0; i < ld; ++i) {
                        size_t at = size_t(r) * ld + i;
                        if (i >= dim) {
                            if (got[at] != -5.0f || inplace[at] != x[at]) ++bad;  // untouched past dim
                            continue;
                        }
                        float tol = 2e-5f * (1.0f + std::fabs(want[at]));
                        if (!(std::fabs(got[at] - want[at]) <= tol)) ++bad;
                        if (inplace[at] != got[at]) ++bad;  // in place gives the same bits
                    }
                CAPTURE(dim);
                CAPTURE(offset);
                CHECK(bad == 0);
            }
    });
}

TEST_CASE("head_max_column_sums: bit-identical to the readable loop at every ISA level and shape") {
    for_each_isa([&](Isa isa) {
        for (int heads : {1, 2, 3, 12})
            for (int cols : {1, 7, 15, 16, 17, 33, 47, 196}) {
                const int rows = 16, ld = cols + 5;  // rows are ld apart, heads rows·ld + 3 apart
                const size_t head_stride = size_t(rows) * ld + 3;
                std::vector<float> a = random_floats(head_stride * heads, unsigned(heads * 1000 + cols), 0.0f, 1.0f);
                for (int r : {1, 5, rows}) {
                    std::vector<float> fast(size_t(cols), -1.0f), ref(size_t(cols), -2.0f);
                    head_max_column_sums(a.data(), head_stride, ld, heads, r, cols, fast.data());
                    for (int j = 0; j < cols; ++j) {  // the definition, written out
                        float sum = 0.0f;
                        for (int i = 0; i < r; ++i) {
                            float m = a[size_t(i) * ld + j];
                            for (int h = 1; h < heads; ++h) m = std::max(m, a[h * head_stride + size_t(i) * ld + j]);
                            sum += m;
                        }
                        ref[size_t(j)] = sum;
                    }
                    INFO(isa_name(isa) << " heads " << heads << " cols " << cols << " rows " << r);
                    CHECK(std::memcmp(fast.data(), ref.data(), ref.size() * sizeof(float)) == 0);
                }
            }
    });
}

// Activation::GeluFast (kernels/gemm.h): every level gives gelu_fast_reference's bits (the same
// IEEE operations in the same order), which stay within 8.1e-5 of the erf form (the fit's 8.0e-5
// plus float rounding) and are exactly x or 0 from the clamp at |x| = 4.2 on. Inputs: a fine
// uniform grid, float bit patterns from 2^-20 to 8 with both signs, the floats around the clamp,
// huge values, zeros, NaN; offsets 0, 1, 3 run the vector body, the single vectors and the tail.
TEST_CASE("gelu_fast_inplace: gelu_fast_reference's bits at every level, within 8.1e-5 of GELU") {
    auto from_bits = [](uint32_t b) {
        float f;
        std::memcpy(&f, &b, 4);
        return f;
    };
    std::vector<float> xs;
    for (double x = -40; x <= 40; x += 1.0 / 4096) xs.push_back(float(x));
    for (uint32_t b = 0x35800000u; b < 0x41000000u; b += 997) xs.push_back(from_bits(b)), xs.push_back(-from_bits(b));
    float up = 4.2f, down = 4.2f;
    for (int k = 0; k < 64; ++k) {
        up = std::nextafter(up, 10.0f);
        down = std::nextafter(down, 0.0f);
        for (float v : {up, down, -up, -down}) xs.push_back(v);
    }
    for (float x : {1e3f, -1e3f, 1e6f, -1e6f, 3e38f, -3e38f, 0.0f, -0.0f, 1e-30f, -1e-30f, 1e-40f})
        xs.push_back(x);
    xs.push_back(std::numeric_limits<float>::quiet_NaN());
    const float clamp = 1.0f / kGeluFastInvRange;
    for_each_isa([&](Isa isa) {
        std::string isa_str = isa_name(isa);
        CAPTURE(isa_str);
        for (size_t off : {size_t(0), size_t(1), size_t(3)}) {
            std::vector<float> y(xs.begin() + off, xs.end());
            gelu_fast_inplace(y.data(), y.size());
            int not_reference = 0, far = 0, not_exact = 0;
            double worst = 0, worst_x = 0;
            for (size_t i = 0; i < y.size(); ++i) {
                const float x = xs[i + off], want_bits = gelu_fast_reference(x);
                if (std::isnan(x)) {
                    not_reference += !std::isnan(y[i]);
                    continue;
                }
                not_reference += std::memcmp(&y[i], &want_bits, 4) != 0;
                const double xd = x;
                const double gelu = xd < 0 ? 0.5 * xd * std::erfc(-xd / std::sqrt(2.0))
                                           : xd - 0.5 * xd * std::erfc(xd / std::sqrt(2.0));
                const double err = std::fabs(double(y[i]) - gelu);
                if (std::fabs(xd) < 1e6 && err > worst) worst = err, worst_x = xd;
                // Past 2^23 one ulp of x exceeds the bound; there the result must be x or 0 itself.
                far += !(err <= (std::fabs(xd) > 1e6 ? 0.0 : 8.1e-5));
                if (std::fabs(x) >= clamp) not_exact += y[i] != (x > 0 ? x : 0.0f);
            }
            CAPTURE(worst_x);
            CHECK(not_reference == 0);
            CHECK(far == 0);
            CHECK(not_exact == 0);
            CHECK(worst < 8.1e-5);
        }
    });
}
