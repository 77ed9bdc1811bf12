// vit/config: timm architecture names and hub config.json resolution.
#include <algorithm>
#include <cmath>
#include <string>

#include "doctest/doctest.h"
#include "tests/test_util.h"
#include "core/json.h"
#include "vit/config.h"
#include "pomt/error.h"

using namespace pomt;

TEST_CASE("config: timm architecture names") {
    ModelConfig t = config_for_architecture("vit_tiny_patch16_224.augreg_in21k_ft_in1k");
    CHECK(t.embed_dim == 192);
    CHECK(t.num_heads == 3);
    CHECK(t.depth == 12);
    CHECK(t.num_tokens() == 197);
    ModelConfig b = config_for_architecture("vit_base_patch32_384");
    CHECK(b.num_heads == 12);
    CHECK(b.num_patches() == 144);
    ModelConfig l = config_for_architecture("vit_large_patch16_224");
    CHECK(l.depth == 24);
    CHECK(l.num_heads == 16);
    ModelConfig d = config_for_architecture("deit_small_distilled_patch16_224");
    CHECK(d.distilled);
    CHECK(d.num_prefix_tokens() == 2);
    CHECK(d.num_tokens() == 198);
    ModelConfig d3 = config_for_architecture("deit3_base_patch16_384");
    CHECK(d3.no_embed_class);
    CHECK(d3.layer_scale);
    CHECK(d3.pos_embed_len() == 576);
    CHECK_THROWS_WITH_AS(config_for_architecture("resnet50"), doctest::Contains("unknown architecture"), Error);
    // A mistyped or abbreviated name gets the nearest known names and how to list them all.
    CHECK_THROWS_WITH_AS(config_for_architecture("vit_tiny"),
                         "unknown architecture 'vit_tiny': did you mean vit_tiny_patch16_224, vit_tiny_patch16_384 or "
                         "vit_tiny_patch32_224? (every name: pomt info --architectures, or pomt.architectures() in "
                         "Python)",
                         Error);
    CHECK(suggest_architectures("deit_small_patch16_244.fb_in1k").at(0) == "deit_small_patch16_224");
    CHECK(suggest_architectures("vit_base_patch14_dino").at(0) == "vit_base_patch14_dinov2");
    CHECK(suggest_architectures("vit_so400m_patch14_siglip") ==
          std::vector<std::string>{"vit_so400m_patch14_siglip_224"});
    CHECK(suggest_architectures("resnet50").empty());
    CHECK_THROWS_WITH_AS(config_for_architecture("resnet50"),
                         doctest::Contains("not a timm VisionTransformer pomt knows"), Error);
    CHECK_THROWS_AS(config_for_architecture("vit_distilled_tiny_patch16_224"), Error);
    CHECK_THROWS_AS(config_for_architecture("deit3_tiny_distilled_patch16_224"), Error);
    for (const std::string& name : known_architectures()) {
        CAPTURE(name);
        config_for_architecture(name).validate();
    }
}

