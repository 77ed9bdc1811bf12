// What the AMX variants share (kernels/x86/gemm_int8_amx.cpp, kernels/x86/gemm_bf16_amx.cpp):
// asking Linux for the tile state, and loading a tile configuration only when it changes.
// Included only by files compiled with the AMX flags.
//
// AMX (Intel Xeons since Sapphire Rapids) has eight tile registers of up to 16 rows × 64 bytes and
// one instruction that multiplies two of them into a third (TDPBSSD: int8, TDPBF16PS: bf16 pairs).
// Two rules of its use:
//   - Linux hands the tile state to a process only after arch_prctl(ARCH_REQ_XCOMP_PERM,
//     XFEATURE_XTILEDATA); before that the first tile instruction is SIGILL. amx_usable() asks once
//     (with CPUID and XGETBV first), and a variant whose request is refused is not supported.
//   - LDTILECFG sets every tile's shape and zeroes the tiles; it costs about as much as 12 tile
//     products here (~116 TSC ticks, Emerald Rapids), more than a small tile's whole k loop. So each
//     thread keeps the configuration it loaded and loads a new one only when a tile needs another
//     shape. Other code in the same thread (oneDNN in the same process, say) may load its own
//     between two of pomt's calls, so the drivers call amx_new_call() before each GEMM or attention
//     call (Int8Kernels::begin, Bf16Kernels::begin): it makes every thread load its configuration
//     again at its next tile.
#pragma once
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cpuid.h>
#include <type_traits>

#include "kernels/gemm.h"
#include <cstdint>
#include <cstring>

namespace pomt {
namespace amx {

#define POMT_AMX_INLINE inline __attribute__((always_inline))

// The 64-byte operand of LDTILECFG (palette 1): per tile, its bytes per row and its rows.
struct alignas(64) TileConfig {
    uint8_t palette = 1, start_row = 0;
    uint8_t reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64, "LDTILECFG reads 64 bytes");

// CPUID.(7,0):EDX bit `edx_bit` (24 AMX-TILE, 25 AMX-INT8, 22 AMX-BF16), the OS saving the tile
// state (XCR0 bits 17 and 18), and Linux's permission. Asked once per process.
inline bool usable(int edx_bit) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    if (!(d & (1u << 24)) || !(d & (1u << edx_bit))) return false;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false;  // OSXSAVE, for XGETBV
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17)) return false;
    static const bool granted = [] {
        constexpr long kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
        return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
    }();
    return granted;
}

// Bumped by new_call(); a thread whose loaded configuration is of an older call loads it again.
inline std::atomic<uint32_t> g_call{1};
inline void new_call() { g_call.fetch_add(1, std::memory_order_relaxed); }

// Makes the configuration `key` names (equal keys, equal configurations) the thread's: fill(cfg)
// writes it, called only when it must be loaded. Built on every call, the configuration cost a
// store-forwarding stall behind the previous tile's stores (its rows stored as two 4-byte values
// and read back as one 8-byte one): 5 % of DeiT-Small int8.
template <class Fill>
POMT_AMX_INLINE void configure(uint32_t key, Fill&& fill) {
    thread_local uint32_t loaded_key = 0, loaded_call = 0;
    const uint32_t call = g_call.load(std::memory_order_relaxed);
    if (loaded_key == key && loaded_call == call) return;
    TileConfig cfg;
    fill(cfg);
    _tile_loadconfig(&cfg);
    loaded_key = key;
    loaded_call = call;
}

// The product of a 1..32-row block of A and one or two panels of B over `words` 4-byte words of k
// (4 int8 inputs, or a pair of bf16), as TDPBSSD / TDPBF16PS take them: Dot::product<C>() runs
// the one into C tile C (its A and B tiles below; the tile numbers must be literals, as the
// intrinsics are macros around the instruction's text). out receives 32 × 32 4-byte sums (row
// stride ld_out bytes; rows ≥ rows and the second panel's columns when there is none are not written). Tiles: C 0 (rows 0–15 × panel 0), 1 (rows 0–15 ×
// panel 1), 2 and 3 (rows 16–31); A 4 (rows 0–15) and 5 (rows 16–31); B 6 (panel 0) and 7 (panel
// 1): each step of 16 words loads two A and two B tiles for four products, the most that eight
// registers allow, and reads 64 bytes of each row of A and 1024 contiguous bytes of each panel
// (16 words × 16 columns: the panels16x4 / panels16x2 layouts are B tiles as they stand). The
// last partial step's A rows and panel words are copied into zero-padded buffers: zeros add
// nothing, and nothing past the operands is read.
constexpr int kTileRows = 32, kTilePanels = 2, kWordsPerStep = 16;

