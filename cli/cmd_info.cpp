// pomt info: what a .pomt file holds; `pomt info --architectures`: the names --arch takes.
#include <cstdio>

#include "cli/commands.h"
#include "kernels/gemm_bf16_kernels.h"
#include "pomt/quantize.h"
#include "kernels/gemm_int8_kernels.h"
#include "pomt/error.h"
#include "vit/weights_file.h"

namespace pomt {

int cmd_info(const Args& args) {
    if (args.has("--architectures")) {
        if (!args.positional().empty()) fail("--architectures takes no model file: pomt info --architectures [--json]");
        json::Value list = json::Value::array();
        for (const std::string& name : known_architectures()) {
            if (!args.has("--json")) std::printf("%s\n", name.c_str());
            list.push_back(json::Value::string(name));
        }
        if (args.has("--json")) std::printf("%s\n", list.dump().c_str());
        return 0;
    }
    if (args.positional().size() != 1) fail("give one model file: pomt info model.pomt (or pomt info --architectures)");
    const std::string path = args.positional()[0];
    WeightsFile f(path);
    const WeightsMeta& m = f.meta();
    if (args.has("--json")) {
        json::Value v = json::Value::object();
        v.set("file", json::Value::string(path));
        v.set("model", m.model.to_json());
        v.set("preprocess", m.preprocess.to_json());
        v.set("class_names", json::Value::number(double(m.class_names.size())));
        json::Value q = json::Value::object();
        q.set("precision", json::Value::string(m.quantization.precision));
        if (m.quantization.precision != "fp32") {
            q.set("weights", json::Value::string(m.quantization.weights));
            q.set("activations", json::Value::string(m.quantization.activations));
            q.set("attention", json::Value::string(m.quantization.attention));
            q.set("calibration", json::Value::string(m.quantization.calibration));
            if (!m.quantization.calibration_details.as_object("").empty())
                q.set("calibration_details", m.quantization.calibration_details);
            json::Value here = json::Value::object();
            if (m.quantization.precision == "bf16") {
                here.set("bf16_variant", json::Value::string(active_bf16_variant()));
                here.set("note", json::Value::string(bf16_note()));
                q.set("this_cpu", here);
                v.set("quantization", q);
                std::printf("%s\n", v.dump().c_str());
                return 0;
            }
            const Int8Outlook o = measure_int8_outlook();
            here.set("int8_variant", json::Value::string(o.int8_variant));
            here.set("int8_gmacs", json::Value::number(o.int8_gmacs));
            here.set("fp32_level", json::Value::string(o.fp32_level));
            here.set("fp32_gmacs", json::Value::number(o.fp32_gmacs));
            here.set("ratio", json::Value::number(o.ratio));
            here.set("note", json::Value::string(o.note));
            q.set("this_cpu", here);
        }
        v.set("quantization", q);
        std::printf("%s\n", v.dump().c_str());
        return 0;
    }
    const ModelConfig& c = m.model;
    const PreprocessConfig& p = m.preprocess;
    long long params = 0;  // the model's parameters (an int8 weight's scales and sums are not extra ones)
    for (const TensorSpec& t : expected_tensors(c)) {
        long long n = 1;
        for (int64_t d : t.shape) n *= d;
        params += n;
    }
    std::printf("file            %s (format v%u, %s)\n", path.c_str(), f.version(),
                f.is_mapped() ? "memory-mapped" : "read into memory");
    std::printf("architecture    %s\n", c.architecture.c_str());
    const QuantizationInfo& q = m.quantization;
    if (q.precision == "fp32") {
        std::printf("precision       fp32\n");
    } else {
        std::printf("precision       %s: weights %s, activations %s\n", q.precision.c_str(), q.weights.c_str(),
                    q.activations.c_str());
        std::printf("attention       %s\n",
                    q.attention == "int8"   ? "int8 (Q, K, V per token and head, probabilities per row; softmax fp32)"
                    : q.attention == "bf16" ? "bf16 (Q, K, V and the probabilities rounded; softmax fp32)"
                                            : "fp32");
        if (q.attention == "bf16" && !bf16_attention_note().empty())
            std::printf("note            %s\n", bf16_attention_note().c_str());
        std::printf("calibration     %s\n", q.calibration_text().c_str());
        if (q.precision == "bf16") {
            std::printf("bf16 kernels    %s on this CPU (POMT_BF16 selects another)\n", active_bf16_variant());
            const std::string note = bf16_note();
            if (!note.empty()) std::printf("note            %s\n", note.c_str());
        }
    }
    if (q.precision == "int8") {
        const Int8Outlook o = measure_int8_outlook();
        std::printf("int8 kernels    %s on this CPU (POMT_INT8 selects another): %.1f GMAC/s, %.2fx the %s fp32 "
                    "rate (1 core)\n",
                    o.int8_variant.c_str(), o.int8_gmacs, o.ratio, o.fp32_level.c_str());
        if (!o.note.empty()) std::printf("note            %s\n", o.note.c_str());
    }
    std::printf("parameters      %lld (%.1f M) in %zu tensors\n", params, params / 1e6, f.tensors().size());
    std::printf("image           %d px, patch %d, %d patches + %d prefix tokens = %d tokens\n", c.img_size, c.patch_size,
                c.num_patches(), c.num_prefix_tokens(), c.num_tokens());
    std::printf("embed_dim       %d, depth %d, heads %d (head_dim %d), mlp %d\n", c.embed_dim, c.depth, c.num_heads,
                c.head_dim(), c.mlp_hidden);
    std::printf("tokens          class %s, distillation %s, registers %d; pos_embed %s\n", c.class_token ? "yes" : "no",
                c.distilled ? "yes" : "no", c.reg_tokens, c.no_embed_class ? "patches only" : "all tokens");
    std::printf("blocks          qkv_bias %s, LayerScale %s, norm_pre %s, LayerNorm eps %g\n", c.qkv_bias ? "yes" : "no",
                c.layer_scale ? "yes" : "no", c.pre_norm ? "yes" : "no", c.ln_eps);
    std::printf("head            pool %s%s, %d classes%s\n", c.global_pool.c_str(), c.fc_norm ? " + fc_norm" : "",
                c.num_classes, c.distilled ? " (mean of head and head_dist)" : "");
    std::printf("preprocess      %dx%d, %s, crop_pct %g, mean (%g, %g, %g), std (%g, %g, %g)\n", p.input_size[1],
                p.input_size[2], p.interpolation.c_str(), p.crop_pct, p.mean[0], p.mean[1], p.mean[2], p.std[0],
                p.std[1], p.std[2]);
    std::printf("class names     %s\n", m.class_names.empty() ? "none (class N)" : (std::to_string(m.class_names.size()) + " stored").c_str());
    return 0;
}

}  // namespace pomt
