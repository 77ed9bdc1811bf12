// Fidelity on real images: pomt's per-image top-1 against the reference PyTorch implementations
// (timm, the official POMT code, its Top-K, facebookresearch ToMe) on ImageNet validation images,
// for the baseline and one setting of each pruning method. The bar is ≥ 99 % agreement
// for every method, ToMe included: JPEG decodes to PIL's pixels in every build.
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "doctest/doctest.h"
#include "tests/test_util.h"
#include "eval/dataset.h"
#include "eval/evaluate.h"
#include "prune/pruning.h"
#include "weights_tools/convert.h"

using namespace pomt;

TEST_CASE("fidelity: top-1 agrees with the reference implementations on real ImageNet images") {
    if (pomt_test::skip_heavy_test_here()) return;
    POMT_REQUIRE_SHARED("data/imagenet-val-1300/reference_predictions.tsv", tsv);
    POMT_REQUIRE_SHARED("models/vit_tiny_patch16_224.augreg_in21k_ft_in1k/model.safetensors", weights);
    const std::string data = pomt_test::shared_dir() + "/data/imagenet-val-1300";
    ConvertOptions o;
    o.input = pomt_test::shared_dir() + "/models/vit_tiny_patch16_224.augreg_in21k_ft_in1k";
    o.output = pomt_test::temp_dir() + "/vit_tiny.pomt";
    convert_timm_weights(o);
    auto model = Model::load(o.output);

    // reference_predictions.tsv: image, label, then one column per setting.
    std::ifstream in(tsv);
    std::string line;
    std::getline(in, line);
    std::vector<std::string> columns;
    std::stringstream header(line);
    for (std::string c; std::getline(header, c, '\t');) columns.push_back(c);
    std::map<std::string, std::vector<std::string>> reference;
    while (std::getline(in, line)) {
        std::vector<std::string> f;
        std::stringstream ss(line);
        for (std::string c; std::getline(ss, c, '\t');) f.push_back(c);
        reference[f[0]] = f;
    }

    const int subset = 100;  // the first images of labels.txt; the full set is in docs/RESULTS.md
    std::vector<LabelledImage> images = load_dataset(data + "/labels.txt", "", 1000);
    images.resize(subset);
    const std::pair<const char*, const char*> settings[] = {
        {"baseline", "none"}, {"pomt R=56 L=3", "pomt:R=56,layer=3"}, {"topk r=4", "topk:r=4"}, {"tome r=13", "tome:r=13"}};
    for (const auto& s : settings) {
        CAPTURE(s.first);
        size_t col = std::find(columns.begin(), columns.end(), s.first) - columns.begin();
        REQUIRE(col < columns.size());
        EvalOptions eo;
        eo.threads = 2;
        EvalResult r = evaluate_images(model, images, parse_prune_spec(s.second), eo);
        int agree = 0;
        for (int i = 0; i < subset; ++i) {
            const std::string key = images[size_t(i)].path.substr(data.size() + 1);
            REQUIRE(reference.count(key));
            agree += std::to_string(r.per_image[size_t(i)].top1) == reference[key][col];
        }
        INFO(s.first << ": " << agree << " of " << subset << " agree");
        CHECK(agree >= 99 * subset / 100);
    }
}
