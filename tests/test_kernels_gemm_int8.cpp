// The int8 GEMM (kernels/gemm_int8.h) and activation quantization (kernels/quantize.h) at every
// int8 variant this CPU has: exact int32 sums against the int64 reference over dense small shapes
// and the ViT shapes, 1/2/3 threads identical, worst-case inputs for the int16 pair sums of
// vpmaddubsw / smlal, the float epilogues against the double reference, the fused quantized
// output, quantize_rows against its reference bit for bit, and the weight layout round trip.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "kernels/gemm_int8.h"
#include "kernels/gemm_int8_kernels.h"
#include "kernels/quantize.h"
#include "kernels/threads.h"
#include "tests/test_util.h"

using namespace pomt;
using pomt_test::for_each_int8_variant;
using pomt_test::random_floats;

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

ThreadPool* pool_of(int threads) {
    static std::unique_ptr<ThreadPool> pools[4];
    if (!pools[threads]) pools[threads].reset(new ThreadPool(threads));
    return pools[threads].get();
}

// Quantized rows with owned storage.
struct Rows {
    std::vector<int8_t> q;
    std::vector<float> scale, offset;
    QuantizedRows view;
    Rows(int rows, int k) : q(size_t(rows) * quantized_row_bytes(k)), scale(size_t(rows)), offset(size_t(rows)) {
        view.rows = rows;
        view.k = k;
        view.ld = quantized_row_bytes(k);
        view.q = q.data();
        view.scale = scale.data();
        view.offset = offset.data();
    }
};

// Random q in [−127, 127] (zero padding), scales and offsets.
Rows random_rows(int rows, int k, unsigned seed) {
    Rows r(rows, k);
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> q(-127, 127);
    std::uniform_real_distribution<float> s(0.001f, 0.05f), o(-1.0f, 1.0f);
    for (int i = 0; i < rows; ++i) {
        for (int t = 0; t < k; ++t) r.q[size_t(i) * r.view.ld + t] = int8_t(q(rng));
        r.scale[size_t(i)] = s(rng);
        r.offset[size_t(i)] = o(rng);
    }
    return r;
}

Int8Weights random_weights(int n, int k, unsigned seed) {
    return quantize_weights(random_floats(size_t(n) * k, seed).data(), n, k);
}

// Int8 weights with the given wq [n×k] (row-major), scale 1.
Int8Weights weights_from(const std::vector<int8_t>& wq, int n, int k) {
    std::vector<float> w(wq.begin(), wq.end());
    Int8Weights r = quantize_weights(w.data(), n, k);  // amax 127 per column keeps wq as is, scale 1
    return r;
}

bool same_accumulators(int m, const Rows& a, const Int8Weights& w, const std::vector<int32_t>& want, int ldw,
                       ThreadPool* pool) {
    const int ld = w.n + 3;  // a stride past n, with guard columns that must stay untouched
    std::vector<int32_t> got(size_t(m) * ld, 0x5a5a5a5a);
    gemm_int8_accumulators(m, a.view, w, got.data(), ld, pool);
    for (int i = 0; i < m; ++i) {
        if (std::memcmp(&got[size_t(i) * ld], &want[size_t(i) * ldw], size_t(w.n) * 4) != 0) return false;
        for (int j = w.n; j < ld; ++j)
            if (got[size_t(i) * ld + j] != 0x5a5a5a5a) return false;
    }
    return true;
}

struct VitShape {
    const char* name;
    int k, n;
};
// DeiT-Tiny / Small / Base: qkv, proj, fc1, fc2 (the sanitizer builds take Tiny only).
const VitShape kVitShapes[] = {
    {"tiny qkv", 192, 576},   {"tiny proj", 192, 192},   {"tiny fc1", 192, 768},    {"tiny fc2", 768, 192},
    {"small qkv", 384, 1152}, {"small proj", 384, 384},  {"small fc1", 384, 1536},  {"small fc2", 1536, 384},
    {"base qkv", 768, 2304},  {"base proj", 768, 768},   {"base fc1", 768, 3072},   {"base fc2", 3072, 768},
};

}  // namespace

