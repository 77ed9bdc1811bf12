// GEMM against the readable reference at every ISA level this CPU has: awkward shapes, every
// epilogue (incl. in-place residual), strided operands, and bit-identical results for 1, 2 and 3
// threads and across repeated runs.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "kernels/gemm.h"
#include "kernels/isa.h"
#include "kernels/threads.h"
#include "tests/test_util.h"

using namespace pomt;
using pomt_test::for_each_isa;
using pomt_test::random_floats;

namespace {

ThreadPool* pool_of(int threads) {
    static std::unique_ptr<ThreadPool> pools[4];
    if (!pools[threads]) pools[threads].reset(new ThreadPool(threads));
    return pools[threads].get();
}

enum class Ep { None, Bias, BiasGelu, BiasGeluFast, BiasQuickGelu, Residual, ResidualScale, InPlace, InPlaceScaleNoBias };
const Ep kAllEps[] = {Ep::None,          Ep::Bias,     Ep::BiasGelu,      Ep::BiasGeluFast,      Ep::BiasQuickGelu,
                      Ep::Residual,      Ep::ResidualScale, Ep::InPlace, Ep::InPlaceScaleNoBias};
const char* ep_name(Ep e) {
    switch (e) {
        case Ep::None: return "none";
        case Ep::Bias: return "bias";
        case Ep::BiasGelu: return "bias+gelu";
        case Ep::BiasGeluFast: return "bias+gelu_fast";
        case Ep::BiasQuickGelu: return "bias+quick_gelu";
        case Ep::Residual: return "bias+residual";
        case Ep::ResidualScale: return "bias+residual*scale";
        case Ep::InPlace: return "bias+residual in place";
        case Ep::InPlaceScaleNoBias: return "residual*scale in place, no bias";
    }
    return "?";
}

// One GEMM problem with strided operands (lda > k, ldc > n) and its reference result.
struct Problem {
    int m, n, k, lda, ldc;
    std::vector<float> a, w, bias, scale, residual;  // residual has row stride ldc
    PackedWeights packed;
    std::vector<float> raw;  // gemm_reference without epilogue, [m×n]
    std::vector<float> mag;  // Σ|a||w| per element: the scale of rounding error

    Problem(int m_, int n_, int k_, unsigned seed) : m(m_), n(n_), k(k_), lda(k_ + 3), ldc(n_ + 5) {
        a = random_floats(size_t(m) * lda, seed);
        w = random_floats(size_t(n) * k, seed + 1);
        bias = random_floats(n, seed + 2);
        scale = random_floats(n, seed + 3, 0.1f, 2.0f);
        residual = random_floats(size_t(m) * ldc, seed + 4, -3.0f, 3.0f);
        packed = pack_weights(w.data(), n, k);
        raw.resize(size_t(m) * n);
        gemm_reference(m, n, k, a.data(), lda, w.data(), k, raw.data(), n, Epilogue());
        mag.resize(size_t(m) * n);
        for (int i = 0; i < m; ++i)
            for (int j = 0; j < n; ++j) {
                double s = 0;
                for (int p = 0; p < k; ++p) s += std::fabs(double(a[size_t(i) * lda + p]) * w[size_t(j) * k + p]);
                mag[size_t(i) * n + j] = float(s);
            }
    }

    // The reference with epilogue e, from raw exactly as gemm_reference applies it.
    float expected(Ep e, int i, int j) const {
        float v = raw[size_t(i) * n + j];
        if (e != Ep::None && e != Ep::InPlaceScaleNoBias) v += bias[j];
        if (e == Ep::BiasGelu) v = gelu_erf(v);
        if (e == Ep::BiasGeluFast) v = gelu_fast_reference(v);
        if (e == Ep::BiasQuickGelu) v = quick_gelu_reference(v);
        bool res = e == Ep::Residual || e == Ep::ResidualScale || e == Ep::InPlace || e == Ep::InPlaceScaleNoBias;
        bool sc = e == Ep::ResidualScale || e == Ep::InPlaceScaleNoBias;
        if (res) v = residual[size_t(i) * ldc + j] + (sc ? scale[j] : 1.0f) * v;
        return v;
    }

    // Runs the fast path; returns C with row stride ldc (guard columns included).
    std::vector<float> run(Ep e, ThreadPool* pool) const {
        std::vector<float> c(size_t(m) * ldc, 1234.5f);  // guard values past n must survive
        Epilogue ep;
        if (e != Ep::None && e != Ep::InPlaceScaleNoBias) ep.bias = bias.data();
        ep.act = e == Ep::BiasGelu       ? Activation::Gelu
                 : e == Ep::BiasGeluFast  ? Activation::GeluFast
                 : e == Ep::BiasQuickGelu ? Activation::QuickGelu
                                          : Activation::None;
        if (e == Ep::Residual || e == Ep::ResidualScale) {
            ep.residual = residual.data();
            ep.ld_residual = ldc;
        }
        if (e == Ep::InPlace || e == Ep::InPlaceScaleNoBias) {
            for (int i = 0; i < m; ++i) std::memcpy(&c[size_t(i) * ldc], &residual[size_t(i) * ldc], n * 4);
            ep.residual = c.data();
            ep.ld_residual = ldc;
        }
        if (e == Ep::ResidualScale || e == Ep::InPlaceScaleNoBias) ep.scale = scale.data();
        gemm(m, a.data(), lda, packed, c.data(), ldc, ep, pool);
        return c;
    }

