// The kernel benchmarks' bookkeeping (profiler/kernel_bench.cpp; never their figures: no timing
// assertions): the int8 outlook's verdict from given peaks exactly, its measurement, and the
// attention bench's table.
#include <string>
#include <vector>

#include "kernels/gemm_bf16_kernels.h"
#include "kernels/gemm_int8_kernels.h"
#include "kernels/isa.h"
#include "pomt/quantize.h"
#include "profiler/kernel_bench.h"
#include "vit/model.h"
#include "tests/test_util.h"

using namespace pomt;

TEST_CASE("int8 outlook: a note below twice fp32's multiply-add rate, none from there up") {
    // VNNI-class: int8 pays, nothing to say.
    Int8Outlook o = int8_outlook_from("avx512-vnni", 400.0, "avx512", 100.0);
    CHECK(o.ratio == doctest::Approx(4.0));
    CHECK(o.note.empty());
    CHECK(int8_outlook_from("avx2", 100.0, "avx2", 50.0).note.empty());  // exactly 2x: the Linears can halve

    // AVX2 on Zen 3: faster, but not by much.
    o = int8_outlook_from("avx2", 80.5, "avx2", 51.1);
    CHECK(o.ratio == doctest::Approx(80.5 / 51.1));
    CHECK(o.note.find("int8 gains little") != std::string::npos);
    CHECK(o.note.find("1.58x the avx2 fp32 rate (80.5 vs 51.1 GMAC/s, 1 core)") != std::string::npos);
    CHECK(o.note.find("pomt bench -m") != std::string::npos);

    // Slower than fp32 (scalar int8 beside SIMD fp32): say it cannot pay.
    o = int8_outlook_from("scalar", 3.9, "avx2", 50.5);
    CHECK(o.note.find("int8 cannot be faster than fp32") != std::string::npos);
    CHECK(o.note.find("scalar int8 kernels multiply-add at 0.08x the avx2 fp32 rate") != std::string::npos);
    CHECK(int8_outlook_from("neon", 10.0, "neon", 10.0).note.find("cannot be faster") != std::string::npos);

    // One line, always; no fp32 figure: no ratio, no claim of a gain.
    CHECK(o.note.find('\n') == std::string::npos);
    CHECK(int8_outlook_from("avx2", 80.0, "avx2", 0.0).ratio == 0.0);
}

TEST_CASE("int8 outlook: the measurement names the variants in use and agrees with its own verdict") {
    const Int8Outlook o = measure_int8_outlook();
    CHECK(o.int8_variant == active_int8_variant());
    CHECK(o.fp32_level == isa_name(active_isa()));
    CHECK(o.int8_gmacs > 0);
    CHECK(o.fp32_gmacs > 0);
    CHECK(o.ratio == doctest::Approx(o.int8_gmacs / o.fp32_gmacs));
    CHECK(o.note == int8_outlook_from(o.int8_variant, o.int8_gmacs, o.fp32_level, o.fp32_gmacs).note);
}

TEST_CASE("int8 outlook: pomt info shows this CPU's rates for an int8 file, text and JSON") {
    const std::string dir = pomt_test::temp_dir();
    const std::string in = pomt_test::write_model(dir + "/m.pomt", *Model::random(pomt_test::small_config(1, 2), 3));
    REQUIRE(pomt_test::run_pomt({"quantize", in, "-o", dir + "/q.pomt", "--quiet"}).exit_code == 0);
    auto r = pomt_test::run_pomt({"info", dir + "/q.pomt"});
    REQUIRE(r.exit_code == 0);
    const std::string line = std::string("int8 kernels    ") + active_int8_variant() + " on this CPU";
    CHECK(r.out.find(line) != std::string::npos);
    CHECK(r.out.find("GMAC/s") != std::string::npos);
    r = pomt_test::run_pomt({"info", dir + "/q.pomt", "--json"});
    REQUIRE(r.exit_code == 0);
    for (const char* key : {"\"this_cpu\":", "\"int8_gmacs\":", "\"fp32_gmacs\":", "\"ratio\":", "\"note\":"})
        CHECK(r.out.find(key) != std::string::npos);
    // An fp32 file: no int8 line (nothing probed).
    r = pomt_test::run_pomt({"info", in});
    CHECK(r.out.find("int8 kernels") == std::string::npos);
}

// `pomt bench --attention`: fused fp32 attention, its two GEMMs and bf16 attention, timed alternately;
// each figure a positive rate, and the table names the bf16 kernels and has a row per shape.
TEST_CASE("attention bench: fp32, the two GEMMs and bf16 attention per shape") {
    const std::vector<pomt::AttentionShape> shapes = {{33, 16}, {70, 32}};
    const auto results = pomt::bench_attention_shapes(shapes, 3, 100.0);
    REQUIRE(results.size() == shapes.size());
    for (const pomt::AttentionBenchResult& r : results) {
        CHECK(r.fused.median > 0);
        CHECK(r.gemms.median > 0);
        CHECK(r.bf16.median > 0);
        CHECK(r.bf16.p10 <= r.bf16.median);
    }
    const std::string table = pomt::format_attention_bench(results, 100.0);
    CHECK(table.find(std::string("bf16: attention_head_bf16 on the ") + pomt::active_bf16_variant()) != std::string::npos);
    CHECK(table.find("bf16/fp32") != std::string::npos);
    CHECK(table.find("\n    70   32 ") != std::string::npos);
}