TEST_CASE("int8 gemm: exact int32 accumulators at every variant, dense small shapes, 1/2/3 threads") {
    const int ns[] = {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 47, 48, 49, 50};
    const int ks[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 70};
    constexpr int kMaxRows = 17;
    int failures = 0, cases = 0;
    for (int n : ns)
        for (int k : ks) {
            const Rows a = random_rows(kMaxRows, k, unsigned(1000 + 7 * n + k));
            const Int8Weights w = random_weights(n, k, unsigned(n * 100 + k));
            // The reference for all 17 rows; m rows are its first m.
            std::vector<int32_t> want(size_t(kMaxRows) * n);
            gemm_int8_accumulators_reference(kMaxRows, a.view, w, want.data(), n);
            for_each_int8_variant([&](const char*) {
                for (int m = 1; m <= kMaxRows; ++m) {
                    const int threads = 1 + (m + n + k) % 3;  // every thread count over the sweep
                    ++cases;
                    if (!same_accumulators(m, a, w, want, n, pool_of(threads))) {
                        if (failures++ == 0) FAIL_CHECK("first mismatch at m=" << m << " n=" << n << " k=" << k);
                    }
                }
            });
        }
    CHECK(failures == 0);
    CHECK(cases > 10000);
}

TEST_CASE("int8 gemm: exact int32 accumulators at the tile edges of the AMX variant (rows past 16, k past 64)") {
    // amx-int8's tiles are 2 × 16 rows × 2 panels, its steps 64 bytes of k with the last one
    // copied and padded: every row count around those edges, and k around whole steps.
    const int n = 40;
    int failures = 0, cases = 0;
    for (int k : {60, 63, 64, 65, 127, 128, 129, 300}) {
        const Rows a = random_rows(70, k, unsigned(70 + k));
        const Int8Weights w = random_weights(n, k, unsigned(80 + k));
        std::vector<int32_t> want(size_t(70) * n);
        gemm_int8_accumulators_reference(70, a.view, w, want.data(), n);
        for_each_int8_variant([&](const char*) {
            for (int m : {15, 16, 17, 31, 32, 33, 47, 70}) {
                ++cases;
                if (!same_accumulators(m, a, w, want, n, pool_of(1 + m % 3)) && failures++ == 0)
                    FAIL_CHECK("first mismatch at m=" << m << " k=" << k);
            }
        });
    }
    CHECK(failures == 0);
    CHECK(cases >= 64);
}

TEST_CASE("int8 gemm: exact int32 accumulators at the ViT shapes (M = 197), 1/2/3 threads identical") {
    for (const VitShape& s : kVitShapes) {
        if (kSanitized && s.name[0] != 't') continue;
        CAPTURE(s.name);
        const Rows a = random_rows(197, s.k, unsigned(s.k + s.n));
        const Int8Weights w = random_weights(s.n, s.k, unsigned(s.k * 3 + s.n));
        std::vector<int32_t> want(size_t(197) * s.n);
        gemm_int8_accumulators_reference(197, a.view, w, want.data(), s.n);
        for_each_int8_variant([&](const char* name) {
            // The scalar variant is the slow one: one thread count at the Base shapes.
            const bool slow = std::string(name) == "scalar" && s.name[0] == 'b';
            for (int threads = 1; threads <= (slow ? 1 : 3); ++threads) {
                CAPTURE(threads);
                CHECK(same_accumulators(197, a, w, want, s.n, pool_of(threads)));
            }
        });
    }
}

TEST_CASE("int8 gemm: worst-case inputs (all ±127, every sign pattern) cannot saturate") {
    // vpmaddubsw (avx2, avx512bw) adds two u8·s8 products into an int16, smlal (neon) two s8·s8
    // products: with |a|, |w| ≤ 127 a pair is ≤ 32258. Each pattern below puts ±127 everywhere.
    const int m = 9, n = 35, k = 1027;
    auto sign = [](int pattern, int i, int t) {
        switch (pattern) {
            case 0: return 1;                           // all +
            case 1: return -1;                          // all −
            case 2: return t % 2 ? -1 : 1;              // alternating within a pair
            case 3: return (t / 2) % 2 ? -1 : 1;        // alternating between pairs
            case 4: return (i + t) % 3 ? 1 : -1;        // mixed
            default: return int((i * 7919 + t * 104729) >> 3 & 1) ? 1 : -1;  // scattered
        }
    };
    for (int pa = 0; pa < 6; ++pa)
        for (int pw = 0; pw < 6; ++pw) {
            CAPTURE(pa);
            CAPTURE(pw);
            Rows a(m, k);
            for (int i = 0; i < m; ++i)
                for (int t = 0; t < k; ++t) a.q[size_t(i) * a.view.ld + t] = int8_t(127 * sign(pa, i, t));
            std::vector<int8_t> wq(size_t(n) * k);
            for (int j = 0; j < n; ++j)
                for (int t = 0; t < k; ++t) wq[size_t(j) * k + t] = int8_t(127 * sign(pw, j + 1, t));
            const Int8Weights w = weights_from(wq, n, k);
            std::vector<int32_t> want(size_t(m) * n);
            gemm_int8_accumulators_reference(m, a.view, w, want.data(), n);
            if (pa == 0 && pw == 0) REQUIRE(want[0] == 127 * 127 * k);  // the extreme sum itself
            for_each_int8_variant([&](const char*) { CHECK(same_accumulators(m, a, w, want, n, pool_of(1))); });
        }
}

