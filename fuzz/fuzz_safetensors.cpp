// libFuzzer target: the safetensors reader (weights_tools/safetensors.h: header JSON, dtypes, shapes,
// offsets) and, when a file is accepted, the whole `pomt convert` path on it. Input: a whole
// .safetensors file.
//
// Beyond "no crash": an accepted header must describe byte ranges inside the data section that
// match dtype × shape; every F32/F16/BF16 tensor must read back; and when the file holds exactly
// the tensors of the small model in kConfig, `pomt convert`'s output must open as a .pomt file.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fuzz/fuzz_common.h"
#include "weights_tools/safetensors.h"
#include "vit/weights_file.h"
#include "weights_tools/convert.h"

using namespace pomt;

namespace {

// The model the seed corpus's complete files are for (fuzz/make_seeds.cpp writes the same one).
const char* kConfig = R"({"architecture":"vit_tiny_patch16_224","num_classes":3,
  "model_args":{"embed_dim":8,"depth":1,"num_heads":2,"num_classes":3,"img_size":16,"patch_size":8},
  "pretrained_cfg":{"input_size":[3,16,16],"interpolation":"bicubic","crop_pct":0.9,"mean":[0.5,0.5,0.5],"std":[0.5,0.5,0.5]}})";

int esize(const std::string& d) {
    if (d == "F64" || d == "I64" || d == "U64") return 8;
    if (d == "F32" || d == "I32" || d == "U32") return 4;
    if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
    return 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    size_t offset = 0;
    std::vector<SafeTensorInfo> tensors;
    if (!pomt_fuzz::expect_clean([&] { tensors = parse_safetensors_header(data, size, "'fuzz.safetensors'", &offset); }))
        return 0;
    if (offset > size) std::abort();
    uint64_t total = 0;
    for (const SafeTensorInfo& t : tensors) {
        if (t.end < t.begin || t.end > size - offset || uint64_t(t.numel()) * esize(t.dtype) != t.end - t.begin) {
            std::fprintf(stderr, "pomt fuzz: accepted tensor '%s' has an inconsistent range\n", t.name.c_str());
            std::abort();
        }
        total += t.end - t.begin;
    }
    if (total > (8u << 20)) return 0;  // reads below copy every tensor: keep them cheap

    const std::string path = pomt_fuzz::scratch_path(".safetensors");
    pomt_fuzz::write_scratch(path, data, size);
    pomt_fuzz::expect_clean([&] {
        SafetensorsFile file(path);
        for (const SafeTensorInfo& t : file.tensors())
            if (t.dtype == "F32" || t.dtype == "F16" || t.dtype == "BF16")
                if (file.read_f32(t).size() != size_t(t.numel())) std::abort();
    });

    // The converter, on the same bytes, for the small model of kConfig.
    static const std::string config = [] {
        std::string p = pomt_fuzz::scratch_path("_config.json");
        pomt_fuzz::write_scratch(p, reinterpret_cast<const uint8_t*>(kConfig), std::strlen(kConfig));
        return p;
    }();
    ConvertOptions o;
    o.input = path;
    o.config_path = config;
    o.output = pomt_fuzz::scratch_path("_out.pomt");
    if (pomt_fuzz::expect_clean([&] { convert_timm_weights(o); })) {
        // What convert writes must read back.
        try {
            WeightsFile w(o.output);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "pomt fuzz: convert wrote a .pomt that does not open: %s\n", e.what());
            std::abort();
        }
        std::remove(o.output.c_str());
    }
    std::remove(path.c_str());
    return 0;
}
