// Scaled dot-product attention for one (image, head): softmax(scale·Q·Kᵀ + key_bias)·V.
#pragma once

namespace pomt {

// What an attention call writes, and for which query rows (each kind of head adds its inputs).
struct AttentionRows {
    float scale = 1.0f;
    const float* key_bias = nullptr;  // [tokens] added to every logit row (ToMe's log size); may be null
    float* out = nullptr;             // row i at out + i·ld_out, head_dim values
    int ld_out = 0;
    float* probs = nullptr;  // if set, receives the post-softmax matrix [tokens×tokens] (pruning reads it)
    // Query rows [row_begin, row_end) only (row_end < 0: all), against every key: lets threads
    // split one head. Every row's result is the same bits however the rows are split.
    int row_begin = 0, row_end = -1;
};

struct AttentionHead : AttentionRows {
    int tokens = 0, head_dim = 0;
    const float *q = nullptr, *k = nullptr, *v = nullptr;  // row i at q + i·ld_qkv
    int ld_qkv = 0;
    int rows_end() const { return row_end < 0 ? tokens : row_end; }
};

void attention_head(const AttentionHead& a);
void attention_head_reference(const AttentionHead& a);

}  // namespace pomt
