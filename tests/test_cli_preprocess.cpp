// `pomt preprocess`: images → the (N,3,H,W) float32 tensor of timm's eval transform, equal to the
// library's preprocess_image; a bad image fails the command with one line naming it and writes
// nothing.
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "core/npy.h"
#include "image/image.h"
#include "image/preprocess.h"
#include "vit/config.h"

using namespace pomt;

TEST_CASE("image: pomt preprocess writes the library's eval-transform tensor for each image") {
    const std::string dir = pomt_test::temp_dir();
    std::vector<std::string> images = {dir + "/a.bmp", dir + "/b.bmp"};
    pomt_test::write_bytes(images[0], pomt_test::bmp_image(80, 70, 1));
    pomt_test::write_bytes(images[1], pomt_test::bmp_image(33, 300, 2));
    const std::string jpeg = pomt_test::shared_dir() + "/data/imagenet-val-1300/images/ILSVRC2012_val_00000347.JPEG";
    if (!pomt_test::shared_dir().empty() && pomt_test::file_exists(jpeg)) images.push_back(jpeg);
    const std::string out = dir + "/x.npy";
    std::vector<std::string> args = {"preprocess", "--arch", "vit_tiny_patch16_224"};
    args.insert(args.end(), images.begin(), images.end());
    args.insert(args.end(), {"-o", out});
    const pomt_test::CommandResult r = pomt_test::run_pomt(args);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    const NpyArray x = read_npy(out);
    REQUIRE(x.shape == std::vector<int64_t>{int64_t(images.size()), 3, 224, 224});
    const PreprocessConfig cfg = default_preprocess_for(config_for_architecture("vit_tiny_patch16_224"));
    for (size_t i = 0; i < images.size(); ++i) {
        const std::vector<float> want = preprocess_image(load_image(images[i]), cfg);
        REQUIRE(want.size() == size_t(3 * 224 * 224));
        size_t differ = 0;
        for (size_t k = 0; k < want.size(); ++k) differ += x.data[i * want.size() + k] != want[k];
        CHECK_MESSAGE(differ == 0, images[i]);
    }
}

TEST_CASE("image: pomt preprocess refuses a bad image with exit 2, one line naming it, and no output file") {
    const std::string dir = pomt_test::temp_dir();
    pomt_test::write_bytes(dir + "/good.bmp", pomt_test::bmp_image(40, 30, 3));
    pomt_test::write_bytes(dir + "/bad.jpg", std::string("\xFF\xD8\xFF\xE0 not really a JPEG", 23));
    const std::string out = dir + "/x.npy";
    const pomt_test::CommandResult r =
        pomt_test::run_pomt({"preprocess", "--arch", "vit_tiny_patch16_224", dir + "/good.bmp", dir + "/bad.jpg", "-o", out});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("bad.jpg") != std::string::npos);
    CHECK(r.err.find('\n') == r.err.size() - 1);
    CHECK_FALSE(pomt_test::file_exists(out));
    // Missing output / model: usage errors, exit 2.
    CHECK(pomt_test::run_pomt({"preprocess", "--arch", "vit_tiny_patch16_224", dir + "/good.bmp"}).exit_code == 2);
    CHECK(pomt_test::run_pomt({"preprocess", dir + "/good.bmp", "-o", out}).exit_code == 2);
    CHECK_FALSE(pomt_test::file_exists(out));
}
