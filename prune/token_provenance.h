// Where every token of the embedded sequence went through a run's pruning steps, recorded from the
// steps' own decisions (the `moved_to` output of prune_*.h) when a pruner is made with a record
// (make_pruner(..., record)); a picture of the kept tokens is drawn from it (image/token_picture.h).
// Steps compose: a token merged at block 3 and its merged token dropped at block 7 ends dropped.
#pragma once
#include <cstdint>
#include <vector>

#include "prune/pruning.h"

namespace pomt {

struct TokenProvenance {
    int batch = 0, tokens = 0, prefix = 0;  // the embedded sequence: prefix tokens, then patch tokens
    int current_tokens = 0;                 // the sequence length after the last recorded step
    // [batch × tokens]: the row of the current sequence each embedded token is, or was merged into;
    // -1 once a step dropped it (or the token it had been merged into).
    std::vector<int> row;
    // [batch × tokens]: 1 once a POMT step merged the token (or its merged token) into the extra token.
    std::vector<uint8_t> pomt_merged;

    // Every token in its own row, nothing merged.
    void start(int batch, int tokens, int prefix);
    // One step that turned `old_tokens` rows per image into `new_tokens`; moved_to [batch ×
    // old_tokens] is the step's record (new row, or -1). A POMT step merges into its last row.
    void apply(const std::vector<int>& moved_to, int old_tokens, int new_tokens, PruneMethod method);
};

}  // namespace pomt
