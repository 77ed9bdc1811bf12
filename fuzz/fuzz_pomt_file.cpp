// libFuzzer target: the .pomt reader (vit/weights_file.h parse_weights_image, the code behind
// WeightsFile, Model::load and every `-m model.pomt`). Input: a whole .pomt file.
//
// Beyond "no crash": a file the parser accepts must describe tensors that lie inside the file,
// 4-byte aligned, and — when the model is small — must load through Model::load and run one
// forward pass (the path `pomt run` / `pomt classify` take; a bf16 file's weights through the bf16
// GEMM, reading its panels in place).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fuzz/fuzz_common.h"
#include "kernels/aligned.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_int8.h"
#include "kernels/panels.h"
#include "vit/forward.h"
#include "vit/model.h"
#include "vit/weights_file.h"

using namespace pomt;

namespace {

// The forward-pass cost of one image, in multiply-adds (to keep the fuzzer fast).
double forward_cost(const ModelConfig& c) {
    const double t = c.num_tokens(), d = c.embed_dim, h = c.mlp_hidden;
    return c.depth * (t * (4 * d * d + 2 * d * h) + 2 * t * t * d) + t * d * c.in_chans * c.patch_size * c.patch_size;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // The reader works on a memory mapping (page-aligned): give it an aligned copy.
    AlignedFloats buf = alloc_floats((size + 3) / 4);
    if (size) std::memcpy(buf.get(), data, size);
    const unsigned char* base = reinterpret_cast<const unsigned char*>(buf.get());
    WeightsMeta meta;
    std::vector<WeightsTensor> tensors;
    if (!pomt_fuzz::expect_clean([&] { parse_weights_image(base, size, "'fuzz.pomt'", &meta, &tensors); })) return 0;

    // Accepted: every tensor inside the file, aligned, with the stored size its layout implies
    // (timm's shape in C order, the GEMM panels of a Linear weight in version 2, the int8 panels of
    // one in version 3 or the bf16 panels of one in version 4; an int8 weight's scales and sums are
    // C order).
    uint64_t total = 0;
    bool bf16 = false;
    for (const WeightsTensor& t : tensors) {
        uint64_t n = 1;
        for (int64_t s : t.shape) n *= uint64_t(s);
        const int rows = t.shape.empty() ? 1 : int(t.shape[0]), cols = rows ? int(n / uint64_t(rows)) : 0;
        const uint64_t want = t.layout == TensorLayout::Panels16     ? 4 * uint64_t(panel_floats(rows, cols))
                              : t.layout == TensorLayout::Panels16x4 ? uint64_t(int8_panel_bytes(rows, cols))
                              : t.layout == TensorLayout::Panels16x2 ? 2 * uint64_t(bf16_panel_elems(rows, cols))
                                                                     : 4 * n;
        if ((t.dtype == TensorDtype::BF16) != (t.layout == TensorLayout::Panels16x2)) {
            std::fprintf(stderr, "pomt fuzz: accepted tensor '%s' mixes bf16 and another layout\n", t.name.c_str());
            std::abort();
        }
        bf16 = bf16 || t.dtype == TensorDtype::BF16;
        const unsigned char* p = reinterpret_cast<const unsigned char*>(t.data);
        if (t.nbytes != want || p < base || uint64_t(p - base) > size || t.nbytes > size - uint64_t(p - base) ||
            (reinterpret_cast<uintptr_t>(p) & 3)) {
            std::fprintf(stderr, "pomt fuzz: accepted tensor '%s' lies outside the file or has the wrong size\n",
                         t.name.c_str());
            std::abort();
        }
        if (t.nbytes) {
            volatile float first = t.data[0], last = t.data[t.nbytes / 4 - 1];  // ASan checks both ends
            (void)first, (void)last;
        }
        total += t.nbytes;
    }

    // Small enough: the whole load + run path.
    if (total <= (4u << 20) && forward_cost(meta.model) <= 2e7) {
        const std::string path = pomt_fuzz::scratch_path(".pomt");
        pomt_fuzz::write_scratch(path, data, size);
        pomt_fuzz::expect_clean([&] {
            std::shared_ptr<const Model> model = Model::load(path);
            Session session(model, 1);
            const int img = model->config().img_size;
            std::vector<float> x(size_t(3) * img * img, 0.25f);
            std::vector<float> out = session.run(x.data(), 1);
            if (int(out.size()) != session.outputs()) std::abort();
            // An accepted int8 model's scales are finite and > 0 (the reader checks them).
            for (const BlockParams& b : model->blocks)
                for (const LinearParams* p : {&b.qkv, &b.proj, &b.fc1, &b.fc2})
                    for (int j = 0; p->is_int8() && j < p->int8.n; ++j)
                        if (!(p->int8.scale[j] > 0 && p->int8.scale[j] < INFINITY)) std::abort();
            // A bf16 weight widens to the stored values (the reference pass and re-saving read it so).
            if (bf16 && !model->blocks.empty() && model->blocks[0].fc1.packed.is_bf16())
                (void)model->linear_weight(model->blocks[0].fc1);
        });
        std::remove(path.c_str());
    }
    return 0;
}
