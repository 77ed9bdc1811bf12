// --prune SPEC / --schedule FILE, read the same way by every subcommand that runs the model
// (run, classify), so they accept and refuse the same command lines.
#pragma once
#include "cli/args.h"
#include "prune/pruning.h"

namespace pomt {

// The schedule asked for (empty when neither option is given; both together are combined).
// Parsed without the model so a bad spec or file fails before the slower model load; resolve it
// against the model with resolve_schedule. Throws pomt::Error (one line).
PruneSchedule schedule_from_args(const Args& args);

}  // namespace pomt
