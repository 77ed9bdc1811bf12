// Top-K, the baseline of the POMT paper's official code: in every block, after the attention
// residual, the r patch tokens the class token attends to least (attention averaged over heads)
// are dropped. Needs a class token at position 0.
#pragma once
#include "prune/pruning.h"

namespace pomt {

// Head-mean attention of the class token (row 0) over image `image`'s patch tokens j = prefix …
// tokens−1 into score[j − prefix]. Computed from q and k (one row of the attention, O(tokens · dim)),
// with the log-size key bias when the block tracks token sizes, so no attention matrix is kept.
void topk_scores(const BlockInternals& block, int image, double* score);

// Drops r patch tokens of every image; returns the new token count.
int topk_prune(BlockInternals& block, int r, PruneScratch& scratch);

}  // namespace pomt
