// Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from pomt's own code:
// .pomt files from write_weights_file (int8 ones from write_quantized_weights_file, bf16 ones from
// write_bf16_weights_file, version 1 ones rewritten from version 2 by tests/test_util_pomt.h), NPY
// from write_npy, safetensors and config.json in the layout the converter reads, small images built
// byte by byte (stored-deflate PNG, BMP, PNM, TGA, GIF, baseline JPEG), and the pruning specs and
// schedule files of docs/SCHEDULES.md scaled to the fuzzers' small models. Nothing comes from
// ../shared. Deterministic: rerunning rewrites the same bytes.
//   usage: make_seeds OUT_DIR   (fuzz/run.sh --seeds runs it into fuzz/corpus)
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "vit/config.h"
#include "core/json.h"
#include "vit/model.h"
#include "core/npy.h"
#include "kernels/gemm_bf16.h"
#include "tests/image_bytes.h"
#include "tests/test_util_pomt.h"
#include "weights_tools/safetensors.h"
#include "vit/weights_file.h"

using namespace pomt;
using pomt_test::Bytes;
using pomt_test::make_jpeg;
using pomt_test::make_png;

namespace {

std::string g_out;

void put(const std::string& target, const std::string& name, const Bytes& bytes) {
    const std::string dir = g_out + "/" + target;
    ::mkdir(g_out.c_str(), 0755);
    ::mkdir(dir.c_str(), 0755);
    FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
    if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
        std::fprintf(stderr, "make_seeds: cannot write %s/%s\n", dir.c_str(), name.c_str());
        std::exit(1);
    }
}

Bytes read_all(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "rb");
    Bytes b;
    char buf[65536];
    size_t n;
    while (f && (n = std::fread(buf, 1, sizeof buf, f)) > 0) b.append(buf, n);
    if (f) std::fclose(f);
    return b;
}

std::string tmp_path(const char* ext) { return g_out + "/.tmp" + ext; }

using pomt_test::put_be32;
using pomt_test::put_le16;
using pomt_test::put_le32;

// ---- models -----------------------------------------------------------------------------------

ModelConfig small(const char* arch) {
    ModelConfig c = config_for_architecture(arch);
    c.embed_dim = 8;
    c.num_heads = 2;
    c.mlp_hidden = 32;  // embed_dim × 4, as config.json resolution computes it
    c.depth = 1;
    c.num_classes = 3;
    c.img_size = 16;
    c.patch_size = 8;
    return c;
}

std::vector<std::pair<std::string, ModelConfig>> model_variants() {
    std::vector<std::pair<std::string, ModelConfig>> v;
    v.push_back({"vit", small("vit_tiny_patch16_224")});
    v.push_back({"deit_distilled", small("deit_tiny_distilled_patch16_224")});
    ModelConfig d3 = small("deit3_small_patch16_224");
    d3.reg_tokens = 2;
    v.push_back({"deit3_reg", d3});
    ModelConfig avg = small("vit_tiny_patch16_224");
    avg.class_token = false;
    avg.global_pool = "avg";
    avg.fc_norm = true;
    avg.pre_norm = true;
    avg.qkv_bias = false;
    v.push_back({"avg_prenorm", avg});
    ModelConfig headless = small("vit_tiny_patch16_224");
    headless.num_classes = 0;
    v.push_back({"headless", headless});
    return v;
}

Bytes pomt_bytes(const ModelConfig& c, bool names) {
    auto model = Model::random(c, 7);
    WeightsMeta meta = model->meta();
    meta.class_names.clear();
    if (names)
        for (int i = 0; i < c.num_classes; ++i) meta.class_names.push_back("class \"" + std::to_string(i) + "\" \xc3\xa9");
    const std::string p = tmp_path(".pomt");
    write_weights_file(p, meta, [&](const TensorSpec& s) { return model->tensor_values(s); });
    Bytes b = read_all(p);
    std::remove(p.c_str());
    return b;
}

