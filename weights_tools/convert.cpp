#include "weights_tools/convert.h"

#include <memory>
#include <set>

#include "pomt/error.h"
#include "core/file_util.h"
#include "vit/imagenet_classes.h"
#include "weights_tools/pos_embed_resample.h"
#include "weights_tools/safetensors.h"

namespace pomt {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

}  // namespace

void set_image_size(int image_size, ModelConfig* cfg, PreprocessConfig* pre) {
    const std::string s = std::to_string(image_size);
    if (image_size <= 0 || image_size > 4096) fail("--image-size " + s + " must be between 1 and 4096 pixels");
    if (image_size % cfg->patch_size)
        fail("--image-size " + s + " is not a multiple of the patch size " + std::to_string(cfg->patch_size) + " of " +
             cfg->architecture);
    cfg->img_size = image_size;
    cfg->validate();
    pre->input_size[1] = pre->input_size[2] = image_size;
}

TimmWeights read_timm_weights(const ConvertOptions& o) {
    std::string weights_path = o.input, config_path = o.config_path;
    if (is_directory(o.input)) {
        weights_path = o.input + "/model.safetensors";
        if (config_path.empty()) config_path = o.input + "/config.json";
        require_regular_file(weights_path, "hub folder weights");
    }
    json::Value hub = json::Value::object();
    if (!config_path.empty()) {
        std::vector<unsigned char> bytes = read_file_bytes(config_path, "config file");
        hub = json::parse(std::string(bytes.begin(), bytes.end()), "'" + config_path + "'");
    } else if (o.arch.empty()) {
        fail("'" + o.input + "' is a bare .safetensors: give --config config.json or --arch NAME");
    }
    TimmWeights result;
    ConvertReport& report = result.report;
    config_from_hub_json(hub, o.arch, config_path.empty() ? "--arch" : "'" + config_path + "'", &report.meta.model,
                         &report.meta.preprocess);
    const ModelConfig trained = report.meta.model;  // the checkpoint's shapes
    if (o.image_size) set_image_size(o.image_size, &report.meta.model, &report.meta.preprocess);
    const ModelConfig& cfg = report.meta.model;

    if (const json::Value* labels = hub.find("label_names")) {
        for (const json::Value& l : labels->as_array("config label_names"))
            report.meta.class_names.push_back(l.as_string("config label_names"));
        if (int(report.meta.class_names.size()) != cfg.num_classes) report.meta.class_names.clear();
    }
    if (report.meta.class_names.empty() && cfg.num_classes == 1000)
        for (int i = 0; i < 1000; ++i) report.meta.class_names.push_back(std::string(imagenet_class_entry(i)).substr(10));

    auto file = std::make_shared<SafetensorsFile>(weights_path);
    const SafetensorsFile& st = *file;
    std::vector<TensorSpec> specs = expected_tensors(trained);
    std::set<std::string> wanted;
    for (const TensorSpec& s : specs) {
        wanted.insert(s.name);
        const SafeTensorInfo* t = st.find(s.name);
        if (!t) fail("'" + weights_path + "': tensor '" + s.name + "' is missing for " + cfg.architecture);
        if (t->shape != s.shape)
            fail("'" + weights_path + "': tensor '" + s.name + "' has shape " + shape_str(t->shape) + ", " +
                 cfg.architecture + " needs " + shape_str(s.shape));
        if (t->dtype != "F32" && t->dtype != "F16" && t->dtype != "BF16")
            fail("'" + weights_path + "': tensor '" + s.name + "' has dtype " + t->dtype + " (F32, F16 or BF16 needed)");
        report.parameters += t->numel();
    }
    for (const SafeTensorInfo& t : st.tensors())
        if (!wanted.count(t.name))
            fail("'" + weights_path + "': unexpected tensor '" + t.name + "' (not part of " + cfg.architecture +
                 "; wrong architecture or model_args?)");
    report.tensors = int(specs.size());
    // Only pos_embed depends on the image size; timm resamples it unless the sizes agree.
    result.values = [file, cfg, trained](const TensorSpec& s) {
        std::vector<float> v = file->read_f32(*file->find(s.name));
        if (s.name != "pos_embed" || cfg.img_size == trained.img_size) return v;
        const int prefix = cfg.no_embed_class ? 0 : cfg.num_prefix_tokens();
        return resample_pos_embed(v, prefix, trained.grid(), cfg.grid(), cfg.embed_dim);
    };
    return result;
}

ConvertReport convert_timm_weights(const ConvertOptions& o) {
    if (o.output.empty()) fail("no output file given (-o model.pomt)");
    TimmWeights w = read_timm_weights(o);
    write_weights_file(o.output, w.report.meta, w.values);
    return w.report;
}

}  // namespace pomt
