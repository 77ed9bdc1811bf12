// Quantization of a whole model (include/pomt/quantize.h is the public face): the fp32 values of
// every tensor in, an int8 Model out (Model::quantized), with WeightsMeta::quantization saying what
// was done.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pomt/quantize.h"
#include "vit/model.h"
#include "weights_tools/convert.h"

namespace pomt {

// The int8 (or, options.precision "bf16", bf16) version of an fp32 model. Throws pomt::Error for an already-int8 model, an unknown
// precision or an unusable calibration set.
std::shared_ptr<const Model> quantize_model(const Model& fp32, const QuantizeOptions& options);

// `model` in the precision a schedule names (PruneSchedule::precision): itself for "" or its own
// precision; for "int8" or "bf16" on an fp32 model, its version in that precision made in memory
// exactly as `pomt quantize [--precision bf16]` without calibration makes the file (so a plan chosen
// in int8 runs bit-identically from the fp32 file). Any other change throws: int8 and bf16 weights
// cannot be widened back to the fp32 ones.
std::shared_ptr<const Model> model_in_precision(std::shared_ptr<const Model> model, const std::string& precision);

// The same from a model's metadata and its tensors' fp32 values (timm layout, one vector per
// expected tensor): `pomt convert --quantize int8` quantizes straight from the checkpoint.
std::shared_ptr<const Model> quantize_values(const WeightsMeta& meta,
                                             const std::function<std::vector<float>(const TensorSpec&)>& values,
                                             const QuantizeOptions& options);

// `pomt convert ... --quantize int8`: a timm checkpoint straight to an int8 .pomt (options.output),
// with no fp32 file in between (.pomt format version 3).
ConvertReport convert_and_quantize(const ConvertOptions& convert, const QuantizeOptions& options);

// The calibration images of `options` (paths, in list order, at most calibration.images), each
// checked to be a readable file; empty when calibration.data is empty. Throws pomt::Error naming
// the list or the image.
std::vector<std::string> calibration_images(const QuantizeOptions& options, int num_classes);

}  // namespace pomt
