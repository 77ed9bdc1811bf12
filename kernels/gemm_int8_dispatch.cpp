// The choice of int8 variant: the best the CPU has within the active fp32 level, or the one
// POMT_INT8 / set_active_int8_variant forces (kernels/gemm_int8_kernels.h).
#include <array>
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
    v = {&int8_kernels_amx(), &int8_kernels_avx512vnni(), &int8_kernels_avx512bw(), &int8_kernels_avxvnni(), &int8_kernels_avx2()};
#elif defined(__aarch64__)
    v = {&int8_kernels_neondot(), &int8_kernels_neon()};
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

// Whether the CPU runs variant k, asked once per variant: cpu_has() may execute CPUID, which traps
// to the hypervisor on a VM (tens of microseconds), and the choice is read on every GEMM and every
// quantize_rows call.
bool supported(const Int8Kernels& k) {
    static const std::vector<bool> answers = [] {
        std::vector<bool> a;
        for (const Int8Kernels* v : variants()) a.push_back(isa_supported(v->isa) && v->cpu_has());
        return a;
    }();
    const std::vector<const Int8Kernels*>& v = variants();
    for (size_t i = 0; i < v.size(); ++i)
        if (v[i] == &k) return answers[i];
    return isa_supported(k.isa) && k.cpu_has();  // not a variant of this build (not reached)
}

// The best supported variant for each fp32 level (Isa values 0..3), chosen once.
const Int8Kernels& best_for(Isa isa) {
    static const std::array<const Int8Kernels*, 4> best = [] {
        std::array<const Int8Kernels*, 4> b;
        for (size_t level = 0; level < b.size(); ++level) {
            b[level] = &int8_kernels_scalar();
            for (const Int8Kernels* k : variants())  // best first
                if (size_t(k->isa) == level && supported(*k)) {
                    b[level] = k;
                    break;
                }
        }
        return b;
    }();
    return *best[size_t(isa) % best.size()];
}

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
    return best_for(active_isa());
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
