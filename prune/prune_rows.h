// Row operations shared by the pruning methods (prune/prune_{pomt,topk,tome,random}.cpp); each
// method keeps its own scratch struct (PomtScratch, ...).
#pragma once
#include <vector>

namespace pomt {

// Image b's rows keep[0..k) (ascending source indices, stride `tokens`) move to rows [0..k) of
// image b at stride `new_tokens`, in place. Images must be compacted in order b = 0, 1, ...; the
// rows after k (merged tokens) are written by the caller after this call.
void compact_rows(float* x, int b, int tokens, int new_tokens, int dim, const int* keep, int k);

// Indices [begin, end) sorted by score descending, ties by lower index (deterministic).
void rank_descending(const double* score, int begin, int end, std::vector<int>* order);

// Provenance recording (TokenProvenance): image b's old row keep[i] goes to new row i, every other
// row to -1; then the `merged_count` rows prefix + merged[i] (patch indices) go to `merged_row`.
void record_moves(const int* keep, int k, int* moved_to, int tokens, const int* merged = nullptr,
                  int merged_count = 0, int prefix = 0, int merged_row = -1);

// The rows an image keeps when patch tokens are dropped: its `prefix` tokens, then the patch tokens
// ranked[0..kept) (patch indices, best first) in position order; `keep` gets prefix + kept entries.
void keep_prefix_and_best(const int* ranked, int prefix, int kept, std::vector<int>* keep);

}  // namespace pomt