Bytes pomt_int8_bytes(const ModelConfig& c, bool mixed) {
    auto model = Model::random(c, 7);
    WeightsMeta meta = model->meta();
    meta.class_names.clear();
    meta.quantization.precision = "int8";
    auto q = Model::quantized(meta, [&](const TensorSpec& s) { return model->tensor_values(s); });
    if (mixed) {
        meta.quantization.calibration = "smoothquant";
        meta.quantization.calibration_details.set("images", json::Value::number(4));
        meta.quantization.calibration_details.set("alpha", json::Value::number(0.5));
        meta.quantization.attention = "int8";
    }
    const std::string p = tmp_path(".pomt");
    write_quantized_weights_file(
        p, meta, [&](const TensorSpec& s) { return q->tensor_values(s); },
        [&](const TensorSpec& s) -> const Int8Weights* {
            if (mixed && s.name == "head.weight") return nullptr;
            return &q->linear_params(s.name)->int8;
        });
    Bytes b = read_all(p);
    std::remove(p.c_str());
    return b;
}

// A bf16 model (version 4): every Linear weight bf16 in panels16x2, but the head when `mixed`,
// whose attention runs in bf16 too.
Bytes pomt_bf16_bytes(const ModelConfig& c, bool mixed) {
    auto model = Model::random(c, 7);
    WeightsMeta meta = model->meta();
    meta.class_names.clear();
    meta.quantization = bf16_quantization();
    if (mixed) meta.quantization.attention = "bf16";
    std::map<std::string, std::vector<uint16_t>> panels;
    for (const TensorSpec& s : expected_tensors(c)) {
        if (!s.linear || (mixed && s.name == "head.weight")) continue;
        const std::vector<float> w = model->tensor_values(s);
        const int n = int(s.shape[0]), k = int(w.size()) / n;
        panels[s.name].resize(bf16_panel_elems(n, k));
        pack_bf16_panels(w.data(), n, k, panels[s.name].data());
    }
    const std::string p = tmp_path(".pomt");
    write_bf16_weights_file(
        p, meta, [&](const TensorSpec& s) { return model->tensor_values(s); },
        [&](const TensorSpec& s) -> const uint16_t* {
            auto it = panels.find(s.name);
            return it == panels.end() ? nullptr : it->second.data();
        });
    Bytes b = read_all(p);
    std::remove(p.c_str());
    return b;
}

void pomt_seeds() {
    // Version 2 (Linear weights in panels; D 8 and 3 classes exercise the zero padding) and the
    // version 1 files older pomt wrote, which the reader still takes.
    for (auto& [name, c] : model_variants()) {
        put("pomt_file", name + ".pomt", pomt_bytes(c, name == "vit"));
        put("pomt_file", name + "_v1.pomt", pomt_test::as_format_v1(pomt_bytes(c, name == "vit")));
    }
    Bytes b = pomt_bytes(small("vit_tiny_patch16_224"), false);
    put("pomt_file", "truncated.pomt", b.substr(0, b.size() - 40));
    put("pomt_file", "header_only.pomt", b.substr(0, 600));
    // Version 3 (int8 models: i8 panels16x4 weights with their f32 scales and i32 sums), one with
    // calibration details, int8 attention and a layer left in fp32.
    put("pomt_file", "vit_int8.pomt", pomt_int8_bytes(small("vit_tiny_patch16_224"), false));
    put("pomt_file", "deit_distilled_int8_mixed.pomt", pomt_int8_bytes(small("deit_tiny_distilled_patch16_224"), true));
    // Version 4 (a bf16 model: bf16 panels16x2 weights, the head left in fp32, bf16 attention),
    // with 4-pixel patches to keep it a few KB.
    ModelConfig tiny = small("vit_tiny_patch16_224");
    tiny.img_size = 8;
    tiny.patch_size = 4;
    put("pomt_file", "vit_bf16_mixed.pomt", pomt_bf16_bytes(tiny, true));
}

// ---- safetensors (the fuzz target's kConfig model: D 8, depth 1, img 16, patch 8, 3 classes) ----

uint16_t to_half(float f) {  // round-to-nearest for the small normal values of a random model
    uint32_t x;
    std::memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int exp = int((x >> 23) & 0xff) - 127 + 15;
    uint32_t mant = x & 0x7fffff;
    if (exp <= 0) return uint16_t(sign);
    if (exp >= 31) return uint16_t(sign | 0x7c00);
    return uint16_t(sign | uint32_t(exp) << 10 | ((mant + 0x1000) >> 13));
}

