// The bf16 GEMM (kernels/gemm_bf16.h) at every bf16 variant this CPU has (and "widen" at every fp32
// level): the float32 → bf16 rounding, the panels16x2 layout, exact outputs against the reference
// in the variant's order of additions over dense small shapes and the ViT shapes, 1/2/3 threads
// identical, the epilogues, and the choice of variant.
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "kernels/bf16.h"
#include "kernels/dispatch.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_bf16_kernels.h"
#include "kernels/isa.h"
#include "kernels/threads.h"
#include "tests/test_util.h"

using namespace pomt;
using pomt_test::for_each_bf16_variant;
using pomt_test::for_each_isa;
using pomt_test::random_floats;
using pomt_test::skip_part;

namespace {

ThreadPool* pool_of(int threads) {
    static std::unique_ptr<ThreadPool> pools[4];
    if (!pools[threads]) pools[threads].reset(new ThreadPool(threads));
    return pools[threads].get();
}

uint32_t bits(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    return u;
}
float from_bits(uint32_t u) {
    float x;
    std::memcpy(&x, &u, 4);
    return x;
}

// Runs the active variant (at each fp32 level for "widen") and calls check(order).
void for_each_path(const std::function<void(Bf16Order)>& check,
                   pomt_test::Bf16Sweep sweep = pomt_test::Bf16Sweep::Every) {
    for_each_bf16_variant([&](const char* name) {
        const Bf16Order order = active_bf16_kernels().order;
        if (std::string(name) == "widen") for_each_isa([&](Isa) { check(order); });
        else check(order);
    }, sweep);
}

// c from gemm_bf16 equals the reference bit for bit, and the guard columns past n stay untouched.
bool same_as_reference(int m, const std::vector<float>& a, int lda, const PackedWeights& w, const Epilogue& ep,
                       Bf16Order order, ThreadPool* pool, const std::vector<float>& residual = {}) {
    const int ldc = w.n + 3;
    std::vector<float> want(size_t(m) * ldc, -7.0f), got(size_t(m) * ldc, -7.0f);
    Epilogue e = ep;
    if (!residual.empty()) {  // in place, as the forward pass adds its residual branches
        want = residual;
        got = residual;
        e.residual = got.data();
        e.ld_residual = ldc;
    }
    Epilogue er = e;
    er.residual = e.residual ? want.data() : nullptr;
    gemm_bf16_reference(m, a.data(), lda, w, want.data(), ldc, er, order);
    gemm_bf16(m, a.data(), lda, w, got.data(), ldc, e, pool);
    return std::memcmp(want.data(), got.data(), want.size() * 4) == 0;
}

}  // namespace

TEST_CASE("bf16: rounding float32 to bf16 (nearest even, NaN, infinities, overflow)") {
    CHECK(bf16_from_float(1.0f) == 0x3f80);
    CHECK(bf16_to_float(0x3f80) == 1.0f);
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: to even (1); 1 + 3·2^-8 to 1 + 2^-6 (even).
    CHECK(bf16_from_float(1.0f + 1.0f / 256) == 0x3f80);
    CHECK(bf16_from_float(1.0f + 3.0f / 256) == 0x3f82);
    CHECK(bf16_from_float(1.0f + 1.0f / 256 + 1.0f / 65536) == 0x3f81);  // past halfway: up
    CHECK(bf16_from_float(-2.5f) == 0xc020);
    CHECK(bf16_from_float(std::numeric_limits<float>::infinity()) == 0x7f80);
    CHECK(bf16_from_float(-std::numeric_limits<float>::infinity()) == 0xff80);
    CHECK(bf16_from_float(std::numeric_limits<float>::max()) == 0x7f80);  // rounds up to inf
    const uint16_t nan = bf16_from_float(std::nanf(""));
    CHECK(std::isnan(bf16_to_float(nan)));
    CHECK(std::isnan(bf16_to_float(bf16_from_float(from_bits(0x7f800001u)))));  // a NaN whose payload is all low bits
    // Every bf16 survives the round trip; rounding never moves a value by more than half a step.
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float x = bf16_to_float(uint16_t(h));
        if (std::isnan(x)) continue;
        if (bf16_from_float(x) != h) FAIL("bf16 " << h << " does not round-trip");
    }
    for (float x : random_floats(10000, 5, -1000.0f, 1000.0f)) {
        const float r = round_to_bf16(x);
        CHECK(std::fabs(r - x) <= std::ldexp(1.0f, std::ilogb(x) - 8));
        CHECK((bits(r) & 0xffffu) == 0);
    }
}

