// Every pomt command and its options, declared once: Args parses against these rows and the help
// (`pomt --help`, `pomt COMMAND --help`) is generated from them. A command reading an option it
// does not declare here fails loudly (Args::has), so adding an option means adding its row.
#include "cli/args.h"
#include "cli/commands.h"

namespace pomt {

int cmd_version(const Args& args);  // main.cpp

namespace {

std::vector<OptionSpec> operator+(std::vector<OptionSpec> a, const std::vector<OptionSpec>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

const char* const kSeedHelp = "the seed of --arch's random weights (default 0)";

// -m or --arch (load_model_from_args), --seed, --max-memory: every command that runs a model.
std::vector<OptionSpec> model_options(bool required, const char* seed_help = kSeedHelp) {
    return {
        {"-m", "model.pomt", "the model (written by pomt convert or pomt quantize)", 1, required},
        {"--arch", "NAME",
         "instead of -m: this timm architecture with seeded random weights (pomt info --architectures)", 1, required},
        {"--seed", "S", seed_help},
        {"--max-memory", "SIZE",
         "the activation memory a run may use (512M, 2G, ...; default half the physical memory)"},
    };
}

// --prune / --schedule (cli/prune_args.h).
std::vector<OptionSpec> prune_options() {
    return {
        {"--prune", "SPEC", "prune tokens: pomt:R=56,layer=3, topk:r=8, tome:r=13, random:keep=120 (docs/SCHEDULES.md)",
         2},
        {"--schedule", "FILE", "prune as this schedule file says (pomt schedule -o); given with --prune, both apply",
         2},
    };
}

const OptionSpec kThreads = {"--threads", "N", "threads (default: all cores)"};
const OptionSpec kQuiet = {"--quiet", nullptr, "print nothing on success"};
const OptionSpec kJson = {"--json", nullptr, "print one JSON document instead of text"};
const OptionSpec kMaxPixels = {"--max-pixels", "N",
                               "refuse images whose header declares more pixels (default 100000000)"};

// The calibration options of pomt quantize and pomt convert --quantize int8 (quantize_options_from_args).
std::vector<OptionSpec> calibration_options(const char* data_help) {
    return {
        {"--data", "LIST", data_help},
        {"--root", "DIR", "the folder --data's paths are relative to (default: the list's folder)"},
        {"--images", "N", "calibrate on the first N images of --data (default 256; 0: all)"},
        {"--threads", "N", "threads for the calibration (default: all cores)"},
        {"--attention", "int8|bf16|fp32", "the attention's Q·Kᵀ and P·V in int8, bf16 or fp32 (default)"},
    };
}

std::vector<CommandSpec> make_commands() {
    std::vector<CommandSpec> c;
    c.push_back(
        {"convert", "[HUB_DIR|model.safetensors]", true,
         "convert timm weights (a hub folder or a .safetensors file) to a .pomt file, or write an architecture "
         "with seeded random weights (--random)",
         "",
         std::vector<OptionSpec>{
             {"-o", "model.pomt", "the .pomt file to write", 0, true, "--output"},
             {"--config", "config.json", "the hub config.json for a bare .safetensors file"},
             {"--arch", "NAME", "the timm architecture (overrides config.json's); with --random, the one to make"},
             {"--random", nullptr, "write --arch NAME with seeded random weights instead of converting a file"},
             {"--seed", "S", "the seed of --random's weights (default 0)"},
             {"--image-size", "S", "convert for SxS inputs, as timm's img_size=S (the position embedding resampled)"},
             {"--quantize", "int8|bf16", "write the int8 (.pomt format 3) or bf16 (format 4) model, as pomt quantize would"},
         } + calibration_options("with --quantize int8: calibrate on these images ('path label' list or folder)") +
             std::vector<OptionSpec>{kQuiet},
         cmd_convert});
    c.push_back({"classify", "IMAGE...", false,
                 "the top-K classes of each image (JPEG, PNG, BMP, GIF, TGA, PNM), optionally with tokens pruned",
                 "Each image gets `rank  probability  index  name` rows and a timing line naming the precision (int8:\n"
                 "and its kernels). A bad image is reported on stderr and skipped; the exit code is then 2.\n",
                 model_options(true) +
                     std::vector<OptionSpec>{{"--top", "K", "the K most probable classes of each image (default 5)"}} +
                     prune_options() +
                     std::vector<OptionSpec>{
                         kThreads,
                         {"--labels", "FILE", "class names, one per line, instead of the model's"},
                         kMaxPixels,
                         kJson,
                         {"--show-tokens", "PATH",
                          "also write a PNG of the tokens pruning kept: PATH for one image, else a folder (made if "
                          "missing) receiving <image-stem>.tokens.png"},
                     },
                 cmd_classify});
    c.push_back({"info",
                 "[model.pomt]",
                 true,
                 "print a .pomt file's model and preprocessing configuration and its precision, or the architecture "
                 "names --arch takes",
                 "",
                 {kJson,
                  {"--architectures", nullptr,
                   "list the names --arch takes instead, one a line (--json: an array); the vit_/deit_/deit3_ ones "
                   "also take other _patchP_IMG sizes"}},
                 cmd_info});
    c.push_back(
        {"quantize", "model.pomt", true,
         "write the int8 version of an fp32 .pomt: Linear weights int8 per output channel, activations "
         "quantized per token at run time (.pomt format 3); or with --precision bf16 its bf16 version (format 4)",
         "bf16 needs no calibration and keeps fp32's accuracy; it is fast on CPUs with bf16 dot products\n"
         "(AVX512_BF16: AMD Zen 4/5, Intel Xeon since Sapphire Rapids; Arm BF16: Graviton 3, Neoverse V1/N2)\n"
         "and elsewhere runs at fp32's speed with half the weight memory. int8 is faster still on VNNI and\n"
         "dot-product CPUs but needs checking on your images (pomt eval).\n",
         std::vector<OptionSpec>{{"-o", "model_int8.pomt", "the quantized .pomt file to write", 0, true, "--output"},
                                 {"--precision", "int8|bf16", "int8 (default) or bf16 (no calibration)"}} +
             calibration_options("calibrate (SmoothQuant) on these images: a 'path label' list or a folder") +
             std::vector<OptionSpec>{kQuiet},
         cmd_quantize});
    c.push_back({"preprocess",
                 "IMAGE...",
                 false,
                 "write the (N,3,H,W) float32 tensor of timm's eval transform for the images (NPY): the input pomt run "
                 "takes",
                 "",
                 {{"-m", "model.pomt", "use this model's preprocessing configuration", 1, true},
                  {"--arch", "NAME", "instead of -m: timm's defaults for this architecture (pomt info --architectures)",
                   1, true},
                  {"--max-memory", "SIZE", "the memory a model file that cannot be memory-mapped may be read into"},
                  {"-o", "x.npy", "the NPY file to write", 0, true, "--output"},
                  kMaxPixels,
                  kQuiet},
                 cmd_preprocess});
    c.push_back(
        {"run", "", false,
         "run preprocessed images (NPY float32 (N,3,H,W), e.g. from pomt preprocess) and write their logits "
         "(N,classes) as NPY",
         "",
         model_options(true) +
             std::vector<OptionSpec>{
                 {"--input", "x.npy", "the preprocessed images", 0, true},
                 {"--output", "logits.npy", "the logits to write (pooled features for a model without a head)", 0,
                  true},
                 kThreads,
                 {"--chunk", "N", "run at most N images at once (default 16): bounds the memory, not the results"},
             } +
             prune_options() +
             std::vector<OptionSpec>{
                 {"--verbose", nullptr, "print the schedule and the tokens after each block on stderr"},
                 kQuiet,
             },
         cmd_run});
    c.push_back(
        {"profile", "", false,
         "measure latency against the token count on this device and find the steps (docs/PROFILING.md)",
         "With --prune or --schedule: that schedule timed against the unpruned model instead (with --mode op,\n"
         "the pruning block's operations with and without its pruning step).\n",
         model_options(true) +
             std::vector<OptionSpec>{
                 {"--mode", "model|block|op",
                  "time the whole model, one block, or each operation of a block at each count (default model)"},
                 {"--tokens", "START:END:STEP", "the token counts to measure (default: every count the model allows)"},
                 {"--batch", "B", "images per run (default 1)"},
                 kThreads,
                 {"--fast", nullptr, "a quicker, coarser measurement (about ±3% instead of ±1%)"},
                 {"--budget", "SECONDS", "stop measuring after this many seconds"},
                 {"--pin", "CPUS", "pin the threads to these CPUs (3, 0,2 or 4-7)"},
                 {"--csv", "FILE", "the CSV to write (default profile-ARCH-MODE-bB-tT.csv)"},
                 {"--svg", "FILE", "the plot to write (default profile-ARCH-MODE-bB-tT.svg)"},
                 {"--no-svg", nullptr, "write no plot"},
             } +
             prune_options() + std::vector<OptionSpec>{{"--quiet", nullptr, "no progress or header on stderr"}},
         cmd_profile});
    c.push_back({"eval", "", false,
                 "top-1/top-5 accuracy on labelled images, and the latency of that configuration (model, precision, "
                 "pruning)",
                 "",
                 model_options(true) +
                     std::vector<OptionSpec>{
                         {"--data", "LIST|DIR",
                          "the images: a 'path label' list, or a folder with a sub-folder per class", 0, true},
                         {"--root", "DIR", "the folder a list's paths are relative to (default: the list's folder)"},
                     } +
                     prune_options() +
                     std::vector<OptionSpec>{
                         {"--limit", "N", "evaluate the first N images only"},
                         kThreads,
                         kJson,
                         {"--predictions", "FILE", "write each image's label and top-1 class (tab-separated)"},
                         {"--skip-bad", nullptr, "skip unreadable images instead of failing"},
                         {"--latency-runs", "N", "timed single-image runs for the latency (default 30; 0: none)"},
                         kMaxPixels,
                         {"--quiet", nullptr, "no progress bar on stderr"},
                     },
                 cmd_eval});
    c.push_back(
        {"schedule", "", false,
         "the paper's offline computation: pick how many tokens to prune (and where: --search layer, pareto), "
         "verify the latency, write the schedule file",
         "--search paper (default): L(n) on this device, A(n) by random pruning on the images, POMT at one\n"
         "  block to the n that maximises alpha(1 - L/max L) + (1 - alpha) A/max A.\n"
         "--search layer: the prune block(s) and tokens chosen jointly, compared with the paper's choice.\n"
         "--search pareto: every method's accuracy-latency front; --max-loss, --max-ms, --max-ratio or --alpha\n"
         "  picks the plan.\n",
         model_options(true, "the seed of --arch's weights and of A(n)'s random pruning (default 0; not pareto)") +
             std::vector<OptionSpec>{
                 {"--data", "LIST", "the accuracy-estimation images: a 'path label' list or a folder of class folders",
                  0, true},
                 {"-o", "schedule.json", "the schedule file to write", 0, true, "--output"},
                 {"--search", "paper|layer|pareto", "what to search (default paper)"},
                 {"--root", "DIR", "the folder a list's paths are relative to (default: the list's folder)"},
                 {"--images", "N", "use the first N estimation images (default 1024)"},
                 {"--alpha", "A", "the utility's latency weight in [0, 1] (default 0.5); with pareto, a budget"},
                 {"--layer", "L", "the block POMT prunes at (default 3, or the last block; not pareto)"},
                 {"--tokens", "START:END:STEP", "the token counts searched (default: every count the model allows)"},
                 {"--latency", "profile.csv", "L(n) from this pomt profile CSV (model mode) instead of measuring"},
                 {"--block-latency", "block.csv",
                  "layer, pareto: B(n) from a pomt profile --mode block CSV instead of measuring"},
                 {"--batch", "B", "images per run of the latency measurements (default 1)"},
                 {"--threads", "N", "threads (default: all cores, and a latency CSV's rows for any count)"},
                 {"--coarse-step", "N", "paper, layer: A(n) every N counts, then refined around the best (default 8)"},
                 {"--full-grid", nullptr, "paper, layer: A(n) at every count (--coarse-step 1)"},
                 {"--grid", "N", "layer: candidate token counts every N below the full count (default 8)"},
                 {"--max-prunes", "N", "layer: prune at 1 or 2 blocks (default 2)"},
                 {"--compare", "FILE",
                  "layer, pareto: a schedule file to compare with (layer: the paper's; default computed here)"},
                 {"--max-loss", "POINTS", "pareto: the fastest plan losing at most this many top-1 points"},
                 {"--rule", "confirmed|estimate|bound",
                  "pareto: how --max-loss is judged (default confirmed: each front plan from the slowest confirmed on "
                  "images it was not chosen with, accepted while its loss's upper bound fits; docs/SCHEDULES.md)"},
                 {"--precision", "fp32,int8,bf16",
                  "pareto: the precisions searched, every plan in each (default: fp32,int8 from an fp32 model, its own "
                  "from an int8 or bf16 one; losses against the unpruned model in the first)"},
                 {"--block-latency-int8", "block.csv",
                  "pareto: the int8 model's B(n) (pomt profile --mode block of the int8 file) when the model is fp32"},
                 {"--block-latency-bf16", "block.csv",
                  "pareto: the bf16 model's B(n) (pomt profile --mode block of the bf16 file) when the model is fp32"},
                 {"--confidence", "C", "pareto, --rule confirmed: the one-sided confidence of the bound (default 0.9)"},
                 {"--confirm", "N",
                  "pareto: N confirmation images after the estimation ones (default: those after them, at most as many; "
                  "with none left, the list's last quarter; 0: none)"},
                 {"--confirm-data", "LIST", "pareto: confirmation images from this list instead (the first --confirm N)"},
                 {"--confirm-root", "DIR", "pareto: the folder --confirm-data's paths are relative to"},
                 {"--max-ms", "MS", "pareto: the most accurate plan whose measured median is within MS"},
                 {"--max-ratio", "R", "pareto: the most accurate plan within this share of the unpruned latency"},
                 {"--z", "Z", "pareto: the accuracy intervals' half-width in standard errors (default 1.96)"},
                 {"--first-images", "N",
                  "pareto: images of the first halving round (default 128, 64 with --fast, divided by the precisions, "
                  "at least 32)"},
                 {"--max-measured", "N", "pareto: front plans timed for real, at most (default 32; 16 with --fast)"},
                 {"--latency-step", "N", "pareto: B(n) every N counts, linear in between (default 4; 8 with --fast)"},
                 {"--also", "'SPEC|...'", "pareto: more candidate plans, as --prune specs separated by |"},
                 {"--verify-runs", "N", "interleaved runs measuring the chosen schedule (default 30)", 3},
                 {"--no-verify", nullptr, "paper, layer: do not measure the chosen schedule", 3},
                 {"--svg-prefix", "P", "also write the search's plots, P-latency.svg and others"},
                 {"--fast", nullptr, "coarser latency measurements (as pomt profile --fast)"},
                 {"--skip-bad", nullptr, "skip unreadable images instead of failing"},
                 {"--quiet", nullptr, "no progress bars on stderr"},
             },
         cmd_schedule});
    c.push_back(
        {"bench", "", false,
         "time one model (warm-up, median and spread), schedules against it (--compare), or with no model the "
         "full report",
         "With no model: FMA peak, GEMM GFLOP/s and int8 GMAC/s on the ViT Linear shapes, DeiT/ViT latency at\n"
         "1 thread and all cores. --compare times every schedule interleaved with the unpruned model (each run\n"
         "visits all of them in a rotating order) and gives its latency as a ratio of the unpruned one.\n",
         model_options(false) +
             std::vector<OptionSpec>{
                 kThreads,
                 {"--batch", "B", "images per run (default 1)"},
                 {"--runs", "N", "timed runs (default 30)"},
                 {"--warmup", "N", "untimed runs before them (default 5)"},
                 {"--compare", "'SPEC|@FILE|...'",
                  "time these schedules (--prune specs, @schedule files) interleaved with the unpruned model"},
                 {"--json", nullptr, "print one JSON document instead of text (with a model)"},
                 {"--full-last-block", nullptr,
                  "compute every row of the last block (a class-token model's computes the class row only)"},
                 {"--attention", nullptr, "instead: one head's fused attention at 197-1370 tokens against GEMMs and bf16 attention"},
                 {"--int8", nullptr, "instead: the int8 part of the report (int8 peak, int8 GEMM GMAC/s)"},
             },
         cmd_bench});
    c.push_back({"version",
                 "",
                 false,
                 "print the version, and the kernels this build and this CPU run (also pomt --version)",
                 "",
                 {},
                 cmd_version});
    return c;
}

}  // namespace

const std::vector<CommandSpec>& commands() {
    static const std::vector<CommandSpec> table = make_commands();
    return table;
}

}  // namespace pomt
