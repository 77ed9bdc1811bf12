// The choice of bf16 variant: the best the CPU has within the active fp32 level, or the one
// POMT_BF16 / set_active_bf16_variant forces (kernels/gemm_bf16_kernels.h).
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernels/gemm_bf16_kernels.h"

namespace pomt {

namespace {

// Best first.
std::vector<const Bf16Kernels*> built_variants() {
    std::vector<const Bf16Kernels*> v;
#if defined(__x86_64__)
    v = {&bf16_kernels_amx(), &bf16_kernels_avx512bf16()};
#elif defined(__aarch64__)
    v = {&bf16_kernels_neonbf16()};
#endif
    v.push_back(&bf16_kernels_widen());
    v.push_back(&bf16_kernels_scalar());
    return v;
}

const std::vector<const Bf16Kernels*>& variants() {
    static const std::vector<const Bf16Kernels*> v = built_variants();
    return v;
}

const Bf16Kernels* find(const char* name) {
    for (const Bf16Kernels* k : variants())
        if (name && std::strcmp(name, k->name) == 0) return k;
    return nullptr;
}

// Whether the CPU runs variant k, asked once per variant (cpu_has() may execute CPUID, which traps
// to the hypervisor on a VM; the choice is read on every GEMM).
bool supported(const Bf16Kernels& k) {
    static const std::vector<bool> answers = [] {
        std::vector<bool> a;
        for (const Bf16Kernels* v : variants()) a.push_back(isa_supported(v->isa) && v->cpu_has());
        return a;
    }();
    const std::vector<const Bf16Kernels*>& v = variants();
    for (size_t i = 0; i < v.size(); ++i)
        if (v[i] == &k) return answers[i];
    return false;
}

// Intel's vdpbf16ps is slower than fp32's FMA: on an Emerald Rapids core a 24-chain loop retires
// 1.9 G vdpbf16ps/s against 7.7 G FMA/s, so the avx512-bf16 GEMMs run at half fp32's rate and
// DeiT-Tiny bf16 takes 1.75× fp32's time. So on Intel CPUs (whose AMX tiles come first where
// Linux grants them) avx512-bf16 is only taken when forced; AMD Zen 4/5 run it at twice fp32's rate.
bool chosen_by_default(const Bf16Kernels& k) {
#if defined(__x86_64__)
    if (std::strcmp(k.name, "avx512-bf16") == 0) return !__builtin_cpu_is("intel");
#endif
    (void)k;
    return true;
}

// The variant for each fp32 level (Isa values 0..3), chosen once: the level's own bf16 dot
// products when the CPU has them, else widen (never scalar: see active_bf16_kernels).
const Bf16Kernels& best_for(Isa isa) {
    static const std::array<const Bf16Kernels*, 4> best = [] {
        std::array<const Bf16Kernels*, 4> b;
        for (size_t level = 0; level < b.size(); ++level) {
            b[level] = &bf16_kernels_widen();
            for (const Bf16Kernels* k : variants())
                if (k->tile && k->isa != Isa::Scalar && size_t(k->isa) == level && supported(*k) &&
                    chosen_by_default(*k)) {
                    b[level] = k;
                    break;
                }
        }
        return b;
    }();
    return *best[size_t(isa) % best.size()];
}

const Bf16Kernels* from_env() {
    const char* env = std::getenv("POMT_BF16");
    if (!env || !*env) return nullptr;
    const Bf16Kernels* k = find(env);
    if (!k || !supported(*k)) {
        std::fprintf(stderr, "pomt: warning: POMT_BF16=%s is %s; using the best bf16 variant\n", env,
                     k ? "not supported here" : "not a bf16 variant of this build");
        return nullptr;
    }
    return k;
}

std::atomic<const Bf16Kernels*>& forced() {
    static std::atomic<const Bf16Kernels*> k{from_env()};
    return k;
}

}  // namespace

std::vector<const char*> bf16_variants() {
    std::vector<const char*> names;
    for (const Bf16Kernels* k : variants()) names.push_back(k->name);
    return names;
}

bool bf16_variant_supported(const char* name) {
    const Bf16Kernels* k = find(name);
    return k && supported(*k);
}

const Bf16Kernels& active_bf16_kernels() {
    if (const Bf16Kernels* k = forced().load(std::memory_order_relaxed)) return *k;
    return best_for(active_isa());
}

const char* active_bf16_variant() { return active_bf16_kernels().name; }

bool set_active_bf16_variant(const char* name) {
    if (!name || !*name) {
        forced().store(nullptr);
        return true;
    }
    const Bf16Kernels* k = find(name);
    if (!k || !supported(*k)) return false;
    forced().store(k);
    return true;
}

}  // namespace pomt