namespace {

enum class Ep { None, Bias, BiasGelu, BiasGeluFast, BiasQuickGelu, Residual, ResidualScale, InPlace, InPlaceScaleNoBias };
const Ep kAllEps[] = {Ep::None,          Ep::Bias,     Ep::BiasGelu,      Ep::BiasGeluFast,      Ep::BiasQuickGelu,
                      Ep::Residual,      Ep::ResidualScale, Ep::InPlace, Ep::InPlaceScaleNoBias};

// An epilogue and the output buffer it writes (holding the residual when in place), row stride ldc.
struct EpSetup {
    Epilogue ep;
    std::vector<float> c, residual;
};
EpSetup make_epilogue(Ep e, int m, int ldc, const std::vector<float>& bias, const std::vector<float>& scale,
                      unsigned seed) {
    EpSetup s;
    s.c.assign(size_t(m) * ldc, -7.0f);
    s.residual = random_floats(size_t(m) * ldc, seed, -3.0f, 3.0f);
    if (e != Ep::None && e != Ep::InPlaceScaleNoBias) s.ep.bias = bias.data();
    if (e == Ep::BiasGelu) s.ep.act = Activation::Gelu;
    if (e == Ep::BiasGeluFast) s.ep.act = Activation::GeluFast;
    if (e == Ep::BiasQuickGelu) s.ep.act = Activation::QuickGelu;
    if (e == Ep::Residual || e == Ep::ResidualScale) s.ep.residual = s.residual.data();
    if (e == Ep::InPlace || e == Ep::InPlaceScaleNoBias) {
        s.c = s.residual;
        s.ep.residual = s.c.data();
    }
    if (e == Ep::ResidualScale || e == Ep::InPlaceScaleNoBias) s.ep.scale = scale.data();
    s.ep.ld_residual = ldc;
    return s;
}

}  // namespace

TEST_CASE("int8 gemm: float outputs with every epilogue against the double reference") {
    // The integer sums are exact; what differs from the reference (double, then the readable
    // activation) is float rounding: float(acc) (relative 2⁻²⁴), one FMA and one multiply (2⁻²⁴
    // each, relative to |a_scale·acc| + |a_offset·w_sum| times w_scale), the bias add, the
    // polynomial GELU (the fp32 kernels' own approximation, ~1e-6 relative) and the residual
    // add/FMA. 2e-6 relative to the magnitude of each term is a few ulps above that sum.
    struct Shape {
        int m, n, k;
    };
    const Shape shapes[] = {{1, 1, 1}, {5, 17, 33}, {13, 50, 70}, {16, 48, 64}, {23, 37, 197}, {197, 64, 192}};
    for (const Shape& sh : shapes)
        for (Ep e : kAllEps) {
            CAPTURE(sh.m);
            CAPTURE(sh.n);
            CAPTURE(sh.k);
            CAPTURE(int(e));
            const int ldc = sh.n + 2;
            const Rows a = random_rows(sh.m, sh.k, unsigned(sh.m * 31 + sh.k));
            const Int8Weights w = random_weights(sh.n, sh.k, unsigned(sh.n + 5 * sh.k));
            const std::vector<float> bias = random_floats(size_t(sh.n), 3), scale = random_floats(size_t(sh.n), 4, 0.1f, 2.0f);
            EpSetup ref = make_epilogue(e, sh.m, ldc, bias, scale, 9);
            gemm_int8_reference(sh.m, a.view, w, ref.c.data(), ldc, ref.ep);
            std::vector<int32_t> acc(size_t(sh.m) * sh.n);
            gemm_int8_accumulators_reference(sh.m, a.view, w, acc.data(), sh.n);
            for_each_int8_variant([&](const char*) {
                std::vector<float> first;
                for (int threads = 1; threads <= 3; ++threads) {
                    EpSetup got = make_epilogue(e, sh.m, ldc, bias, scale, 9);
                    gemm_int8(sh.m, a.view, w, got.c.data(), ldc, got.ep, pool_of(threads));
                    int bad = 0;
                    for (int i = 0; i < sh.m; ++i)
                        for (int j = 0; j < ldc; ++j) {
                            const size_t at = size_t(i) * ldc + j;
                            if (j >= sh.n) {  // guard columns: untouched
                                bad += std::memcmp(&got.c[at], &ref.c[at], 4) != 0;
                                continue;
                            }
                            const double pre = std::fabs(double(w.scale[j])) *
                                               (std::fabs(double(a.scale[size_t(i)]) * acc[size_t(i) * sh.n + j]) +
                                                std::fabs(double(a.offset[size_t(i)]) * w.sum[j]));
                            const double res = ref.ep.residual ? std::fabs(ref.residual[at]) : 0.0;
                            const double mult = ref.ep.scale ? std::fabs(scale[size_t(j)]) : 1.0;
                            const double tol = 2e-6 * (mult * (pre + std::fabs(bias[size_t(j)])) + res) + 1e-6;
                            bad += !(std::fabs(double(got.c[at]) - double(ref.c[at])) <= tol);
                        }
                    CHECK(bad == 0);
                    if (threads == 1) first = got.c;
                    else CHECK(std::memcmp(first.data(), got.c.data(), first.size() * 4) == 0);
                }
            });
        }
}