// The rest of timm's VisionTransformer family, field by field as timm.create_model(name) builds it
// (vision_transformer.py's model_args for the name, img_size and num_classes of its default
// pretrained_cfg): every named architecture pomt lists is here, so none is listed untested.
TEST_CASE("config: DINOv2, CLIP, SigLIP, _gap_ and _reg4_ names resolve as timm defines them") {
    struct Want {
        const char* name;
        int D, depth, heads, hidden, patch, img, classes, tokens, prefix;
        const char* pool;
        const char* flags;  // c: class token, r: no_embed_class, l: LayerScale, p: norm_pre, f: fc_norm,
                            // q: QuickGELU, n: no qkv bias, 5: LayerNorm eps 1e-5
    };
    const Want want[] = {
        {"vit_small_patch14_dinov2", 384, 12, 6, 1536, 14, 518, 0, 1370, 1, "token", "cl"},
        {"vit_base_patch14_dinov2", 768, 12, 12, 3072, 14, 518, 0, 1370, 1, "token", "cl"},
        {"vit_large_patch14_dinov2", 1024, 24, 16, 4096, 14, 518, 0, 1370, 1, "token", "cl"},
        {"vit_small_patch14_reg4_dinov2", 384, 12, 6, 1536, 14, 518, 0, 1374, 5, "token", "crl"},
        {"vit_base_patch14_reg4_dinov2", 768, 12, 12, 3072, 14, 518, 0, 1374, 5, "token", "crl"},
        {"vit_large_patch14_reg4_dinov2", 1024, 24, 16, 4096, 14, 518, 0, 1374, 5, "token", "crl"},
        {"vit_base_patch32_clip_224", 768, 12, 12, 3072, 32, 224, 1000, 50, 1, "token", "cp5"},
        {"vit_base_patch32_clip_256", 768, 12, 12, 3072, 32, 256, 1000, 65, 1, "token", "cp5"},
        {"vit_base_patch32_clip_384", 768, 12, 12, 3072, 32, 384, 1000, 145, 1, "token", "cp5"},
        {"vit_base_patch32_clip_448", 768, 12, 12, 3072, 32, 448, 1000, 197, 1, "token", "cp5"},
        {"vit_base_patch16_clip_224", 768, 12, 12, 3072, 16, 224, 1000, 197, 1, "token", "cp5"},
        {"vit_base_patch16_clip_384", 768, 12, 12, 3072, 16, 384, 1000, 577, 1, "token", "cp5"},
        {"vit_large_patch14_clip_224", 1024, 24, 16, 4096, 14, 224, 1000, 257, 1, "token", "cp5"},
        {"vit_large_patch14_clip_336", 1024, 24, 16, 4096, 14, 336, 1000, 577, 1, "token", "cp5"},
        {"vit_huge_patch14_clip_224", 1280, 32, 16, 5120, 14, 224, 1000, 257, 1, "token", "cp5"},
        {"vit_huge_patch14_clip_336", 1280, 32, 16, 5120, 14, 336, 1000, 577, 1, "token", "cp5"},
        {"vit_huge_patch14_clip_378", 1280, 32, 16, 5120, 14, 378, 1000, 730, 1, "token", "cp5"},
        {"vit_giant_patch14_clip_224", 1408, 40, 16, 6144, 14, 224, 1000, 257, 1, "token", "cp5"},
        {"vit_gigantic_patch14_clip_224", 1664, 48, 16, 8192, 14, 224, 1000, 257, 1, "token", "cp5"},
        {"vit_base_patch32_clip_quickgelu_224", 768, 12, 12, 3072, 32, 224, 512, 50, 1, "token", "cpq5"},
        {"vit_base_patch16_clip_quickgelu_224", 768, 12, 12, 3072, 16, 224, 512, 197, 1, "token", "cpq5"},
        {"vit_large_patch14_clip_quickgelu_224", 1024, 24, 16, 4096, 14, 224, 768, 257, 1, "token", "cpq5"},
        {"vit_large_patch14_clip_quickgelu_336", 1024, 24, 16, 4096, 14, 336, 768, 577, 1, "token", "cpq5"},
        {"vit_huge_patch14_clip_quickgelu_224", 1280, 32, 16, 5120, 14, 224, 1024, 257, 1, "token", "cpq5"},
        {"vit_huge_patch14_clip_quickgelu_378", 1280, 32, 16, 5120, 14, 378, 1024, 730, 1, "token", "cpq5"},
        {"vit_base_patch16_siglip_224", 768, 12, 12, 3072, 16, 224, 0, 196, 0, "map", ""},
        {"vit_base_patch16_siglip_256", 768, 12, 12, 3072, 16, 256, 0, 256, 0, "map", ""},
        {"vit_base_patch16_siglip_384", 768, 12, 12, 3072, 16, 384, 0, 576, 0, "map", ""},
        {"vit_base_patch16_siglip_512", 768, 12, 12, 3072, 16, 512, 0, 1024, 0, "map", ""},
        {"vit_large_patch16_siglip_256", 1024, 24, 16, 4096, 16, 256, 0, 256, 0, "map", ""},
        {"vit_large_patch16_siglip_384", 1024, 24, 16, 4096, 16, 384, 0, 576, 0, "map", ""},
        {"vit_so400m_patch14_siglip_224", 1152, 27, 16, 4304, 14, 224, 0, 256, 0, "map", ""},
        {"vit_medium_patch16_gap_240", 512, 12, 8, 2048, 16, 240, 1000, 225, 0, "avg", "ln"},
        {"vit_medium_patch16_gap_256", 512, 12, 8, 2048, 16, 256, 1000, 256, 0, "avg", "ln"},
        {"vit_medium_patch16_gap_384", 512, 12, 8, 2048, 16, 384, 1000, 576, 0, "avg", "ln"},
        {"vit_base_patch16_reg4_gap_256", 768, 12, 12, 3072, 16, 256, 1000, 260, 4, "avg", "rf"},
        {"vit_so150m_patch16_reg4_map_256", 896, 18, 14, 2304, 16, 256, 1000, 260, 4, "map", ""},
    };
    size_t named = 0;
    const std::vector<std::string> known = known_architectures();
    for (const std::string& n : known) named += n.find("_patch14_") != std::string::npos ||
                                                                 n.find("_clip_") != std::string::npos ||
                                                                 n.find("_gap_") != std::string::npos ||
                                                                 n.find("_map_") != std::string::npos ||
                                                                 n.find("_siglip_") != std::string::npos;
    CHECK(named == sizeof(want) / sizeof(want[0]));
    for (const Want& w : want) {
        CAPTURE(w.name);
        const ModelConfig c = config_for_architecture(std::string(w.name) + ".some_tag");
        const std::string f = w.flags;
        auto has = [&](char k) { return f.find(k) != std::string::npos; };
        CHECK(c.embed_dim == w.D);
        CHECK(c.depth == w.depth);
        CHECK(c.num_heads == w.heads);
        CHECK(c.mlp_hidden == w.hidden);
        CHECK(c.patch_size == w.patch);
        CHECK(c.img_size == w.img);
        CHECK(c.num_classes == w.classes);
        CHECK(c.num_tokens() == w.tokens);
        CHECK(c.num_prefix_tokens() == w.prefix);
        CHECK(c.global_pool == w.pool);
        CHECK(c.class_token == has('c'));
        CHECK(c.no_embed_class == has('r'));
        CHECK(c.layer_scale == has('l'));
        CHECK(c.pre_norm == has('p'));
        CHECK(c.fc_norm == has('f'));
        CHECK(c.quick_gelu() == has('q'));
        CHECK(c.qkv_bias == !has('n'));
        CHECK(c.ln_eps == (has('5') ? 1e-5 : 1e-6));
        CHECK_FALSE(c.distilled);
        CHECK(std::find(known.begin(), known.end(), w.name) != known.end());
        // --arch: a random model of the name builds (tensor table and shapes consistent).
        CHECK(expected_tensors(c).size() > 0);
    }
}

