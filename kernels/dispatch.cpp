#include "kernels/dispatch.h"

#include <cstdlib>
#include <new>

namespace pomt {

const IsaKernels& isa_kernels_portable() {
    static const IsaKernels table = {Isa::Scalar,       gemm_tile_portable,      4,
                                     1,                 gelu_portable,           softmax_portable,
                                     layernorm_portable, attention_head_portable, head_max_column_sums_portable,
                                     fma_loop_portable,  16};
    return table;
}

const IsaKernels& kernels_for(Isa isa) {
    const IsaKernels* k = nullptr;
#if defined(__x86_64__)
    if (isa == Isa::Avx512) k = isa_kernels_avx512();
    if (isa == Isa::Avx2) k = isa_kernels_avx2();
#elif defined(__aarch64__)
    if (isa == Isa::Neon) k = isa_kernels_neon();
#endif
    return k ? *k : isa_kernels_portable();
}

// Plain multiply-add (std::fma is a library call without -mfma): the portable build's throughput.
float fma_loop_portable(long iters) {
    float acc[16];
    for (int i = 0; i < 16; ++i) acc[i] = 0.001f * float(i);
    for (long it = 0; it < iters; ++it)
        for (int i = 0; i < 16; ++i) acc[i] = acc[i] * 0.999f + 0.0001f;
    float s = 0;
    for (float v : acc) s += v;
    return s;
}

float* thread_scratch(size_t floats) {
    // Grows, never shrinks: one allocation per thread for the life of the process.
    struct Buffer {
        float* p = nullptr;
        size_t cap = 0;
        ~Buffer() { std::free(p); }
    };
    thread_local Buffer buf;
    if (floats > buf.cap) {
        std::free(buf.p);
        size_t cap = (floats + 1023) / 1024 * 1024;
        buf.p = static_cast<float*>(std::aligned_alloc(64, cap * sizeof(float)));
        if (!buf.p) {
            buf.cap = 0;
            throw std::bad_alloc();
        }
        buf.cap = cap;
    }
    return buf.p;
}

}  // namespace pomt
