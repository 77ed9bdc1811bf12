// libFuzzer target: the NPY reader (core/npy.h parse_npy, behind `pomt run --input`). Input: a
// whole .npy file. An accepted array must hold exactly prod(shape) values and survive a
// write_npy / read_npy round trip bit for bit.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fuzz/fuzz_common.h"
#include "core/npy.h"

using namespace pomt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    NpyArray a;
    if (!pomt_fuzz::expect_clean([&] { a = parse_npy(data, size, "'fuzz.npy'"); })) return 0;
    uint64_t n = 1;
    for (int64_t s : a.shape) {
        if (s < 0) std::abort();
        n *= uint64_t(s);
    }
    if (n != a.data.size()) {
        std::fprintf(stderr, "pomt fuzz: accepted NPY holds %zu values for shape of %llu\n", a.data.size(),
                     (unsigned long long)n);
        std::abort();
    }
    if (a.data.size() > (1u << 18) || a.shape.size() > 32) return 0;
    const std::string path = pomt_fuzz::scratch_path(".npy");
    NpyArray b;
    pomt_fuzz::expect_clean([&] {
        write_npy(path, a.data.data(), a.shape);
        b = read_npy(path);
    });
    std::remove(path.c_str());
    if (b.shape != a.shape || b.data.size() != a.data.size() ||
        (n && std::memcmp(a.data.data(), b.data.data(), n * 4) != 0)) {
        std::fprintf(stderr, "pomt fuzz: NPY round trip changed the array\n");
        std::abort();
    }
    return 0;
}