TEST_CASE("bf16 variants and levels: their own roundings give round_row_to_bf16's bits") {
    // Every class of float, each at several places in rows of every length around the vector
    // widths: subnormals (which VCVTNE2PS2BF16 flushes), ties, NaNs with low payloads, overflow.
    std::vector<uint32_t> special = {0x00000000u, 0x80000000u, 0x00000001u, 0x807fffffu, 0x00400000u,
                                     0x00800000u, 0x3f808000u, 0x3f818000u, 0x3f80ffffu, 0x7f7fffffu,
                                     0xff7fffffu, 0x7f800000u, 0xff800000u, 0x7f800001u, 0xffc00000u,
                                     0x7fbfffffu, 0x7f7f8000u, 0x3fffffffu};
    // The same rows for each rounding: rep 0 normal values only, reps 1–3 specials sprinkled in
    // (rep 3: many); 8 guard values past n must stay untouched.
    auto check_rows = [&](void (*round)(const float*, int, uint16_t*)) {
        uint32_t state = 12345;
        auto next = [&] { return state = state * 1664525u + 1013904223u; };
        for (int n = 0; n <= 70; ++n)
            for (int rep = 0; rep < 4; ++rep) {
                CAPTURE(n);
                CAPTURE(rep);
                std::vector<float> x(static_cast<size_t>(n));
                for (int i = 0; i < n; ++i) {
                    const uint32_t u = next();
                    const bool sp = rep > 0 && next() % (rep == 3 ? 2u : 16u) == 0;
                    x[size_t(i)] = from_bits(sp ? special[next() % special.size()] : (u & 0x807fffffu) | ((1u + u % 253u) << 23));
                }
                std::vector<uint16_t> want(size_t(n) + 8, 0xabcd), got(size_t(n) + 8, 0xabcd);
                round_row_to_bf16(x.data(), n, want.data());
                round(x.data(), n, got.data());
                CHECK(want == got);
            }
    };
    bool any = false;
    for_each_bf16_variant([&](const char*) {
        if (!active_bf16_kernels().round) return;
        any = true;
        check_rows(active_bf16_kernels().round);
    });
    if (!any) pomt_test::skip_part("no bf16 variant of this CPU has a rounding of its own (amx-bf16, avx512-bf16)");
    // And each level's (IsaKernels::round_bf16: V::store_bf16 a vector at a time).
    for_each_isa([&](Isa) { check_rows(active_kernels().round_bf16); });
}

TEST_CASE("bf16 weights: panels16x2 layout, round trip and zero padding") {
    for (int n : {1, 15, 16, 17, 40})
        for (int k : {1, 2, 3, 7, 24}) {
            const std::vector<float> w = random_floats(size_t(n) * k, unsigned(n * 31 + k));
            std::vector<uint16_t> panels(bf16_panel_elems(n, k), 0xffff);
            pack_bf16_panels(w.data(), n, k, panels.data());
            const int kq = bf16_row_elems(k);
            CHECK(panels.size() == size_t((n + 15) / 16) * 16 * kq);
            for (int j = 0; j < (n + 15) / 16 * 16; ++j)
                for (int t = 0; t < kq; ++t) {
                    const uint16_t v = panels[size_t(j / 16) * 16 * kq + size_t(t / 2) * 32 + (j % 16) * 2 + t % 2];
                    if (j < n && t < k) CHECK(v == bf16_from_float(w[size_t(j) * k + t]));
                    else CHECK(v == 0);
                }
            std::vector<float> back(size_t(n) * k);
            unpack_bf16_panels(panels.data(), n, k, back.data());
            for (size_t i = 0; i < back.size(); ++i) CHECK(back[i] == round_to_bf16(w[i]));
        }
}

