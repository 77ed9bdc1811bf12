// libFuzzer target: the JSON reader (core/json.h) and hub config.json resolution
// (vit/config.h config_from_hub_json, behind `pomt convert`). Input: a config.json text.
//
// Beyond "no crash": a parsed document must dump and re-parse to the same dump; a resolved
// config must pass validate(), round-trip through the .pomt header form (ModelConfig /
// PreprocessConfig to_json / from_json), and give a tensor list and an eval geometry.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_common.h"
#include "vit/config.h"
#include "core/json.h"
#include "image/preprocess.h"

using namespace pomt;

namespace {
[[noreturn]] void broken(const char* what, const std::string& detail) {
    std::fprintf(stderr, "pomt fuzz: %s: %s\n", what, detail.c_str());
    std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    json::Value doc;
    if (!pomt_fuzz::expect_clean([&] { doc = json::parse(text, "'config.json'"); })) return 0;

    // dump → parse → dump is stable (a document holding NaN / Infinity cannot be dumped: that
    // is a clean pomt::Error, as the writer refuses non-finite numbers).
    std::string d1;
    if (pomt_fuzz::expect_clean([&] { d1 = doc.dump(); })) {
        std::string d2;
        if (!pomt_fuzz::expect_clean([&] { d2 = json::parse(d1, "dump").dump(); })) broken("dump does not re-parse", d1);
        if (d1 != d2) broken("dump/parse round trip differs", d1 + " vs " + d2);
    }

    ModelConfig model;
    PreprocessConfig pre;
    if (!pomt_fuzz::expect_clean([&] { config_from_hub_json(doc, "", "'config.json'", &model, &pre); })) return 0;
    pomt_fuzz::expect_clean([&] {
        model.validate();
        ModelConfig m2 = ModelConfig::from_json(json::parse(model.to_json().dump(), "m"), "model");
        PreprocessConfig p2 = PreprocessConfig::from_json(json::parse(pre.to_json().dump(), "p"), "pre");
        if (m2.to_json().dump() != model.to_json().dump()) broken("model config round trip", model.to_json().dump());
        if (p2.to_json().dump() != pre.to_json().dump()) broken("preprocess config round trip", pre.to_json().dump());
        if (expected_tensors(model).empty()) broken("no tensors", model.to_json().dump());
        eval_geometry(640, 480, pre);
        eval_geometry(1, 3000, pre);
    });
    return 0;
}
