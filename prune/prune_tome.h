// ToMe (Bolya et al., ICLR 2023), as facebookresearch/ToMe applies it to timm ViTs: in every block,
// between attention and MLP, bipartite soft matching on the head-mean keys. Tokens alternate into
// sets A (even positions) and B (odd positions); each A token's most similar B token (cosine) is its
// edge; the r A tokens with the strongest edges are merged into their B token by a size-weighted
// average, sizes are summed and carried forward (Session adds log(size) to the attention logits).
// The protected tokens (block.prefix_tokens here: the class and distillation tokens, as ToMe's
// class_token / distill_token flags; register tokens are merged like patches, as ToMe does on models
// with registers) never merge. Output order as ToMe's: protected tokens, unmerged A tokens, B tokens.
#pragma once
#include <vector>

#include "prune/pruning.h"

namespace pomt {

// The merges ToMe makes with r at a block entered by `tokens` tokens: at most half the non-prefix
// tokens, as ToMe clamps it.
inline int tome_effective_r(int tokens, int prefix, int r) {
    int half = (tokens - prefix) / 2;
    return r < 0 ? 0 : (r < half ? r : half);
}

// ToMe's buffers, kept by the pruner between runs (no allocation once grown). scores, node_max,
// node_idx and edge_idx are named as in ToMe's bipartite_soft_matching.
struct TomeScratch {
    std::vector<float> metric;      // head-mean keys, L2-normalised: the A rows [na × hd], then the B rows
    std::vector<float> scores;      // A×B cosine similarities [na × nb]
    std::vector<double> node_max;   // each A token's best similarity to a B token (its edge)
    std::vector<int> node_idx;      // that B token
    std::vector<int> edge_idx;      // A tokens by node_max, strongest first: [0, r) merge, the rest stay
    std::vector<int> dst_slot;      // B token → its row of merged_sum, or -1 when nothing merges into it
    std::vector<double> merged_sum; // per receiving B token: size-weighted row sum [D], then the size sum
    std::vector<int> source;        // source position of each output row
    std::vector<float> out_rows;    // the merged image [out × D] and its sizes [out], before the copy back
    std::vector<float> out_sizes;
};

// Merges r token pairs in every image; block.token_sizes must be set. Returns the new token count.
int tome_merge(BlockInternals& block, int r, TomeScratch& scratch);

}  // namespace pomt
