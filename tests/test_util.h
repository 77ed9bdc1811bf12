// Helpers shared by the tests: where ../shared is, visible skips, temporary folders, running the CLI.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "kernels/isa.h"
#include "core/json.h"
#include "tests/test_util_pomt.h"
#include "vit/config.h"

namespace pomt {
class Model;
}

namespace pomt_test {

// Skips, each printed as exactly one "SKIP: <test case>: <why>" line and counted in the closing line
// "tests: N passed, N failed, N skipped, N parts skipped" (test_main.cpp):
// - skip_test: the whole test case could not run (its ../shared data, python3 or cmake absent); the
//   caller returns, and the case counts as skipped, not passed.
// - skip_part: a part of a test case that otherwise ran (an ISA level or int8 variant this CPU lacks,
//   a sweep left to the plain build in a sanitizer build); the case still counts as passed.
extern int g_skipped, g_skipped_parts;
void skip_test(const std::string& why);
void skip_part(const std::string& why);

// ../shared (or $POMT_SHARED); empty when absent.
std::string shared_dir();

// Every ../shared/fixtures folder pomt runs (all of them): the ViT / DeiT / DeiT III ones and the
// rest of timm's VisionTransformer family (DINOv2 + registers, CLIP, QuickGELU CLIP, average
// pooling, registers + average pooling, SigLIP and SO150M attention pooling).
const std::vector<std::string>& fixture_names();

// Whether this is a sanitizer build (ASan / TSan: .ci/reliability.sh runs the suite there).
bool sanitized();

// In a sanitizer build the fixture at a long sequence (DINOv2 + registers at 518², 1374 tokens) is
// left to the plain build, with a visible SKIP line; true when the caller should skip it.
bool skip_long_fixture_here(const std::string& name);

// The heavy data tests (real images, the real model, packaging) stay out of the sanitizer passes:
// in a sanitizer build this skips the test case visibly (skip_test) and returns true, and the
// caller returns. Their code paths run under the sanitizers through the small fixtures and models.
bool skip_heavy_test_here();

// Whether the fixture sweeps over every ISA level run here: not in a sanitizer build, where they
// would repeat at -O1 what the plain build checks (the per-level kernels run under the sanitizers
// in their own tests). Prints a visible SKIP line when not; the caller then runs its fixtures at
// the default level only, or not at all when another test case already does.
bool sweep_fixtures_every_isa_here();

// The lines of stderr other than a disturbance warning: commands that time something (bench,
// profile, the Pareto search's verification) add one when the machine's load disturbed their
// timing (a loaded CI machine, the test shards beside each other), which is not what a test asks
// about.
int lines_besides_disturbance(const std::string& err);

// A fresh empty directory under $TMPDIR, removed at exit.
std::string temp_dir();

// Path of the pomt binary built beside the test binary.
std::string pomt_binary();

struct CommandResult {
    int exit_code;
    std::string out, err;
};
// Runs `pomt ARGS...` (no shell) and captures its output.
CommandResult run_pomt(const std::vector<std::string>& args);
// Runs ARGV (argv[0] looked up on PATH, no shell) and captures its output.
CommandResult run_command(const std::vector<std::string>& argv);
// Runs `python3 weights_tools/convert_timm.py --pomt BIN ARGS...`, BIN the pomt binary beside the
// tests (so it writes with the pomt under test whether or not a pomt package is installed).
CommandResult run_convert_timm(const std::vector<std::string>& args);
// Whether python3 can import `module` ("sys": whether there is a python3); when not, the test case
// is skipped (skip_test) with `why`, and the caller returns.
bool python_has(const std::string& module, const std::string& why);

bool file_exists(const std::string& path);

// A tiny vit_tiny-shaped config (embed 16, 2 heads, MLP 32, 5 classes, 32 px → 5 tokens): fast
// models for tests that only need the pipeline to run.
pomt::ModelConfig tiny_config(int depth = 1);

// A vit_tiny-shaped config of 17 tokens (embed 32, 2 heads, MLP 64, 64 px with 16 px patches):
// small enough for end-to-end CLI tests (profile, schedule, layer search) to run in moments.
pomt::ModelConfig small_config(int depth, int num_classes);

// A fresh temp_dir() holding a random small_config(depth, 4) model (`seed`) at dir/m.pomt and
// `images` labelled BMPs (write_labelled_bmps, labels i % 4): the inputs of the end-to-end
// schedule, eval and layer-search tests.
struct ModelAndImages {
    std::string dir, model, list;
};
ModelAndImages model_and_images(int depth, uint64_t seed, int images);

// Writes `model` as a .pomt file; returns `path`.
std::string write_model(const std::string& path, const pomt::Model& model);
// The same model as the version 1 file older pomt wrote (as_format_v1 of the version 2 file, since
// pomt writes version 1 no more); returns `path`.
std::string write_model_v1(const std::string& path, const pomt::Model& model);

// `n` floats drawn uniformly from [lo, hi) by std::mt19937(seed): the same values on every run.
std::vector<float> random_floats(size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f);
// 1 ± amp from a counter: the synthetic timers' deterministic run-to-run jitter (profiler tests).
double jitter(uint64_t k, double amp);

// Runs fn(isa) once per ISA level this CPU and build support (scalar first), with that level
// active, and restores the level that was active before (also when fn throws, e.g. a REQUIRE).
// A level of this architecture that the CPU lacks (AVX-512 on an AVX2-only x86, say) gets a
// visible "SKIP: <test case>: <isa> not on this CPU" line, once per test case; it is not counted
// as a skipped test case, since the other levels ran.
void for_each_isa(const std::function<void(pomt::Isa)>& fn);

// A refused command line: exit code 2 and one line on stderr containing `needle`.
void expect_cli_error(const CommandResult& r, const std::string& needle);

// Runs fn(variant name) with each int8 variant of this build active in turn (kernels/gemm_int8_kernels.h)
// and returns to the default choice afterwards; a variant the CPU lacks gets one visible
// "SKIP: <test case>: int8 variant <name>: CPU lacks it" line per test case (skip_part).
void for_each_int8_variant(const std::function<void(const char*)>& fn);
// The same for the bf16 variants (kernels/gemm_bf16_kernels.h). A model-sized sweep (whole
// fixtures, the ViT's GEMM shapes) in a sanitizer build leaves the scalar variant to the plain
// build, with a visible SKIP: it is avx512-bf16's bit reference, never chosen by itself, and its
// per-pair fmaf calls at -O1 were most of those sweeps' time under ASan (nine tenths of the bf16
// fixtures' 303 s, half of the ViT shapes' 124 s). Its tile runs under the sanitizers in the small and edge shapes of the kernel tests.
enum class Bf16Sweep { Every, ModelSized };
void for_each_bf16_variant(const std::function<void(const char*)>& fn, Bf16Sweep sweep = Bf16Sweep::Every);

// fn() must throw pomt::Error with a one-line message containing `needle`.
void expect_error(const std::function<void()>& fn, const std::string& needle);

// A 24-bit BMP (bottom-up rows padded to 4 bytes) with a deterministic pattern set by `seed`: the
// simplest image file to write by hand.
std::string bmp_image(int w, int h, int seed);

// `images` 80×70 BMPs img0.bmp … in `dir` and a `path label` list (labels i % classes) at
// dir/labels.txt, which it returns.
std::string write_labelled_bmps(const std::string& dir, int images, int classes);
void write_bytes(const std::string& path, const std::string& bytes);
std::string read_bytes(const std::string& path);

// A 2-block distilled DeiT whose Linear output widths (24, 72, 40, 5) are no multiple of 16: every
// stored weight has a padded last panel (the .pomt format tests).
pomt::ModelConfig odd_widths_config();
// The tensor-table entry named `name` of a .pomt header (REQUIREd to exist); the other helpers that
// edit a .pomt file's bytes are in tests/test_util_pomt.h.
pomt::json::Value& entry_named(pomt::json::Value& header, const std::string& name);

}  // namespace pomt_test

// Ends the current test case visibly when `path` (under ../shared) is missing.
#define POMT_REQUIRE_SHARED(rel, out_path)                                                      \
    std::string out_path;                                                                       \
    {                                                                                           \
        std::string base_ = pomt_test::shared_dir();                                            \
        out_path = base_.empty() ? std::string() : base_ + "/" + (rel);                          \
        if (out_path.empty() || !pomt_test::file_exists(out_path)) {                            \
            pomt_test::skip_test("../shared/" + std::string(rel) + " is absent");               \
            return;                                                                             \
        }                                                                                       \
    }
