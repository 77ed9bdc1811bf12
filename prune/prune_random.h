// Random pruning, for accuracy estimation: right after the embedding, keep `keep` tokens (prefix
// tokens included and always kept), the patch tokens chosen by a seeded shuffle. The choice depends
// only on (seed, token count), so every image of a batch, and every run, keeps the same positions.
#pragma once
#include <cstdint>
#include <vector>

#include "prune/pruning.h"

namespace pomt {

// Positions kept (ascending): the prefix tokens, then keep − prefix patch positions.
std::vector<int> random_keep_positions(int tokens, int prefix, int keep, uint64_t seed);

// Applies it to x [batch × tokens × dim] in place; returns the new token count. `moved_to`
// (optional, [batch × tokens]) receives each old row's new row, -1 for the dropped ones.
int random_prune(float* x, int batch, int tokens, int dim, int prefix, int keep, uint64_t seed,
                 int* moved_to = nullptr);

}  // namespace pomt