    // Counts elements outside tolerance (and damaged guard columns); reports the first.
    int check(Ep e, const std::vector<float>& c) const {
        int bad = 0;
        for (int i = 0; i < m; ++i) {
            for (int j = 0; j < n; ++j) {
                float got = c[size_t(i) * ldc + j], want = expected(e, i, j);
                float tol = 2e-6f * mag[size_t(i) * n + j] + 2e-6f * std::fabs(want) + 1e-6f;
                if (!(std::fabs(got - want) <= tol)) {
                    if (bad == 0)
                        std::printf("  mismatch m=%d n=%d k=%d ep=%s at (%d,%d): got %.9g want %.9g\n", m, n, k,
                                    ep_name(e), i, j, got, want);
                    ++bad;
                }
            }
            for (int j = n; j < ldc; ++j) {
                if (c[size_t(i) * ldc + j] != 1234.5f) {
                    if (bad == 0) std::printf("  m=%d n=%d k=%d: guard column %d of row %d overwritten\n", m, n, k, j, i);
                    ++bad;
                }
            }
        }
        return bad;
    }
};

// Checks one shape at every ISA level, with the given epilogues; when `threads` is set, also
// that 1, 2 and 3 threads and a repeated run give bit-identical results.
void check_shape(int m, int n, int k, const std::vector<Ep>& eps, bool threads) {
    Problem pr(m, n, k, unsigned(m * 7919 + n * 104729 + k * 13));
    for_each_isa([&](Isa isa) {
        for (Ep e : eps) {
            std::string isa_str = isa_name(isa);
        CAPTURE(isa_str);
            CAPTURE(ep_name(e));
            CAPTURE(m);
            CAPTURE(n);
            CAPTURE(k);
            std::vector<float> c1 = pr.run(e, nullptr);
            CHECK(pr.check(e, c1) == 0);
            if (!threads) continue;
            for (int t : {1, 2, 3}) {
                std::vector<float> ct = pr.run(e, pool_of(t));
                CHECK(std::memcmp(ct.data(), c1.data(), c1.size() * 4) == 0);
            }
            std::vector<float> again = pr.run(e, pool_of(2));
            CHECK(std::memcmp(again.data(), c1.data(), c1.size() * 4) == 0);
        }
    });
}

}  // namespace

TEST_CASE("gemm: every M in 1..33 against the reference, all ISA levels") {
    for (int m = 1; m <= 33; ++m)
        for (int n : {1, 16, 17, 33, 48})
            for (int k : {1, 3, 17, 33}) check_shape(m, n, k, {Ep::Bias}, false);
}

TEST_CASE("gemm: every N in 1..33 against the reference, all ISA levels") {
    for (int n = 1; n <= 33; ++n)
        for (int m : {1, 5, 14, 33})
            for (int k : {2, 16, 31}) check_shape(m, n, k, {Ep::Bias, Ep::InPlace}, false);
}

TEST_CASE("gemm: every K in 1..33 against the reference, all ISA levels") {
    for (int k = 1; k <= 33; ++k)
        for (int m : {1, 7, 29})
            for (int n : {8, 32, 50}) check_shape(m, n, k, {Ep::None}, false);
}

TEST_CASE("gemm: every epilogue on small awkward shapes, threads 1/2/3 bit-identical") {
    const int ms[] = {1, 2, 3, 13, 31, 49};
    const int ns[] = {1, 15, 16, 17, 47, 49, 96};
    const int ks[] = {1, 7, 32, 50};
    std::vector<Ep> eps(std::begin(kAllEps), std::end(kAllEps));
    for (int m : ms)
        for (int n : ns)
            for (int k : ks) check_shape(m, n, k, eps, true);
}

TEST_CASE("gemm: token counts of ViTs (49, 50, 96, 145, 196, 197, 577)") {
    std::vector<Ep> eps(std::begin(kAllEps), std::end(kAllEps));
    for (int m : {49, 50, 96, 145, 196, 197})
        for (int n : {96, 145})
            for (int k : {50, 197}) check_shape(m, n, k, eps, true);
    check_shape(577, 197, 96, {Ep::Bias, Ep::InPlace}, true);
}

TEST_CASE("gemm: ViT Linear sizes (N, K up to 3072)") {
    check_shape(197, 768, 768, {Ep::Bias, Ep::InPlace}, true);
    check_shape(50, 3072, 768, {Ep::BiasGelu, Ep::Bias}, true);
    check_shape(33, 768, 3072, {Ep::ResidualScale, Ep::InPlace}, true);
    check_shape(577, 96, 768, {Ep::Bias}, true);
    check_shape(197, 145, 3072, {Ep::InPlace}, true);
}

TEST_CASE("gemm: zero-sized M does nothing") {
    std::vector<float> w = random_floats(16 * 8, 1);
    PackedWeights p = pack_weights(w.data(), 16, 8);
    float c = 7.0f;
    gemm(0, nullptr, 8, p, &c, 16, Epilogue(), nullptr);
    CHECK(c == 7.0f);
}

TEST_CASE("gelu_erf: within 1e-6 of the double-precision erf form") {
    int bad = 0;
    for (double x = -30; x <= 30; x += 1.0 / 1024) {
        double want = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
        if (!(std::fabs(gelu_erf(float(x)) - want) <= 1e-6)) ++bad;
    }
    CHECK(bad == 0);
}