// g++'s _tile_loadd is an asm statement that does not say it reads memory (its _tile_stored says
// it writes): without this barrier before the loads, stores the tiles are to read (the zero-padded
// last step below, a caller's freshly rounded rows) may be moved past them or, into a buffer
// nothing else reads, dropped. (Seen: with the stores moved to a function of their own, the
// padded last step's copies were dropped and every tail was wrong.)
inline void memory_for_tile_loads() { __asm__ volatile("" ::: "memory"); }

// From this many 16-word steps on (int8 k ≥ 384, bf16 k ≥ 192), multiply_block issues each
// product as soon as its tiles are loaded; below, all four loads first. Measured in a loop of
// tiles over B in L2: interleaved, k = 384 to 1536 int8 +4 to +17 %, k = 192 −6 %; DeiT-Small
// bf16 0.97× as long (tools/compare/pomt_rows.py, 10 blocks), its int8 within noise.
constexpr int kInterleaveSteps = 6;

template <class Dot, bool R2, bool P2>
void multiply_block(const uint8_t* a, size_t lda, int rows, const uint8_t* panel, size_t panel_stride, int words,
                    void* out, long ld) {
    constexpr size_t kStep = kWordsPerStep * 4, kPanelStep = kStep * 16;
    const int steps = words / kWordsPerStep, tail = words % kWordsPerStep;
    const uint8_t* a1 = a + 16 * lda;
    const uint8_t* b1 = panel + panel_stride;
    memory_for_tile_loads();
    _tile_zero(0);
    if (P2) _tile_zero(1);
    if (R2) _tile_zero(2);
    if (R2 && P2) _tile_zero(3);
    auto products = [] {
        Dot::template product<0>();  // C0 += A4·B6
        if (P2) Dot::template product<1>();  // C1 += A4·B7
        if (R2) Dot::template product<2>();  // C2 += A5·B6
        if (R2 && P2) Dot::template product<3>();  // C3 += A5·B7
    };
    if (R2 && P2 && steps >= kInterleaveSteps) {
        // Each product issued as soon as its operands are loaded. The tile registers are not
        // renamed: a step's loads wait for the previous step's products that read them.
        for (int s = 0; s < steps; ++s) {
            _tile_loadd(4, a + s * kStep, long(lda));
            _tile_loadd(6, panel + s * kPanelStep, 64);
            Dot::template product<0>();
            _tile_loadd(7, b1 + s * kPanelStep, 64);
            Dot::template product<1>();
            _tile_loadd(5, a1 + s * kStep, long(lda));
            Dot::template product<2>();
            Dot::template product<3>();
        }
    } else {
        for (int s = 0; s < steps; ++s) {
            _tile_loadd(4, a + s * kStep, long(lda));
            if (R2) _tile_loadd(5, a1 + s * kStep, long(lda));
            _tile_loadd(6, panel + s * kPanelStep, 64);
            if (P2) _tile_loadd(7, b1 + s * kPanelStep, 64);
            products();
        }
    }
    if (tail) {
        alignas(64) uint8_t abuf[kTileRows * kStep];
        alignas(64) uint8_t bbuf[2][kPanelStep];
        // Vector copies of fixed size: a memcpy and a memset of `used` bytes per row were calls,
        // 64 of them a tile (a third of int8 attention's P·V time at 197 tokens). A row's bytes
        // past `used` are masked off, so nothing past the operands is read.
        const size_t a_off = size_t(steps) * kStep, b_off = size_t(steps) * kPanelStep;
        const __mmask64 used = (__mmask64(1) << (tail * 4)) - 1;  // tail < 16 words: < 64 bytes
        for (int r = 0; r < rows; ++r)
            _mm512_store_si512(abuf + r * kStep, _mm512_maskz_loadu_epi8(used, a + r * lda + a_off));
        for (int p = 0; p < (P2 ? 2 : 1); ++p) {
            const uint8_t* src = (p ? b1 : panel) + b_off;
            for (int w = 0; w < kWordsPerStep; ++w)  // a panel's word w: its 16 columns, 64 bytes
                _mm512_store_si512(bbuf[p] + w * kStep,
                                   w < tail ? _mm512_loadu_si512(src + w * kStep) : _mm512_setzero_si512());
        }
        memory_for_tile_loads();
        _tile_loadd(4, abuf, 64);
        if (R2) _tile_loadd(5, abuf + 16 * kStep, 64);
        _tile_loadd(6, bbuf[0], 64);
        if (P2) _tile_loadd(7, bbuf[1], 64);
        products();
    }
    uint8_t* o = static_cast<uint8_t*>(out);
    _tile_stored(0, o, ld);
    if (P2) _tile_stored(1, o + 64, ld);
    if (R2) _tile_stored(2, o + 16 * ld, ld);
    if (R2 && P2) _tile_stored(3, o + 16 * ld + 64, ld);
}

