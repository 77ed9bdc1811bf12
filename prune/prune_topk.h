// Top-K, the baseline of the POMT paper's official code: in every block, after the attention
// residual, the r patch tokens the class token attends to least (attention averaged over heads)
// are dropped. Needs a class token at position 0.
#pragma once
#include <vector>

#include "prune/pruning.h"

namespace pomt {

// Head-mean attention of the class token (row 0) over image `image`'s patch tokens j = prefix …
// tokens−1 into score[j − prefix]. Computed from q and k (one row of the attention, O(tokens · dim)),
// with the log-size key bias when the block tracks token sizes, so no attention matrix is kept.
void topk_scores(const BlockInternals& block, int image, double* score);

// Top-K's buffers, kept by the pruner between runs (no allocation once grown).
struct TopkScratch {
    std::vector<double> cls_attention;  // topk_scores: the class token's attention to each patch token
    std::vector<int> ranked;            // patch indices, most attended first
    std::vector<int> keep;              // source rows kept: the prefix, then the best P − r by position
};

// Drops r patch tokens of every image; returns the new token count. `moved_to` (optional, [batch ×
// tokens]) receives each old row's new row, -1 for the dropped ones.
int topk_prune(BlockInternals& block, int r, TopkScratch& scratch, int* moved_to = nullptr);

}  // namespace pomt
