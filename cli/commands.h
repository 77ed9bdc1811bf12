// The pomt subcommands. Each returns the process exit code; errors are thrown as pomt::Error and
// turned into a one-line message and exit code 2 by main.
#pragma once
#include <memory>
#include <string>

#include "cli/args.h"
#include "pomt/quantize.h"
#include "vit/model.h"

namespace pomt {

int cmd_run(int argc, char** argv);
int cmd_info(int argc, char** argv);
int cmd_convert(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_profile(int argc, char** argv);
int cmd_classify(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_schedule(int argc, char** argv);
int cmd_preprocess(int argc, char** argv);
int cmd_quantize(int argc, char** argv);

// `-m model.pomt` or `--arch NAME [--seed S]` (random weights); exactly one of them. Applies
// --max-memory first and refuses a model that cannot run one image within the limit.
std::shared_ptr<const Model> load_model_from_args(const Args& args);
// `pomt quantize` / `pomt convert --quantize int8`: --data LIST [--root DIR] [--images N] [--threads T].
QuantizeOptions quantize_options_from_args(const Args& args);
// --threads N (default: all cores).
int threads_from_args(const Args& args);

}  // namespace pomt
