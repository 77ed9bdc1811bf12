// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014): a
// tiny, well-mixed generator whose sequence is the same on every platform and compiler, unlike
// std::shuffle and the std:: distributions, so seeded random models, random pruning and the
// profiler's visiting order are reproducible everywhere.
#pragma once
#include <cstdint>

namespace pomt {

struct SplitMix64 {
    uint64_t state;

    uint64_t next() {
        uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform in [0, 1) with 53 random bits.
    double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }
    // Uniform in [0, bound), bound > 0, without modulo bias (rejection sampling).
    uint64_t below(uint64_t bound) {
        const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
        uint64_t v;
        do v = next();
        while (v >= limit);
        return v % bound;
    }
};

}  // namespace pomt
