// libFuzzer target: token-pruning schedules (prune/pruning.h): `--prune` specs and schedule JSON
// files, resolved against small models and run. Input: 1 control byte, then the text.
//   byte 0 bit 0: 0 = a --prune spec (parse_prune_spec), 1 = a schedule file (parse_schedule_json)
//   byte 0 bits 1-2: the model (class token / distilled / avg pool without class token /
//                    register tokens + DeiT III)
// Beyond "no crash": a resolved schedule has one action per block and token counts that never
// grow and keep a patch token; its to_json() form reads back to the same plan; and a forward
// pass of a batch of 2 with the pruner reports exactly the planned token counts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz/fuzz_common.h"
#include "vit/forward.h"
#include "vit/model.h"
#include "prune/pruning.h"

using namespace pomt;

namespace {

std::shared_ptr<const Model> make(int which) {
    ModelConfig c = config_for_architecture(which == 1   ? "deit_tiny_distilled_patch16_224"
                                            : which == 3 ? "deit3_small_patch16_224"
                                                         : "vit_tiny_patch16_224");
    c.embed_dim = 8;
    c.num_heads = 2;
    c.mlp_hidden = 16;
    c.depth = 4;
    c.num_classes = 3;
    c.img_size = 32;
    c.patch_size = 8;  // 16 patch tokens
    if (which == 2) {
        c.class_token = false;
        c.global_pool = "avg";
        c.fc_norm = true;
    }
    if (which == 3) c.reg_tokens = 4;
    return Model::random(c, uint64_t(which) + 1);
}

const Model& model(int which) {
    static const std::shared_ptr<const Model> models[4] = {make(0), make(1), make(2), make(3)};
    return *models[which];
}

[[noreturn]] void broken(const char* what, const std::string& detail) {
    std::fprintf(stderr, "pomt fuzz: %s: %s\n", what, detail.c_str());
    std::abort();
}

std::string plan_key(const ResolvedSchedule& r) {
    std::string k = std::to_string(r.keep) + "/" + std::to_string(r.seed) + ":";
    for (const LayerAction& a : r.layers) k += std::to_string(int(a.method)) + "," + std::to_string(a.r) + ";";
    return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1 || size > 4096) return 0;
    const uint8_t ctl = data[0];
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
    PruneSchedule schedule;
    const bool ok = pomt_fuzz::expect_clean([&] {
        schedule = (ctl & 1) ? parse_schedule_json(text, "schedule 'fuzz.json'") : parse_prune_spec(text);
    });
    if (!ok) return 0;

    const Model& m = model((ctl >> 1) & 3);
    const ModelConfig& c = m.config();
    ResolvedSchedule plan;
    if (!pomt_fuzz::expect_clean([&] { plan = resolve_schedule(schedule, c); })) return 0;

    if (int(plan.layers.size()) != c.depth || int(plan.tokens_after_block.size()) != c.depth)
        broken("plan size", plan_key(plan));
    int prev = plan.tokens_after_embedding;
    if (prev > c.num_tokens() || prev <= c.num_prefix_tokens()) broken("tokens after embedding", plan_key(plan));
    for (int n : plan.tokens_after_block) {
        if (n > prev || n <= c.num_prefix_tokens()) broken("token counts", plan_key(plan));
        prev = n;
    }
    std::string description;
    pomt_fuzz::expect_clean([&] { description = plan.describe(); });
    if (description.empty() || description.find('\n') != std::string::npos) broken("describe()", description);

    // The per-layer file form reads back to the same plan.
    pomt_fuzz::expect_clean([&] {
        const std::string file = plan.to_json().dump();
        ResolvedSchedule again = resolve_schedule(parse_schedule_json(file, "round trip"), c);
        if (plan_key(again) != plan_key(plan)) broken("to_json round trip", file);
    });

    // Run it: batch 2, one thread; the pruner must produce the planned counts.
    pomt_fuzz::expect_clean([&] {
        std::unique_ptr<TokenPruner> pruner = make_pruner(plan, c);
        Session session(std::shared_ptr<const Model>(&m, [](const Model*) {}), 1);
        std::vector<float> x(size_t(2) * 3 * c.img_size * c.img_size);
        for (size_t i = 0; i < x.size(); ++i) x[i] = float((i * 2654435761u) % 1000) / 500.0f - 1.0f;
        std::vector<int> tokens;
        RunOptions opt;
        opt.pruner = pruner.get();
        opt.tokens_after_block = &tokens;
        std::vector<float> out = session.run(x.data(), 2, opt);
        if (int(out.size()) != 2 * session.outputs()) broken("output size", description);
        if (pruner && tokens != plan.tokens_after_block) broken("run token counts differ from the plan", description);
    });
    return 0;
}
