// Instruction-set levels and run-time dispatch. One x86-64 binary picks the best level the CPU has
// (cpuid); POMT_ISA=scalar|avx2|avx512 forces a lower one. aarch64 builds use NEON.
#pragma once

namespace pomt {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2, Neon = 3 };

const char* isa_name(Isa isa);
bool parse_isa(const char* name, Isa* out);

// Best level this CPU and build support.
Isa best_isa();
// The level kernels use now: best_isa(), lowered by POMT_ISA or set_active_isa().
Isa active_isa();
// Forces a level (tests sweep all levels); returns false if the CPU or build lacks it.
bool set_active_isa(Isa isa);
bool isa_supported(Isa isa);

}  // namespace pomt
