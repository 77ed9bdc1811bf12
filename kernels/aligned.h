// 64-byte aligned float buffers (one cache line, one AVX-512 register).
#pragma once
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace pomt {

struct AlignedFree {
    void operator()(float* p) const { std::free(p); }
};
using AlignedFloats = std::unique_ptr<float[], AlignedFree>;

inline AlignedFloats alloc_floats(size_t count) {
    size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, bytes ? bytes : 64);
    if (!p) throw std::bad_alloc();
    return AlignedFloats(static_cast<float*>(p));
}

}  // namespace pomt
