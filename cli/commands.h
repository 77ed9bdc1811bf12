// The pomt subcommands. main parses the command line against the command's table
// (cli/command_table.cpp) and calls it; each returns the process exit code, and errors are thrown
// as pomt::Error and turned into a one-line message and exit code 2 by main.
#pragma once
#include <memory>
#include <string>

#include "cli/args.h"
#include "pomt/quantize.h"
#include "vit/model.h"

namespace pomt {

int cmd_run(const Args& args);
int cmd_info(const Args& args);
int cmd_convert(const Args& args);
int cmd_bench(const Args& args);
int cmd_profile(const Args& args);
int cmd_classify(const Args& args);
int cmd_eval(const Args& args);
int cmd_schedule(const Args& args);
int cmd_preprocess(const Args& args);
int cmd_quantize(const Args& args);

// `-m model.pomt` or `--arch NAME [--seed S]` (random weights); exactly one of them. Applies
// --max-memory first and refuses a model that cannot run one image within the limit.
std::shared_ptr<const Model> load_model_from_args(const Args& args);
// --max-memory SIZE, when given: the process-wide default limit (core/memory_limit.h).
void apply_max_memory(const Args& args);
// `pomt quantize` / `pomt convert --quantize int8`: --data LIST [--root DIR] [--images N] [--threads T].
QuantizeOptions quantize_options_from_args(const Args& args);
// One line for a bf16 model on a CPU without bf16 dot products (what it costs here), else "".
std::string bf16_note();
// What `--attention bf16` costs on this CPU when its bf16 kernels have no tiles ("" when they do).
std::string bf16_attention_note();
// --threads N (default: all cores).
int threads_from_args(const Args& args);
// "int8 (avx512-vnni kernels)" for an int8 model, "bf16 (widen kernels)" for a bf16 one, "fp32"
// otherwise: what classify and eval say.
std::string precision_text(const Model& model);
// One "pomt COMMAND: warning: ..." line on stderr per schedule_warnings (prune/pruning.h) of
// `schedule` on the model of `config`, after "`which`: " when `which` is given (one schedule of
// several). Throws pomt::Error when the schedule does not resolve.
struct PruneSchedule;
void print_prune_warnings(const Args& args, const PruneSchedule& schedule, const ModelConfig& config,
                          bool last_block_all_rows = false, const std::string& which = "");

}  // namespace pomt