Bytes safetensors_bytes(const std::string& dtype, bool metadata) {
    ModelConfig c = small("vit_tiny_patch16_224");
    auto model = Model::random(c, 5);
    json::Value h = json::Value::object();
    if (metadata) {
        json::Value m = json::Value::object();
        m.set("format", json::Value::string("pt"));
        h.set("__metadata__", m);
    }
    Bytes data;
    for (const TensorSpec& s : expected_tensors(c)) {
        std::vector<float> v = model->tensor_values(s);
        Bytes raw;
        for (float f : v) {
            if (dtype == "F32") {
                raw.append(reinterpret_cast<const char*>(&f), 4);
            } else {
                uint32_t x;
                std::memcpy(&x, &f, 4);
                put_le16(raw, dtype == "F16" ? to_half(f) : uint16_t(x >> 16));
            }
        }
        json::Value e = json::Value::object();
        e.set("dtype", json::Value::string(dtype));
        json::Value shape = json::Value::array();
        for (int64_t d : s.shape) shape.push_back(json::Value::number(double(d)));
        e.set("shape", shape);
        json::Value off = json::Value::array();
        off.push_back(json::Value::number(double(data.size())));
        off.push_back(json::Value::number(double(data.size() + raw.size())));
        e.set("data_offsets", off);
        h.set(s.name, e);
        data += raw;
    }
    const std::string text = h.dump();
    Bytes out;
    for (int i = 0; i < 8; ++i) out += char((uint64_t(text.size()) >> (8 * i)) & 0xff);
    return out + text + data;
}

void safetensors_seeds() {
    put("safetensors", "f32.safetensors", safetensors_bytes("F32", true));
    put("safetensors", "f16.safetensors", safetensors_bytes("F16", false));
    put("safetensors", "bf16.safetensors", safetensors_bytes("BF16", false));
    const std::string mixed = R"({"a":{"dtype":"I8","shape":[2,2],"data_offsets":[0,4]},"b":{"dtype":"F64","shape":[1],"data_offsets":[4,12]},"c":{"dtype":"U16","shape":[],"data_offsets":[12,14]},"d":{"dtype":"BOOL","shape":[0],"data_offsets":[14,14]}})";
    Bytes m;
    for (int i = 0; i < 8; ++i) m += char((uint64_t(mixed.size()) >> (8 * i)) & 0xff);
    put("safetensors", "mixed_dtypes.safetensors", m + mixed + Bytes(14, '\x01'));
}

// ---- NPY --------------------------------------------------------------------------------------

void npy_seeds() {
    auto one = [](const std::string& name, std::vector<int64_t> shape) {
        size_t n = 1;
        for (int64_t s : shape) n *= size_t(s);
        std::vector<float> v(n);
        for (size_t i = 0; i < n; ++i) v[i] = float(i) * 0.25f - 1.0f;
        const std::string p = tmp_path(".npy");
        write_npy(p, v.data(), shape);
        Bytes b = read_all(p);
        std::remove(p.c_str());
        put("npy", name, b);
        return b;
    };
    Bytes b = one("image_1x3x4x4.npy", {1, 3, 4, 4});
    one("vector.npy", {5});
    one("scalar.npy", {});
    one("empty.npy", {0, 3});
    // The same data with a version 2 header (4-byte length), Python's spacing and a big-endian
    // descr the reader must refuse.
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 4, 4), }";
    dict.append((64 - (12 + dict.size() + 1) % 64) % 64, ' ');
    dict += '\n';
    Bytes v2 = Bytes("\x93NUMPY\x02\x00", 8);
    put_le32(v2, uint32_t(dict.size()));
    v2 += dict;
    v2 += b.substr(b.size() - 48 * 4);
    put("npy", "v2.npy", v2);
    Bytes be = b;
    be.replace(be.find("<f4"), 3, ">f4");
    put("npy", "big_endian.npy", be);
    Bytes fortran = b;
    fortran.replace(fortran.find("False"), 5, "True ");
    put("npy", "fortran.npy", fortran);
}