TEST_CASE("bf16 gemm: exact against the reference in each variant's order, small shapes, 1/2/3 threads") {
    const int ns[] = {1, 2, 15, 16, 17, 33, 48, 50};
    const int ks[] = {1, 2, 3, 5, 8, 17, 31, 64};
    constexpr int kMaxRows = 17;
    int failures = 0, cases = 0;
    for (int n : ns)
        for (int k : ks) {
            const int lda = k + 2;  // a stride past k
            const std::vector<float> a = random_floats(size_t(kMaxRows) * lda, unsigned(1000 + 7 * n + k), -2.0f, 2.0f);
            const std::vector<float> wf = random_floats(size_t(n) * k, unsigned(n * 100 + k));
            const std::vector<float> bias = random_floats(size_t(n), unsigned(n + k));
            const PackedWeights w = pack_bf16_weights(wf.data(), n, k);
            for_each_path([&](Bf16Order order) {
                for (int m : {1, 2, 5, 8, 9, 17}) {
                    const int threads = 1 + (m + n + k) % 3;
                    Epilogue ep;
                    if ((m + k) % 2) ep.bias = bias.data();
                    ++cases;
                    if (!same_as_reference(m, a, lda, w, ep, order, pool_of(threads)) && failures++ == 0)
                        FAIL_CHECK("first mismatch at m=" << m << " n=" << n << " k=" << k);
                }
            });
        }
    CHECK(failures == 0);
    CHECK(cases > 500);
}

TEST_CASE("bf16 gemm: exact at the tile edges of the AMX variant (rows past 16 and 32, k past 16 pairs)") {
    // amx-bf16's tiles are 2 × 16 rows, its steps 16 pairs with the last one copied and padded:
    // every row count around those edges, and k around whole steps. Exact in each variant's order.
    const int n = 40;  // two panels and a partial third
    int failures = 0, cases = 0;
    for (int k : {31, 32, 33, 63, 64, 65, 97, 200}) {
        const std::vector<float> a = random_floats(size_t(70) * k, unsigned(50 + k), -2.0f, 2.0f);
        const std::vector<float> wf = random_floats(size_t(n) * k, unsigned(60 + k));
        const PackedWeights w = pack_bf16_weights(wf.data(), n, k);
        for_each_path([&](Bf16Order order) {
            for (int m : {15, 16, 17, 31, 32, 33, 47, 70}) {
                ++cases;
                if (!same_as_reference(m, a, k, w, Epilogue(), order, pool_of(1 + m % 3)) && failures++ == 0)
                    FAIL_CHECK("first mismatch at m=" << m << " k=" << k);
            }
        });
    }
    CHECK(failures == 0);
    CHECK(cases >= 64);
}

