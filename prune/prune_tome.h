// ToMe (Bolya et al., ICLR 2023), as facebookresearch/ToMe applies it to timm ViTs: in every block,
// between attention and MLP, bipartite soft matching on the head-mean keys. Tokens alternate into
// sets A (even positions) and B (odd positions); each A token's most similar B token (cosine) is its
// edge; the r A tokens with the strongest edges are merged into their B token by a size-weighted
// average, sizes are summed and carried forward (Session adds log(size) to the attention logits).
// Prefix tokens are protected. Output order as ToMe's: prefix, unmerged A tokens, B tokens.
#pragma once
#include "prune/pruning.h"

namespace pomt {

// The merges ToMe makes with r at a block entered by `tokens` tokens: at most half the non-prefix
// tokens, as ToMe clamps it.
inline int tome_effective_r(int tokens, int prefix, int r) {
    int half = (tokens - prefix) / 2;
    return r < 0 ? 0 : (r < half ? r : half);
}

// Merges r token pairs in every image; block.token_sizes must be set. Returns the new token count.
int tome_merge(BlockInternals& block, int r, PruneScratch& scratch);

}  // namespace pomt