// A tile whose columns are all there runs its epilogue once for the tile (store_epilogue_buffer);
// a tile cut short by n runs it vector by vector (int8_store). The same weights with n = 96 (whole
// tiles at every variant's width: 16, 32, 48 columns) and seen as n = 95 (the last tile cut short)
// must give the same bits in every column both have.
TEST_CASE("int8 gemm: whole tiles' epilogue gives the bits of the vector-by-vector one, every variant") {
    const int m = 19, k = 70, ldc = 98;
    const Rows a = random_rows(m, k, 77);
    const Int8Weights whole = random_weights(96, k, 78);
    Int8Weights cut = whole;
    cut.n = 95;
    const std::vector<float> bias = random_floats(96, 3), scale = random_floats(96, 4, 0.1f, 2.0f);
    for (Ep e : kAllEps) {
        CAPTURE(int(e));
        for_each_int8_variant([&](const char*) {
            EpSetup w = make_epilogue(e, m, ldc, bias, scale, 9), c = make_epilogue(e, m, ldc, bias, scale, 9);
            gemm_int8(m, a.view, whole, w.c.data(), ldc, w.ep, pool_of(1));
            gemm_int8(m, a.view, cut, c.c.data(), ldc, c.ep, pool_of(1));
            int bad = 0;
            for (int i = 0; i < m; ++i) bad += std::memcmp(&w.c[size_t(i) * ldc], &c.c[size_t(i) * ldc], 95 * 4) != 0;
            CHECK(bad == 0);
        });
    }
}

TEST_CASE("int8 gemm: the fused quantized output equals gemm_int8 then quantize_rows, bit for bit") {
    // Same tiles and the same float epilogue write the floats either way (the fused path keeps them
    // in the thread's scratch), and quantize_rows is deterministic: so the bytes, scales and
    // offsets are identical.
    struct Shape {
        int m, n, k;
    };
    const Shape shapes[] = {{1, 1, 1}, {7, 33, 21}, {19, 50, 64}, {197, 768, 192}};
    for (const Shape& sh : shapes)
        for (Ep e : {Ep::None, Ep::BiasGelu, Ep::BiasGeluFast, Ep::BiasQuickGelu, Ep::ResidualScale}) {
            CAPTURE(sh.m);
            CAPTURE(sh.n);
            CAPTURE(int(e));
            const Rows a = random_rows(sh.m, sh.k, 17u + unsigned(sh.k));
            const Int8Weights w = random_weights(sh.n, sh.k, 23u + unsigned(sh.n));
            const std::vector<float> bias = random_floats(size_t(sh.n), 5), scale = random_floats(size_t(sh.n), 6, 0.1f, 2.0f);
            for_each_int8_variant([&](const char*) {
                EpSetup s = make_epilogue(e, sh.m, sh.n, bias, scale, 11);
                gemm_int8(sh.m, a.view, w, s.c.data(), sh.n, s.ep, pool_of(1));
                Rows want(sh.m, sh.n);
                quantize_rows(s.c.data(), sh.n, sh.m, sh.n, want.view);
                for (int threads = 1; threads <= 3; ++threads) {
                    EpSetup f = make_epilogue(e, sh.m, sh.n, bias, scale, 11);
                    Rows got(sh.m, sh.n);
                    std::fill(got.q.begin(), got.q.end(), int8_t(99));  // padding must come out 0
                    gemm_int8_quantized(sh.m, a.view, w, f.ep, got.view, pool_of(threads));
                    CHECK(got.q == want.q);
                    CHECK(std::memcmp(got.scale.data(), want.scale.data(), want.scale.size() * 4) == 0);
                    CHECK(std::memcmp(got.offset.data(), want.offset.data(), want.offset.size() * 4) == 0);
                }
            });
        }
}

