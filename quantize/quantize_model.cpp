#include "quantize/quantize_model.h"

#include <cstdio>

#include "core/file_util.h"
#include "eval/dataset.h"
#include "image/image.h"
#include "image/preprocess.h"
#include "quantize/calibrate.h"
#include "pomt/error.h"

namespace pomt {

std::vector<std::string> calibration_images(const QuantizeOptions& o, int num_classes) {
    if (o.calibration.data.empty()) {
        if (!o.calibration.root.empty()) fail("--root needs --data (the calibration image list)");
        return {};
    }
    if (o.calibration.images < 0) fail("--images must be >= 0 (0: every image of the list)");
    // Labels are not used, but a list must still be well-formed for the model it calibrates.
    const std::vector<LabelledImage> set = load_dataset(o.calibration.data, o.calibration.root, num_classes);
    std::vector<std::string> paths;
    for (const LabelledImage& im : set) {
        if (o.calibration.images && int(paths.size()) == o.calibration.images) break;
        require_regular_file(im.path, "calibration image");
        FILE* f = std::fopen(im.path.c_str(), "rb");
        if (!f) fail("calibration image '" + im.path + "' cannot be opened");
        std::fclose(f);
        paths.push_back(im.path);
    }
    return paths;
}

namespace {

// SmoothQuant calibration (quantize/calibrate.h): ranges measured on the images, α chosen per
// Linear, folded into the fp32 values before they are quantized; recorded in the file.
std::shared_ptr<const Model> calibrated(const std::shared_ptr<const Model>& fp32, const std::vector<std::string>& paths,
                                        WeightsMeta q, const QuantizeOptions& o) {
    const std::vector<double> alphas = {0.25, 0.5, 0.75};
    const ActivationRanges ranges =
        measure_activation_ranges(fp32, int(paths.size()), [&](int i) {
            return preprocess_image(load_image(paths[size_t(i)]), fp32->preprocess());
        }, o.threads);
    const SmoothingPlan plan = choose_smoothing(*fp32, ranges, alphas);
    q.quantization.calibration = "smoothquant";
    json::Value details = json::Value::object();
    details.set("images", json::Value::number(double(paths.size())));
    json::Value candidates = json::Value::array();
    for (double a : alphas) candidates.push_back(json::Value::number(a));
    details.set("alphas", candidates);
    details.set("chosen", json::Value::string(plan.describe()));
    q.quantization.calibration_details = details;
    return Model::quantized(q, smoothed_values(fp32, plan));
}

}  // namespace

std::shared_ptr<const Model> quantize_values(const WeightsMeta& meta,
                                             const std::function<std::vector<float>(const TensorSpec&)>& values,
                                             const QuantizeOptions& o) {
    if (o.precision != "int8" && o.precision != "bf16")
        fail("unknown quantization precision '" + o.precision + "' (int8 or bf16)");
    if (o.attention != "int8" && o.attention != "fp32" && o.attention != "bf16")
        fail("unknown attention precision '" + o.attention + "' (int8, bf16 or fp32)");
    if (meta.quantization.precision != "fp32")
        fail("the model is already " + meta.quantization.precision + ": quantize its fp32 .pomt instead");
    if (o.precision == "bf16") {
        // Rounding needs no calibration; attention in bf16 or fp32 (QuantizeOptions).
        if (!o.calibration.data.empty()) fail("bf16 needs no calibration images: drop --data");
        if (o.attention == "int8") fail("a bf16 model's attention runs in bf16 or fp32, not int8");
        WeightsMeta b = meta;
        b.quantization = bf16_quantization();
        b.quantization.attention = o.attention;
        return Model::bf16(b, values);
    }
    const std::vector<std::string> images = calibration_images(o, meta.model.num_classes > 0 ? meta.model.num_classes : 1);
    WeightsMeta q = meta;
    q.quantization = QuantizationInfo();
    q.quantization.precision = "int8";
    q.quantization.attention = o.attention;
    if (images.empty()) return Model::quantized(q, values);
    return calibrated(Model::from_values(meta, values), images, q, o);
}

std::shared_ptr<const Model> quantize_model(const Model& fp32, const QuantizeOptions& o) {
    return quantize_values(fp32.meta(), [&](const TensorSpec& s) { return fp32.tensor_values(s); }, o);
}

std::shared_ptr<const Model> model_in_precision(std::shared_ptr<const Model> model, const std::string& precision) {
    if (precision.empty() || precision == model->precision()) return model;
    if (precision != "fp32" && precision != "int8" && precision != "bf16")
        fail("unknown precision '" + precision + "' (fp32, int8 or bf16)");
    if (model->precision() != "fp32")
        fail("the plan runs in " + precision + " and the model is " + model->precision() +
             ": give the fp32 model file it was chosen with");
    QuantizeOptions o;
    o.precision = precision;
    return quantize_model(*model, o);
}

ConvertReport convert_and_quantize(const ConvertOptions& c, const QuantizeOptions& o) {
    if (c.output.empty()) fail("no output file given (-o model_int8.pomt)");
    TimmWeights w = read_timm_weights(c);
    save_model(*quantize_values(w.report.meta, w.values, o), c.output);
    return w.report;
}

void quantize_file(const std::string& input, const std::string& output, const QuantizeOptions& o) {
    if (output.empty()) fail("no output file given (-o model_int8.pomt)");
    std::shared_ptr<const Model> fp32 = Model::load(input);
    save_model(*quantize_model(*fp32, o), output);
}

}  // namespace pomt
