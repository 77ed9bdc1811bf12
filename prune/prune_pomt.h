// POMT, the paper's method (Eliopoulos et al., WACV 2025), as its official code computes it: at one
// block, after the attention residual and before the MLP, the patch tokens are ranked by
//   a_j / max(a) + softmax(s)_j,   a_j = Σ_{rows i ≥ prefix} max_h A[h,i,j],
//                                  s_j = Σ_c max_h V[h,j,c] (softmax over all tokens, prefix dropped),
// the N − R − 2 best patch tokens are kept and the others are replaced by their plain mean, appended
// as one token. Prefix tokens are always kept. With one prefix token that is R tokens fewer.
#pragma once
#include <vector>

#include "prune/pruning.h"

namespace pomt {

// Patch tokens kept by POMT with R at a block entered by `tokens` tokens: N − R − 2, the official rule
// (whatever the prefix count). The block is a no-op when R = 0 or nothing would be merged.
inline int pomt_kept_patches(int tokens, int R) { return tokens - R - 2; }
// Tokens after the block.
int pomt_tokens_after(int tokens, int prefix, int R);

// Importance of image `image`'s patch tokens j = prefix … tokens−1 into score[j − prefix].
// Needs block.attn (post-softmax) and block.qkv; `group_sums` is scratch. Runs on block.pool.
void pomt_scores(const BlockInternals& block, int image, double* score, std::vector<float>* group_sums);

// POMT's buffers, kept by the pruner between runs (no allocation once grown).
struct PomtScratch {
    std::vector<double> importance;   // a_j / max(a) + softmax(s)_j of patch token j
    std::vector<float> group_sums;    // pomt_scores' per-row-group column sums of a_j
    std::vector<int> ranked;          // patch indices, most important first
    std::vector<int> keep;            // source rows kept: the prefix, then the best N − R − 2 by position
    std::vector<double> merged_sum;   // Σ of the merged (least important) rows, before the mean
};

// Prunes every image of the block; returns the new token count. `moved_to` (optional, [batch ×
// tokens]) receives each old row's new row: the merged rows all go to the last (extra) row.
int pomt_prune(BlockInternals& block, int R, PomtScratch& scratch, int* moved_to = nullptr);

}  // namespace pomt