TEST_CASE("int8 quantize_rows: the same bits as quantize_rows_reference at every variant") {
    std::vector<std::pair<std::string, std::vector<float>>> rows_sets;
    const int k = 83, rows = 12;
    rows_sets.emplace_back("random", random_floats(size_t(rows) * k, 1, -4.0f, 4.0f));
    std::vector<float> x(size_t(rows) * k);
    for (int r = 0; r < rows; ++r)
        for (int t = 0; t < k; ++t) x[size_t(r) * k + t] = float(r) - 5.5f;  // constant rows, incl. 0.5
    rows_sets.emplace_back("constant", x);
    x = random_floats(size_t(rows) * k, 2, -1.0f, 1.0f);
    for (int r = 0; r < rows; ++r)
        for (int t = 0; t < k; ++t) x[size_t(r) * k + t] *= std::ldexp(1.0f, 8 * (r % 6) - 24);  // 2^-24 .. 2^16
    x[5] = 3e38f;  // a huge range
    x[k + 7] = -1e-38f;
    rows_sets.emplace_back("huge and tiny ranges", x);
    x = random_floats(size_t(rows) * k, 3, 10.0f, 10.001f);  // a narrow range far from 0
    rows_sets.emplace_back("narrow", x);
    std::vector<float> ties(size_t(rows) * k);  // values on exact .5 steps: round half to even
    for (int r = 0; r < rows; ++r)
        for (int t = 0; t < k; ++t) ties[size_t(r) * k + t] = float(t % 17) * 0.5f - 4.0f;
    rows_sets.emplace_back("ties", ties);
    for (const auto& set : rows_sets) {  // not a structured binding: lambdas capture it (C++17)
        const std::string& what = set.first;
        const std::vector<float>& data = set.second;
        CAPTURE(what);
        for (int kk : {1, 3, 4, 15, 16, 17, 40, k}) {  // lengths around the vector widths
            CAPTURE(kk);
            Rows want(rows, kk);
            quantize_rows_reference(data.data(), k, rows, kk, want.view);
            for_each_int8_variant([&](const char*) {
                Rows got(rows, kk);
                std::fill(got.q.begin(), got.q.end(), int8_t(99));
                quantize_rows(data.data(), k, rows, kk, got.view);
                CHECK(got.q == want.q);
                CHECK(std::memcmp(got.scale.data(), want.scale.data(), want.scale.size() * 4) == 0);
                CHECK(std::memcmp(got.offset.data(), want.offset.data(), want.offset.size() * 4) == 0);
            });
        }
    }
}

// A NaN reaches the quantizers from a file's NaN weights or an overflowed activation: it must give
// a defined int8 (the sanitizer build checks there is no undefined float-to-int conversion), the
// finite values of the row stay in range, and the reference maps it to 0.
TEST_CASE("int8 quantize_rows: a NaN gives a defined value at every variant, 0 in the reference") {
    const int k = 37, rows = 3;  // a NaN in the vector part (t = 2) and in the scalar tail (t = 36)
    std::vector<float> x = random_floats(size_t(rows) * k, 4, -2.0f, 2.0f);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    x[2] = nan;
    x[size_t(k) + 36] = nan;
    Rows want(rows, k);
    quantize_rows_reference(x.data(), k, rows, k, want.view);
    CHECK(want.q[2] == 0);
    CHECK(want.q[size_t(want.view.ld) + 36] == 0);
    for_each_int8_variant([&](const char*) {
        Rows got(rows, k);
        quantize_rows(x.data(), k, rows, k, got.view);
        for (int r = 0; r < rows; ++r)
            for (int t = 0; t < k; ++t)
                if (x[size_t(r) * k + t] == x[size_t(r) * k + t]) CHECK(got.q[size_t(r) * got.view.ld + t] >= -127);
        CHECK(std::equal(got.q.begin() + 2 * got.view.ld, got.q.end(), want.q.begin() + 2 * want.view.ld));
    });
    std::vector<float> w(size_t(16) * 8, 0.5f);  // a NaN weight: the weight quantizer too
    w[3] = nan;
    const Int8Weights q = quantize_weights(w.data(), 16, 8);
    std::vector<float> back(w.size());
    dequantize_weights(q, back.data());
    CHECK(back[3] == 0.0f);
    CHECK(back[2] == 0.5f);
}