// multiply_block for rows 1..32 and panels 1..2, the tiles configured for those rows first (the
// int8 and bf16 variants use the same shapes, so one configuration serves both).
template <class Dot>
void multiply(const void* a, size_t lda, int rows, const void* panel, size_t panel_stride,
              int panels, int words, void* out, long ld_out = kTileRows * 4) {
    const int r0 = rows < 16 ? rows : 16, r1 = rows - r0;
    configure(uint32_t(r0) << 8 | uint32_t(r1) | 0x10000u, [&](TileConfig& cfg) {  // never 0, the key before any load
        const int tile_rows[8] = {r0, r0, r1, r1, r0, r1, kWordsPerStep, kWordsPerStep};
        for (int i = 0; i < 8; ++i) {
            cfg.rows[i] = uint8_t(tile_rows[i]);
            cfg.colsb[i] = tile_rows[i] ? uint16_t(64) : uint16_t(0);
        }
    });
    const uint8_t* pa = static_cast<const uint8_t*>(a);
    const uint8_t* pb = static_cast<const uint8_t*>(panel);
    if (r1 > 0) {
        if (panels > 1) multiply_block<Dot, true, true>(pa, lda, rows, pb, panel_stride, words, out, ld_out);
        else multiply_block<Dot, true, false>(pa, lda, rows, pb, panel_stride, words, out, ld_out);
    } else {
        if (panels > 1) multiply_block<Dot, false, true>(pa, lda, rows, pb, panel_stride, words, out, ld_out);
        else multiply_block<Dot, false, false>(pa, lda, rows, pb, panel_stride, words, out, ld_out);
    }
}

// The Dot types of multiply: TDPBSSD (int8 × int8 → int32) and TDPBF16PS (bf16 pairs → fp32).
struct DotInt8 {
    template <int C>
    static void product() {
        if constexpr (C == 0) _tile_dpbssd(0, 4, 6);
        if constexpr (C == 1) _tile_dpbssd(1, 4, 7);
        if constexpr (C == 2) _tile_dpbssd(2, 5, 6);
        if constexpr (C == 3) _tile_dpbssd(3, 5, 7);
    }
};
struct DotBf16 {
    template <int C>
    static void product() {
        if constexpr (C == 0) _tile_dpbf16ps(0, 4, 6);
        if constexpr (C == 1) _tile_dpbf16ps(1, 4, 7);
        if constexpr (C == 2) _tile_dpbf16ps(2, 5, 6);
        if constexpr (C == 3) _tile_dpbf16ps(3, 5, 7);
    }
};

// Calls f(std::integral_constant<int, ACT>) with ACT = int(act): the tiles' epilogue loops, whose
// trip counts are not constants, get the activation as one (store_epilogue's ACT).
template <class F>
void with_activation(Activation act, F&& f) {
    switch (act) {
        case Activation::Gelu: f(std::integral_constant<int, int(Activation::Gelu)>()); break;
        case Activation::GeluFast: f(std::integral_constant<int, int(Activation::GeluFast)>()); break;
        case Activation::QuickGelu: f(std::integral_constant<int, int(Activation::QuickGelu)>()); break;
        default: f(std::integral_constant<int, int(Activation::None)>()); break;
    }
}

}  // namespace amx
}  // namespace pomt