// ---- config.json ------------------------------------------------------------------------------

void config_seeds() {
    const char* configs[] = {
        R"({"architecture":"vit_tiny_patch16_224","num_classes":5,"model_args":{"embed_dim":16,"depth":1,"num_heads":2,"num_classes":5,"img_size":32},"pretrained_cfg":{"input_size":[3,32,32],"interpolation":"bicubic","crop_pct":0.9,"mean":[0.5,0.5,0.5],"std":[0.5,0.5,0.5]}})",
        R"({"architecture":"deit_small_distilled_patch16_224","num_classes":1000,"pretrained_cfg":{"input_size":[3,224,224],"interpolation":"bicubic","crop_pct":0.875,"crop_mode":"center","mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}})",
        R"({"architecture":"deit3_base_patch16_384","num_classes":1000,"model_args":{"init_values":1e-6,"no_embed_class":true},"pretrained_cfg":{"input_size":[3,384,384],"crop_pct":1.0,"interpolation":"bicubic"}})",
        R"({"architecture":"vit_base_patch32_224.augreg_in21k","num_classes":0,"global_pool":"avg","model_args":{"mlp_ratio":2.5,"reg_tokens":4,"class_token":false,"fc_norm":null,"pre_norm":true,"qkv_bias":false,"drop_rate":0.1}})",
        R"({"architecture":"vit_huge_patch16_224","label_names":["a","b"],"num_classes":2,"model_args":{"patch_size":14,"img_size":224,"depth":2},"pretrained_cfg":{"input_size":[3,224,224],"crop_pct":null,"interpolation":"nearest"}})",
        R"({"architecture": "vit_tiny_patch16_224", "num_classes": 10, "comment": "\u00e9\ud83d\ude00\n\t\"", "x": [1.5e-3, -0.0, 1E+2, true, false, null, NaN, -Infinity]})",
        R"({"architecture":"vit_small_patch16_224","model_args":{"embed_dim":384,"num_heads":6,"mlp_ratio":4,"global_pool":"token"}})",
    };
    int i = 0;
    for (const char* c : configs) put("config_json", "config" + std::to_string(i++) + ".json", c);
}

// ---- images -----------------------------------------------------------------------------------

Bytes pattern(size_t n, int seed) {
    Bytes b(n, '\0');
    for (size_t i = 0; i < n; ++i) b[i] = char((i * 37 + size_t(seed) * 101) & 0xFF);
    return b;
}

Bytes make_bmp(int w, int h, int bpp) {
    const int row = (w * bpp / 8 + 3) / 4 * 4;
    const int palette = bpp == 8 ? 256 : 0;
    Bytes b = pomt_test::bmp_header(w, h, bpp, palette);
    for (int i = 0; i < palette; ++i) b += Bytes{char(i), char(255 - i), char(i / 2), 0};
    b += pattern(size_t(row * h), bpp);
    return b;
}

Bytes make_tga(int w, int h) {
    Bytes t(18, '\0');
    t[2] = 2;  // uncompressed true colour
    t[12] = char(w & 0xFF), t[13] = char(w >> 8);
    t[14] = char(h & 0xFF), t[15] = char(h >> 8);
    t[16] = 24;
    return t + pattern(size_t(w * h * 3), 3);
}

