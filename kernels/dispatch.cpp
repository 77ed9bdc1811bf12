#include "kernels/dispatch.h"

#include <cstdlib>
#include <new>

namespace pomt {

const IsaKernels& kernels_for(Isa isa) {
#if defined(__x86_64__)
    if (isa == Isa::Avx512) return isa_kernels_avx512();
    if (isa == Isa::Avx2) return isa_kernels_avx2();
#elif defined(__aarch64__)
    if (isa == Isa::Neon) return isa_kernels_neon();
#endif
    return isa_kernels_scalar();
}

float* thread_scratch(size_t floats, int slot) {
    // Grows, never shrinks: one allocation per thread and slot for the life of the process.
    struct Buffer {
        float* p = nullptr;
        size_t cap = 0;
        ~Buffer() { std::free(p); }
    };
    thread_local Buffer bufs[2];
    Buffer& buf = bufs[slot];
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
