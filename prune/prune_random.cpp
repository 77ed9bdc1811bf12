#include "prune/prune_random.h"

#include <algorithm>

#include "pomt/error.h"
#include "prune/prune_rows.h"

namespace pomt {

namespace {

// splitmix64: small, fast, and the same on every platform (unlike std:: distributions).
uint64_t next_random(uint64_t* state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Uniform in [0, bound) without modulo bias (rejection sampling).
uint64_t uniform_below(uint64_t* state, uint64_t bound) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t v;
    do v = next_random(state);
    while (v >= limit);
    return v % bound;
}

}  // namespace

std::vector<int> random_keep_positions(int tokens, int prefix, int keep, uint64_t seed) {
    if (keep <= prefix || keep > tokens) fail("random: keep must be between " + std::to_string(prefix + 1) + " and " + std::to_string(tokens));
    std::vector<int> patches(size_t(tokens - prefix));
    for (int i = 0; i < tokens - prefix; ++i) patches[i] = prefix + i;
    // Fisher–Yates: the first keep − prefix entries of a seeded shuffle.
    uint64_t state = seed;
    const int want = keep - prefix;
    for (int i = 0; i < want; ++i) {
        int j = i + int(uniform_below(&state, uint64_t(tokens - prefix - i)));
        std::swap(patches[i], patches[j]);
    }
    std::vector<int> kept(static_cast<size_t>(keep));
    for (int i = 0; i < prefix; ++i) kept[i] = i;
    std::copy(patches.begin(), patches.begin() + want, kept.begin() + prefix);
    std::sort(kept.begin() + prefix, kept.end());
    return kept;
}

int random_prune(float* x, int batch, int tokens, int dim, int prefix, int keep, uint64_t seed, int* moved_to) {
    if (keep <= 0 || keep >= tokens) return tokens;
    std::vector<int> kept = random_keep_positions(tokens, prefix, keep, seed);
    for (int b = 0; b < batch; ++b) {
        if (moved_to) record_moves(kept.data(), keep, moved_to + size_t(b) * tokens, tokens);
        compact_rows(x, b, tokens, keep, dim, kept.data(), keep);
    }
    return keep;
}

}  // namespace pomt
