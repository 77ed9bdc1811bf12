#include "prune/prune_random.h"

#include <algorithm>

#include "core/splitmix64.h"
#include "pomt/error.h"
#include "prune/prune_rows.h"

namespace pomt {

std::vector<int> random_keep_positions(int tokens, int prefix, int keep, uint64_t seed) {
    if (keep <= prefix || keep > tokens) fail("random: keep must be between " + std::to_string(prefix + 1) + " and " + std::to_string(tokens));
    std::vector<int> patches(size_t(tokens - prefix));
    for (int i = 0; i < tokens - prefix; ++i) patches[i] = prefix + i;
    // Fisher–Yates: the first keep − prefix entries of a seeded shuffle.
    SplitMix64 rng{seed};
    const int want = keep - prefix;
    for (int i = 0; i < want; ++i) {
        int j = i + int(rng.below(uint64_t(tokens - prefix - i)));
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