TEST_CASE("bf16 gemm: a caller's scratch gives the same bits and holds A as the variant rounds it") {
    // The Session passes its workspace (LinearInput::bf16_scratch); the GEMM must round A into
    // exactly gemm_bf16_scratch_bytes(m, k) of it and compute what its own scratch gives.
    for (int k : {1, 7, 64, 193}) {
        CAPTURE(k);
        const int m = 11, n = 37;
        const std::vector<float> a = random_floats(size_t(m) * k, unsigned(k), -2.0f, 2.0f);
        const std::vector<float> wf = random_floats(size_t(n) * k, unsigned(k + 1));
        const PackedWeights w = pack_bf16_weights(wf.data(), n, k);
        for_each_path([&](Bf16Order) {
            const size_t bytes = gemm_bf16_scratch_bytes(m, k);
            const bool widen = !active_bf16_kernels().tile;
            CHECK(bytes == size_t(m) * (widen ? size_t(k) * 4 : size_t(bf16_row_elems(k)) * 2));
            std::vector<unsigned char> scratch(bytes + 64, 0xAB);  // 64 guard bytes past the end
            std::vector<float> own(size_t(m) * n), given(size_t(m) * n);
            gemm_bf16(m, a.data(), k, w, own.data(), n, Epilogue(), pool_of(2));
            gemm_bf16(m, a.data(), k, w, given.data(), n, Epilogue(), pool_of(2), scratch.data());
            CHECK(std::memcmp(own.data(), given.data(), own.size() * 4) == 0);
            bool guard_kept = true;
            for (size_t i = bytes; i < scratch.size(); ++i) guard_kept = guard_kept && scratch[i] == 0xAB;
            CHECK(guard_kept);
            // Row 0's first input as the variant holds it: bf16 bits, or that bf16 value as a float.
            const uint16_t b = bf16_from_float(a[0]);
            if (widen) {
                float held;
                std::memcpy(&held, scratch.data(), 4);
                CHECK(held == bf16_to_float(b));
            } else {
                uint16_t held;
                std::memcpy(&held, scratch.data(), 2);
                CHECK(held == b);
            }
        });
    }
}

TEST_CASE("bf16 gemm: gemm_bf16_to_bf16 gives gemm_bf16's outputs rounded, and gemm_bf16_rounded takes them") {
    // fc1 → fc2 of a bf16 model on a native variant: fc1's outputs rounded per row block while in
    // cache. Every variant, rows across its row blocks, odd n (the pad input zero), a stride past
    // the row, 1–3 threads, GELU; then the next GEMM on those rows equals gemm_bf16 on them as floats.
    for (int n : {1, 17, 40, 77}) {
        for (int m : {1, 9, 33, 70}) {
            CAPTURE(n);
            CAPTURE(m);
            const int k = 37, nq = bf16_row_elems(n), ld = nq + 6, n2 = 19;
            const std::vector<float> a = random_floats(size_t(m) * k, unsigned(3 * n + m), -2.0f, 2.0f);
            const std::vector<float> wf = random_floats(size_t(n) * k, unsigned(n + 5));
            const std::vector<float> bias = random_floats(size_t(n), unsigned(n + 6));
            const std::vector<float> wf2 = random_floats(size_t(n2) * n, unsigned(n + 7));
            const PackedWeights w = pack_bf16_weights(wf.data(), n, k), w2 = pack_bf16_weights(wf2.data(), n2, n);
            Epilogue ep;
            ep.bias = bias.data();
            ep.act = Activation::Gelu;
            for_each_path([&](Bf16Order) {
                const int threads = 1 + (m + n) % 3;
                std::vector<float> c(size_t(m) * n);
                gemm_bf16(m, a.data(), k, w, c.data(), n, ep, pool_of(threads));
                std::vector<uint16_t> want(size_t(m) * ld, 0xabcd), got(size_t(m) * ld, 0xabcd);
                for (int i = 0; i < m; ++i) {
                    round_row_to_bf16(c.data() + size_t(i) * n, n, want.data() + size_t(i) * ld);
                    if (nq > n) want[size_t(i) * ld + n] = 0;
                }
                gemm_bf16_to_bf16(m, a.data(), k, w, ep, got.data(), ld, pool_of(threads));
                CHECK(want == got);  // the stride's tail untouched
                std::vector<float> as_floats(size_t(m) * n), c2(size_t(m) * n2), c2r(size_t(m) * n2);
                for (int i = 0; i < m; ++i)
                    for (int j = 0; j < n; ++j) as_floats[size_t(i) * n + j] = bf16_to_float(got[size_t(i) * ld + j]);
                gemm_bf16(m, as_floats.data(), n, w2, c2.data(), n2, Epilogue(), pool_of(threads));
                gemm_bf16_rounded(m, got.data(), ld, w2, c2r.data(), n2, Epilogue(), pool_of(threads));
                CHECK(std::memcmp(c2.data(), c2r.data(), c2.size() * 4) == 0);
            });
        }
    }
}