TEST_CASE("config: hub config.json overrides and preprocessing") {
    ModelConfig m;
    PreprocessConfig p;
    config_from_hub_json(json::parse(R"({"architecture":"vit_small_patch16_224","num_classes":10,"global_pool":"avg",
        "model_args":{"depth":3,"mlp_ratio":2.5,"init_values":1e-5,"drop_path_rate":0.1},
        "pretrained_cfg":{"input_size":[3,224,224],"interpolation":"bilinear","crop_pct":0.95,"mean":[0.1,0.2,0.3],"std":[0.4,0.5,0.6]}})",
                                     "c"),
                         "", "c", &m, &p);
    CHECK(m.depth == 3);
    CHECK(m.mlp_hidden == 960);
    CHECK(m.layer_scale);
    CHECK(m.fc_norm);  // timm: avg pooling uses fc_norm unless told otherwise
    CHECK(m.num_classes == 10);
    CHECK(p.interpolation == "bilinear");
    CHECK(p.crop_pct == 0.95);
    CHECK(p.std[2] == 0.6);
    auto bad = [](const char* text) {
        ModelConfig mm;
        PreprocessConfig pp;
        config_from_hub_json(json::parse(text, "c"), "", "c", &mm, &pp);
    };
    CHECK_THROWS_WITH_AS(bad(R"({"architecture":"vit_tiny_patch16_224","model_args":{"num_heads":5}})"),
                         doctest::Contains("multiple of num_heads"), Error);
    CHECK_THROWS_WITH_AS(bad(R"({"model_args":{}})"), doctest::Contains("no 'architecture'"), Error);
    CHECK_THROWS_WITH_AS(bad(R"({"architecture":"vit_tiny_patch16_224","pretrained_cfg":{"input_size":[3,256,256]}})"),
                         doctest::Contains("does not match"), Error);
    CHECK_THROWS_WITH_AS(bad(R"({"architecture":"vit_tiny_patch16_224","global_pool":"avgmax"})"),
                         doctest::Contains("global_pool 'avgmax' is not supported"), Error);
    CHECK_THROWS_WITH_AS(bad(R"({"architecture":"vit_base_patch16_siglip_224","global_pool":"token"})"),
                         doctest::Contains("global_pool 'token' needs a class token"), Error);
    CHECK_THROWS_WITH_AS(bad(R"({"architecture":"vit_base_patch16_clip_224","model_args":{"act_layer":"silu"}})"),
                         doctest::Contains("model_args.act_layer 'silu' is not supported"), Error);
    CHECK_THROWS_WITH_AS(bad(R"({"architecture":"vit_base_patch16_clip_224","model_args":{"mlp_layer":"swiglu"}})"),
                         doctest::Contains("model_args.mlp_layer is not supported"), Error);
    CHECK_THROWS_WITH_AS(bad(R"({"architecture":"vit_so150m_patch16_reg4_map_256","model_args":{"pool_include_prefix":true}})"),
                         doctest::Contains("pool_include_prefix = true is not supported"), Error);
    CHECK_THROWS_WITH_AS(bad(R"({"architecture":"vit_giant_patch14_dinov2"})"), doctest::Contains("SwiGLU"), Error);
    CHECK_THROWS_WITH_AS(bad(R"({"architecture":"vit_tiny_patch16_224","pretrained_cfg":{"interpolation":"lanczos"}})"),
                         doctest::Contains("lanczos"), Error);
}