void image_seeds() {
    std::vector<std::pair<std::string, Bytes>> images;
    images.push_back({"rgb8.png", make_png(5, 4, 2, 8, pattern(5 * 4 * 3, 1), 15, 0)});
    images.push_back({"grey8_paeth.png", make_png(7, 3, 0, 8, pattern(21, 2), 7, 4)});
    images.push_back({"grey16.png", make_png(3, 3, 0, 16, pattern(18, 3), 6, 1)});
    images.push_back({"rgba8_avg.png", make_png(4, 4, 6, 8, pattern(64, 4), 16, 3)});
    images.push_back({"rgb16_up.png", make_png(2, 2, 2, 16, pattern(24, 5), 12, 2)});
    images.push_back({"palette4.png", make_png(4, 2, 3, 4, pattern(4, 6), 2, 0, pattern(48, 7))});
    images.push_back({"grey1_interlaced.png", make_png(8, 8, 0, 1, pattern(8, 8), 1, 0, "", true)});
    images.push_back({"rgb24.bmp", make_bmp(5, 3, 24)});
    images.push_back({"pal8.bmp", make_bmp(4, 4, 8)});
    images.push_back({"argb32.bmp", make_bmp(3, 2, 32)});
    images.push_back({"rgb.ppm", "P6\n# pomt\n4 3\n255\n" + pattern(36, 9)});
    images.push_back({"grey.pgm", "P5 3 2 255 " + pattern(6, 10)});
    images.push_back({"grey16.pgm", "P5\n2 2\n65535\n" + pattern(8, 11)});
    images.push_back({"rgb.tga", make_tga(4, 3)});
    images.push_back({"one.gif", Bytes("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
                                       ",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00;", 43)});
    images.push_back({"grey8.jpg", make_jpeg(8, 8, 1, 0x11, "\x3F")});
    images.push_back({"ycc444.jpg", make_jpeg(8, 8, 3, 0x11, "\x03")});
    images.push_back({"ycc420.jpg", make_jpeg(16, 16, 3, 0x22, Bytes("\x00\x0F", 2))});
    images.push_back({"ycc420_odd.jpg", make_jpeg(13, 9, 3, 0x22, Bytes("\x00\x0F", 2))});
    // Control bytes (see fuzz_image.cpp): the three classifier models and the free config.
    const Bytes controls[] = {Bytes("\x00\x00\x00\x00", 4), Bytes("\x01\x00\x00\x00", 4), Bytes("\x02\x00\x00\x00", 4),
                              Bytes("\x03\x04\x80\x1f", 4), Bytes("\x03\x2d\xff\x07", 4), Bytes("\x03\x10\x10\x3f", 4)};
    int k = 0;
    for (auto& [name, bytes] : images) {
        put("image", name, controls[k % 6] + bytes);
        ++k;
    }
}

// ---- pruning ----------------------------------------------------------------------------------

void prune_seeds() {
    // The fuzz models: 4 blocks, 16 patch tokens + 1 (ViT), 2 (distilled), 0 (avg) or 5 (reg) prefix.
    const char* specs[] = {
        "pomt:R=4,layer=1", "topk:r=2", "tome:r=3", "tome:r=4,2,2,1", "tome:r=2,layer=2", "random:keep=10,seed=1",
        "none", "random:keep=12;pomt:R=3,layer=2", "topk:r=1,layer=0;tome:r=2,layer=3", "pomt:R=0,layer=0",
    };
    const char* files[] = {
        R"({"comment":"per block","layers":[null,{"method":"pomt","R":4},{},{"method":"none"}]})",
        R"({"steps":[{"method":"tome","r":[0,2,2]},{"method":"topk","r":1,"layer":3}]})",
        R"({"random":{"keep":12,"seed":3},"prune":"pomt:R=2,layer=0","version":1,"format":"pomt-schedule"})",
        R"({"steps":[{"method":"random","keep":9},{"method":"pomt","R":2,"layer":3}],"layers":[{"method":"tome","r":3}]})",
        R"({"layers":[null,{"method":"tome","r":2}],"precision":"int8","search":{"method":"pareto"}})",
        R"({"prune":"topk:r=2","precision":"bf16","search":{"method":"pareto","precisions":[{"precision":"bf16"}]}})",
    };
    int i = 0;
    for (const char* s : specs) {
        const char ctl = char((i % 4) << 1);  // bit 0 = 0: a spec; bits 1-2: the model
        put("prune_spec", "spec" + std::to_string(i++), Bytes(1, ctl) + s);
    }
    i = 0;
    for (const char* f : files) {
        const char ctl = char(1 | ((i % 4) << 1));
        put("prune_spec", "schedule" + std::to_string(i++) + ".json", Bytes(1, ctl) + f);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds OUT_DIR\n");
        return 2;
    }
    g_out = argv[1];
    ::mkdir(g_out.c_str(), 0755);
    pomt_seeds();
    safetensors_seeds();
    npy_seeds();
    config_seeds();
    image_seeds();
    prune_seeds();
    return 0;
}