TEST_CASE("bf16 gemm: exact at BFDOT's edges (round to odd, pair first, flushes, overflow, NaN)") {
    // One output of k = 2·pairs inputs per case: the pairs {a0, a1, w0, w1} (bf16 values) and the
    // bits the Arm ARM's BFDotAdd gives, worked out by hand from its pseudocode (BFAdd, BFMul,
    // BFRound, BFUnpack): the reference's PairsRoundToOdd order must give them on any CPU, and
    // neon-bf16 where it runs. Nearest-even sums, or EBF16's one rounding per pair, would not.
    const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
    const float d = 0x1p-133f;  // the least bf16 denormal
    struct Case {
        const char* what;
        std::vector<std::array<float, 4>> pairs;
        uint32_t want;
    };
    const Case cases[] = {
        {"1 + 2^-30: the accumulation rounded to odd", {{1, 0, 1, 0}, {0x1p-30f, 0, 1, 0}}, 0x3f800001u},
        {"-1 + (1 + 2^-30): the pair summed first, to odd, = 2^-23", {{-1, 0, 1, 0}, {1, 0x1p-30f, 1, 1}}, 0x34000000u},
        {"2^-140 + 2^-126: a product under 2^-126 flushed", {{0x1p-70f, 0x1p-63f, 0x1p-70f, 0x1p-63f}}, 0x00800000u},
        {"denormal activation · 2^100 + 1: the denormal read as 0", {{d, 1, 0x1p100f, 1}}, 0x3f800000u},
        {"2^100 · denormal weight + 1: the denormal read as 0", {{0x1p100f, 1, d, 1}}, 0x3f800000u},
        {"2^-125 - 1.5·2^-126 in one pair: flushed to +0", {{0x1p-62f, -0x1.8p-63f, 0x1p-63f, 0x1p-63f}}, 0u},
        {"2^-125, then - 1.5·2^-126: flushed to +0", {{0x1p-62f, 0, 0x1p-63f, 0}, {-0x1.8p-63f, 0, 0x1p-63f, 0}}, 0u},
        {"-2^-125, then + 1.5·2^-126: flushed to -0", {{-0x1p-62f, 0, 0x1p-63f, 0}, {0x1.8p-63f, 0, 0x1p-63f, 0}},
         0x80000000u},
        {"FLT_MAX + 2^103: to odd FLT_MAX (nearest even: inf)",
         {{0x1.fep127f, 0, 1, 0}, {0x1.fep119f, 0, 1, 0}, {0x1.fep111f, 0, 1, 0}, {0x1p103f, 0, 1, 0}}, 0x7f7fffffu},
        {"2^127 + 2^127, then + 1: 2^128 overflows to inf", {{0x1p127f, 0x1p127f, 1, 1}, {1, 0, 1, 0}}, 0x7f800000u},
        {"2^100 · 2^100: a product overflows to inf", {{0x1p100f, 0, 0x1p100f, 0}}, 0x7f800000u},
        {"-inf, then + 1: -inf", {{-inf, 0, 1, 0}, {1, 0, 1, 0}}, 0xff800000u},
        {"inf - inf: the default NaN", {{inf, -inf, 1, 1}}, 0x7fc00000u},
        {"inf · denormal (read as 0): the default NaN", {{inf, 0, d, 0}}, 0x7fc00000u},
        {"-NaN, then + 1: the default NaN", {{-nan, 0, 1, 0}, {1, 0, 1, 0}}, 0x7fc00000u},
    };
    auto run = [&](const Case& c, bool kernel) {
        const int k = 2 * int(c.pairs.size());
        std::vector<float> a(2 * c.pairs.size()), w(2 * c.pairs.size());
        for (size_t g = 0; g < c.pairs.size(); ++g)
            for (int t = 0; t < 2; ++t) {
                a[2 * g + t] = c.pairs[g][t];
                w[2 * g + t] = c.pairs[g][2 + t];
            }
        const PackedWeights pw = pack_bf16_weights(w.data(), 1, k);
        float out = -7.0f;
        if (kernel) gemm_bf16(1, a.data(), k, pw, &out, 1, Epilogue(), pool_of(1));
        else gemm_bf16_reference(1, a.data(), k, pw, &out, 1, Epilogue(), Bf16Order::PairsRoundToOdd);
        return bits(out);
    };
    for (const Case& c : cases) {
        const std::string what = c.what;
        CAPTURE(what);
        CHECK(run(c, false) == c.want);
    }
#if defined(__aarch64__)
    if (!bf16_variant_supported("neon-bf16")) {
        skip_part("bf16 variant neon-bf16: CPU lacks it");
        return;
    }
    REQUIRE(set_active_bf16_variant("neon-bf16"));
    for (const Case& c : cases) {
        const std::string what = c.what;
        CAPTURE(what);
        CHECK(run(c, true) == c.want);
    }
    set_active_bf16_variant(nullptr);
#endif
}