TEST_CASE("int8 weights: panels16x4 pack/unpack round trip and zero padding") {
    for (int n : {1, 15, 16, 17, 40})
        for (int k : {1, 3, 4, 5, 33}) {
            std::vector<int8_t> wq(size_t(n) * k);
            std::mt19937 rng(unsigned(n * 97 + k));
            for (int8_t& v : wq) v = int8_t(int(rng() % 255) - 127);
            std::vector<int8_t> panels(int8_panel_bytes(n, k), int8_t(55));
            pack_int8_panels(wq.data(), n, k, panels.data());
            std::vector<int8_t> back(wq.size());
            unpack_int8_panels(panels.data(), n, k, back.data());
            CHECK(back == wq);
            // Every byte is either a weight or padding, and the padding is zero.
            long nonzero = 0, weights_nonzero = 0;
            for (int8_t v : panels) nonzero += v != 0;
            for (int8_t v : wq) weights_nonzero += v != 0;
            CHECK(nonzero == weights_nonzero);
        }
}

TEST_CASE("int8 variants: the list, the default choice and forcing one") {
    const std::vector<const char*> names = int8_variants();
    REQUIRE(!names.empty());
    CHECK(std::string(names.back()) == "scalar");
    CHECK(int8_variant_supported("scalar"));
    CHECK(!int8_variant_supported("no-such-variant"));
    CHECK(!set_active_int8_variant("no-such-variant"));
    const std::string def = active_int8_variant();
    CHECK(int8_variant_supported(def.c_str()));
    CHECK(set_active_int8_variant("scalar"));
    CHECK(std::string(active_int8_variant()) == "scalar");
    CHECK(set_active_int8_variant(nullptr));
    CHECK(std::string(active_int8_variant()) == def);
    // The default follows the fp32 level: scalar at the scalar level.
    const Isa saved = active_isa();
    set_active_isa(Isa::Scalar);
    CHECK(std::string(active_int8_variant()) == "scalar");
    set_active_isa(saved);
}

TEST_CASE("amx-int8: a tile configuration other code loads between two calls is replaced") {
#if defined(__x86_64__)
    if (!int8_variant_supported("amx-int8")) {
        pomt_test::skip_part("amx-int8: this CPU or Linux does not grant AMX");
        return;
    }
    struct Restore {
        ~Restore() { set_active_int8_variant(nullptr); }
    } restore;
    REQUIRE(set_active_int8_variant("amx-int8"));
    const int m = 40, n = 40, k = 128;
    const Rows a = random_rows(m, k, 91);
    const Int8Weights w = random_weights(n, k, 92);
    std::vector<int32_t> want(size_t(m) * n);
    gemm_int8_accumulators_reference(m, a.view, w, want.data(), n);
    CHECK(same_accumulators(m, a, w, want, n, nullptr));  // this thread's tiles now configured
    // Another library's configuration on the same thread (as oneDNN would load its own): every
    // tile 1 row × 4 bytes. The kernel's cached configuration no longer holds; its next call must
    // load it again (Int8Kernels::begin) or its products would be of 1-row tiles.
    alignas(64) uint8_t foreign[64] = {1};
    for (int i = 0; i < 8; ++i) {
        foreign[16 + 2 * i] = 4;  // colsb
        foreign[48 + i] = 1;      // rows
    }
    __asm__ volatile("ldtilecfg %0" : : "m"(foreign));
    CHECK(same_accumulators(m, a, w, want, n, nullptr));
    __asm__ volatile("tilerelease" ::: "memory");
    CHECK(same_accumulators(m, a, w, want, n, nullptr));  // and after the state was released
#else
    pomt_test::skip_part("amx-int8: x86-64 only");
#endif
}