TEST_CASE("config: absurd architecture names are unknown architectures (fuzz_config_json)") {
    // std::stoi on the patch / image size digits threw std::out_of_range ("stoi") for 11 digits,
    // and libstdc++'s recursive std::regex overflowed the stack on a long name from config.json
    // (`pomt convert` crashed with SIGSEGV on a 300 kB "architecture").
    pomt_test::expect_error([] { config_for_architecture("vit_tiny_patch99999999999_224"); }, "unknown architecture");
    pomt_test::expect_error([] { config_for_architecture("vit_tiny_patch16_" + std::string(300000, '1')); }, "unknown architecture");
    const std::string hub = R"({"architecture":"vit_tiny_patch)" + std::string(300000, '1') + R"(_224"})";
    ModelConfig m;
    PreprocessConfig p;
    pomt_test::expect_error([&] { config_from_hub_json(json::parse(hub, "h"), "", "'config.json'", &m, &p); }, "unknown architecture");
    // Through the CLI: exit 2 and one line, not a crash.
    auto r = pomt_test::run_pomt({"bench", "--arch", "vit_tiny_patch99999999999_224", "--runs", "1"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("unknown architecture") != std::string::npos);
    const std::string dir = pomt_test::temp_dir();
    pomt_test::write_bytes(dir + "/config.json", hub);
    pomt_test::write_bytes(dir + "/model.safetensors", std::string("\x02\0\0\0\0\0\0\0{}", 10));
    r = pomt_test::run_pomt({"convert", dir, "-o", dir + "/out.pomt"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("unknown architecture") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_FALSE(pomt_test::file_exists(dir + "/out.pomt"));
}