TEST_CASE("bf16 gemm: the ViT shapes (M = 197), exact, 1/2/3 threads identical") {
    struct Shape {
        int k, n;
    };
    // DeiT-Tiny qkv, proj, fc1, fc2 (DeiT-Small's too outside the sanitizers).
    std::vector<Shape> shapes = {{192, 576}, {192, 192}, {192, 768}, {768, 192}};
    if (!pomt_test::sanitized()) shapes.insert(shapes.end(), {{384, 1152}, {1536, 384}});
    constexpr int m = 197;
    for (const Shape& s : shapes) {
        CAPTURE(s.k);
        CAPTURE(s.n);
        const std::vector<float> a = random_floats(size_t(m) * s.k, unsigned(s.k + s.n), -3.0f, 3.0f);
        const std::vector<float> wf = random_floats(size_t(s.n) * s.k, unsigned(s.k * s.n), -0.1f, 0.1f);
        const std::vector<float> bias = random_floats(size_t(s.n), 3);
        const PackedWeights w = pack_bf16_weights(wf.data(), s.n, s.k);
        Epilogue ep;
        ep.bias = bias.data();
        // One reference per order (it is the slow part), every path and thread count against it.
        std::map<Bf16Order, std::vector<float>> want;
        for_each_path([&](Bf16Order order) {
            std::vector<float>& ref = want[order];
            if (ref.empty()) {
                ref.resize(size_t(m) * s.n);
                gemm_bf16_reference(m, a.data(), s.k, w, ref.data(), s.n, ep, order);
            }
            for (int threads = 1; threads <= 3; ++threads) {
                std::vector<float> got(size_t(m) * s.n);
                gemm_bf16(m, a.data(), s.k, w, got.data(), s.n, ep, pool_of(threads));
                CHECK(std::memcmp(got.data(), ref.data(), got.size() * 4) == 0);
            }
        }, pomt_test::Bf16Sweep::ModelSized);
    }
}

TEST_CASE("bf16 gemm: LayerScale + residual in place exact; GELU within the polynomial's error") {
    const int m = 13, n = 40, k = 70;
    const std::vector<float> a = random_floats(size_t(m) * k, 1, -2.0f, 2.0f);
    const std::vector<float> wf = random_floats(size_t(n) * k, 2);
    const std::vector<float> bias = random_floats(size_t(n), 3), gamma = random_floats(size_t(n), 4);
    const PackedWeights w = pack_bf16_weights(wf.data(), n, k);
    for_each_path([&](Bf16Order order) {
        Epilogue ep;
        ep.bias = bias.data();
        ep.scale = gamma.data();
        CHECK(same_as_reference(m, a, k, w, ep, order, pool_of(2), random_floats(size_t(m) * (n + 3), 5)));
        ep.scale = nullptr;
        CHECK(same_as_reference(m, a, k, w, ep, order, pool_of(1), random_floats(size_t(m) * (n + 3), 6)));
        for (Activation act : {Activation::Gelu, Activation::GeluFast, Activation::QuickGelu}) {
            Epilogue e;
            e.bias = bias.data();
            e.act = act;
            std::vector<float> want(size_t(m) * n), got(size_t(m) * n);
            gemm_bf16_reference(m, a.data(), k, w, want.data(), n, e, order);
            gemm_bf16(m, a.data(), k, w, got.data(), n, e, pool_of(2));
            double worst = 0;
            for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, double(std::fabs(want[i] - got[i])));
            CHECK(worst < 2e-6);
        }
    });
}

