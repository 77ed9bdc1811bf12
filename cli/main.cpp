// pomt: a thin command-line layer over libpomt.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "cli/commands.h"
#include "pomt/error.h"

namespace {

const char* kUsage =
    "usage: pomt COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  convert HUB_DIR|model.safetensors [--config config.json] [--arch NAME] [--image-size S]\n"
    "          [--format-version 1] [--quantize int8 [--data LIST ...]] -o model.pomt\n"
    "                      convert timm weights to a .pomt file (--image-size: for SxS inputs, as timm's img_size=S)\n"
    "  convert --arch NAME --random [--seed S] [--image-size S] -o model.pomt\n"
    "                      write an architecture with seeded random weights\n"
    "  classify (-m model.pomt | --arch NAME) IMAGE... [--top K] [--prune SPEC | --schedule FILE]\n"
    "           [--threads N] [--labels FILE] [--max-pixels N] [--json] [--show-tokens PATH]\n"
    "                      top-K classes of each image (JPEG, PNG, BMP, GIF, TGA, PNM); --show-tokens:\n"
    "                      a PNG of the tokens pruning kept (a folder for several images)\n"
    "  info model.pomt     print the model and preprocessing configuration (and its precision)\n"
    "  quantize model.pomt -o model_int8.pomt [--data LIST [--root DIR] [--images N]] [--threads T]\n"
    "                      write the int8 model (Linear weights int8 per output channel, activations\n"
    "                      quantized per token at run time; --data: calibrate on those images)\n"
    "  preprocess (-m model.pomt | --arch NAME) IMAGE... -o x.npy [--max-pixels N]\n"
    "                      write the (N,3,H,W) float32 tensor of timm's eval transform for the images\n"
    "                      (the model's preprocessing; the input `run` takes)\n"
    "  run (-m model.pomt | --arch NAME) --input x.npy --output logits.npy [--threads N]\n"
    "                      run preprocessed images (N,3,H,W) and write the logits (N,classes)\n"
    "  profile (-m model.pomt | --arch NAME) [--mode model|block|op] [--tokens START:END:STEP]\n"
    "          [--batch B] [--threads T] [--fast] [--budget SECONDS] [--pin CPUS] [--csv FILE] [--svg FILE]\n"
    "          [--no-svg] [--prune SPEC | --schedule FILE] [--quiet]\n"
    "                      measure latency vs tokens on this device and find the steps\n"
    "  eval (-m model.pomt | --arch NAME) --data LIST|DIR [--root DIR] [--prune SPEC | --schedule FILE]\n"
    "          [--limit N] [--threads T] [--json] [--predictions FILE] [--skip-bad] [--latency-runs N]\n"
    "          [--max-pixels N] [--quiet]\n"
    "                      top-1/top-5 accuracy on labelled images and the latency of that configuration\n"
    "  schedule (-m model.pomt | --arch NAME) --data LIST [--images 1024] [--alpha 0.5] [--layer 3]\n"
    "          [--latency profile.csv] [--tokens START:END:STEP] [--threads T] [--svg-prefix P] -o schedule.json\n"
    "          [--search layer [--block-latency block.csv] [--grid 8] [--max-prunes 2] [--compare paper.json]]\n"
    "          [--verify-runs N | --no-verify] [--fast] [--full-grid] [--seed S] [--skip-bad] [--quiet]\n"
    "                      the paper's offline computation: pick how many tokens to prune, and verify it\n"
    "  bench [(-m model.pomt | --arch NAME) [--threads T] [--batch B] [--compare 'SPEC|@FILE|...'] [--json]]\n"
    "        [--runs N] [--warmup N] [--full-last-block]\n"
    "                      time one model (warm-up, median and spread), or with no model the full\n"
    "                      report: FMA peak, GEMM GFLOP/s, DeiT/ViT latency at 1 and all threads;\n"
    "                      --compare times schedules interleaved with the unpruned model;\n"
    "                      --full-last-block computes every row of the last block (by default a\n"
    "                      class-token model's last block computes the class token's row only)\n"
    "  bench --attention [--runs N]\n"
    "                      one head's fused attention at 197-1370 tokens against the same GEMMs\n"
    "\n"
    "--arch NAME uses seeded random weights (latency does not depend on them).\n"
    "--max-memory SIZE (512M, 2G, ...; every command that takes a model) caps the activation memory\n"
    "  a run may use; default: half the physical memory.\n";

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "help")) {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    std::string cmd = argv[1];
    try {
        if (cmd == "run") return pomt::cmd_run(argc, argv);
        if (cmd == "info") return pomt::cmd_info(argc, argv);
        if (cmd == "convert") return pomt::cmd_convert(argc, argv);
        if (cmd == "quantize") return pomt::cmd_quantize(argc, argv);
        if (cmd == "bench") return pomt::cmd_bench(argc, argv);
        if (cmd == "profile") return pomt::cmd_profile(argc, argv);
        if (cmd == "classify") return pomt::cmd_classify(argc, argv);
        if (cmd == "eval") return pomt::cmd_eval(argc, argv);
        if (cmd == "schedule") return pomt::cmd_schedule(argc, argv);
        if (cmd == "preprocess") return pomt::cmd_preprocess(argc, argv);
        std::fprintf(stderr, "pomt: error: unknown command '%s' (try pomt --help)\n", pomt::one_line(cmd).c_str());
        return 2;
    } catch (const pomt::Error& e) {  // already one line (pomt/error.h)
        std::fprintf(stderr, "pomt %s: error: %s\n", cmd.c_str(), e.what());
        return 2;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "pomt %s: error: out of memory\n", cmd.c_str());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pomt %s: error: %s\n", cmd.c_str(), pomt::one_line(e.what()).c_str());
        return 2;
    }
}
