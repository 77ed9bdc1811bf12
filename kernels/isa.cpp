#include "kernels/isa.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace pomt {

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::Scalar: return "scalar";
        case Isa::Avx2: return "avx2";
        case Isa::Avx512: return "avx512";
        case Isa::Neon: return "neon";
    }
    return "?";
}

bool parse_isa(const char* name, Isa* out) {
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon})
        if (std::strcmp(name, isa_name(isa)) == 0) {
            *out = isa;
            return true;
        }
    return false;
}

bool isa_supported(Isa isa) {
    if (isa == Isa::Scalar) return true;
#if defined(__x86_64__)
    __builtin_cpu_init();
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    if (isa == Isa::Avx2) return avx2;
    if (isa == Isa::Avx512) return avx512;
    return false;
#elif defined(__aarch64__)
    return isa == Isa::Neon;
#else
    return false;
#endif
}

Isa best_isa() {
    for (Isa isa : {Isa::Avx512, Isa::Avx2, Isa::Neon})
        if (isa_supported(isa)) return isa;
    return Isa::Scalar;
}

namespace {
Isa initial_isa() {
    Isa best = best_isa();
    const char* env = std::getenv("POMT_ISA");
    if (!env || !*env) return best;
    Isa wanted;
    if (!parse_isa(env, &wanted)) {
        std::fprintf(stderr, "pomt: warning: POMT_ISA='%s' is not one of scalar, avx2, avx512, neon; using %s\n",
                     env, isa_name(best));
        return best;
    }
    if (!isa_supported(wanted)) {
        std::fprintf(stderr, "pomt: warning: POMT_ISA=%s is not supported here; using %s\n", env, isa_name(best));
        return best;
    }
    return wanted;
}
std::atomic<int>& active() {
    static std::atomic<int> level{int(initial_isa())};
    return level;
}
}  // namespace

Isa active_isa() { return Isa(active().load(std::memory_order_relaxed)); }

bool set_active_isa(Isa isa) {
    if (!isa_supported(isa)) return false;
    active().store(int(isa));
    return true;
}

}  // namespace pomt