TEST_CASE("bf16 gemm: the reference's orders differ only in rounding, and agree with a double sum") {
    // The four orders sum the same exact products; each stays within a few fp32 ulps of the
    // double-precision sum of the bf16-rounded operands (so no order is wrong, only ordered).
    const int m = 4, n = 20, k = 300;
    const std::vector<float> a = random_floats(size_t(m) * k, 8, -1.0f, 1.0f);
    const std::vector<float> wf = random_floats(size_t(n) * k, 9);
    const PackedWeights w = pack_bf16_weights(wf.data(), n, k);
    std::vector<float> rounded_w(size_t(n) * k);
    unpack_bf16_panels(w.bf16, n, k, rounded_w.data());
    std::vector<std::vector<float>> outputs;
    for (Bf16Order order :
         {Bf16Order::Sequential, Bf16Order::PairsOddFirst, Bf16Order::PairsRoundToOdd, Bf16Order::AmxSteps}) {
        std::vector<float> c(size_t(m) * n);
        gemm_bf16_reference(m, a.data(), k, w, c.data(), n, Epilogue(), order);
        outputs.push_back(c);
        for (int i = 0; i < m; ++i)
            for (int j = 0; j < n; ++j) {
                double exact = 0, mag = 0;
                for (int t = 0; t < k; ++t) {
                    const double p = double(round_to_bf16(a[size_t(i) * k + t])) * rounded_w[size_t(j) * k + t];
                    exact += p;
                    mag += std::fabs(p);
                }
                CHECK(std::fabs(c[size_t(i) * n + j] - exact) <= mag * 1e-6);
            }
    }
    // ... and the orders do differ in their last bits, so the exact tests above tell them apart.
    CHECK(outputs[0] != outputs[1]);
    CHECK(outputs[1] != outputs[2]);
    CHECK(outputs[3] != outputs[0]);
    CHECK(outputs[3] != outputs[1]);
}

TEST_CASE("bf16 variants: the list, the default choice and forcing one") {
    const std::vector<const char*> names = bf16_variants();
    REQUIRE(names.size() >= 2);
    CHECK(std::string(names[names.size() - 2]) == "widen");
    CHECK(std::string(names.back()) == "scalar");
    CHECK(bf16_variant_supported("widen"));
    CHECK(bf16_variant_supported("scalar"));
    CHECK(!bf16_variant_supported("no-such-variant"));
    CHECK(!set_active_bf16_variant("no-such-variant"));
    const std::string def = active_bf16_variant();
    CHECK(def != "scalar");  // never chosen by itself
    CHECK(bf16_variant_supported(def.c_str()));
#if defined(__x86_64__)
    // Intel's vdpbf16ps runs at half fp32's rate (kernels/gemm_bf16_dispatch.cpp): never the default
    // there, though it may be forced.
    if (__builtin_cpu_is("intel")) CHECK(def != "avx512-bf16");
#endif
    CHECK(set_active_bf16_variant("scalar"));
    CHECK(std::string(active_bf16_variant()) == "scalar");
    CHECK(set_active_bf16_variant(nullptr));
    CHECK(std::string(active_bf16_variant()) == def);
    // The scalar fp32 level has no bf16 instructions: widen.
    const Isa saved = active_isa();
    set_active_isa(Isa::Scalar);
    CHECK(std::string(active_bf16_variant()) == "widen");
    set_active_isa(saved);
}
