// The choice of int8 variant: the best the CPU has within the active fp32 level, or the one
// POMT_INT8 / set_active_int8_variant forces (kernels/gemm_int8_kernels.h).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernels/gemm_int8_kernels.h"

namespace pomt {

namespace {

// Best first.
std::vector<const Int8Kernels*> built_variants() {
    std::vector<const Int8Kernels*> v;
#if defined(__x86_64__)
    for (const Int8Kernels* k :
         {int8_kernels_avx512vnni(), int8_kernels_avx512bw(), int8_kernels_avxvnni(), int8_kernels_avx2()})
        if (k) v.push_back(k);
#elif defined(__aarch64__)
    for (const Int8Kernels* k : {int8_kernels_neondot(), int8_kernels_neon()})
        if (k) v.push_back(k);
#endif
    v.push_back(&int8_kernels_scalar());
    return v;
}

const std::vector<const Int8Kernels*>& variants() {
    static const std::vector<const Int8Kernels*> v = built_variants();
    return v;
}

const Int8Kernels* find(const char* name) {
    for (const Int8Kernels* k : variants())
        if (name && std::strcmp(name, k->name) == 0) return k;
    return nullptr;
}

bool supported(const Int8Kernels& k) { return isa_supported(k.isa) && k.cpu_has(); }

const Int8Kernels* from_env() {
    const char* env = std::getenv("POMT_INT8");
    if (!env || !*env) return nullptr;
    const Int8Kernels* k = find(env);
    if (!k || !supported(*k)) {
        std::fprintf(stderr, "pomt: warning: POMT_INT8=%s is %s; using the best int8 variant\n", env,
                     k ? "not supported here" : "not an int8 variant of this build");
        return nullptr;
    }
    return k;
}

std::atomic<const Int8Kernels*>& forced() {
    static std::atomic<const Int8Kernels*> k{from_env()};
    return k;
}

}  // namespace

std::vector<const char*> int8_variants() {
    std::vector<const char*> names;
    for (const Int8Kernels* k : variants()) names.push_back(k->name);
    return names;
}

bool int8_variant_supported(const char* name) {
    const Int8Kernels* k = find(name);
    return k && supported(*k);
}

const Int8Kernels& active_int8_kernels() {
    if (const Int8Kernels* k = forced().load(std::memory_order_relaxed)) return *k;
    const Isa isa = active_isa();
    for (const Int8Kernels* k : variants())
        if (k->isa == isa && supported(*k)) return *k;
    return int8_kernels_scalar();
}

const char* active_int8_variant() { return active_int8_kernels().name; }

bool set_active_int8_variant(const char* name) {
    if (!name || !*name) {
        forced().store(nullptr);
        return true;
    }
    const Int8Kernels* k = find(name);
    if (!k || !supported(*k)) return false;
    forced().store(k);
    return true;
}

}  // namespace pomt
