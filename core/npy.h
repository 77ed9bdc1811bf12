// NumPy .npy files: float32, C order, little-endian (what `pomt run` reads and writes).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pomt {

struct NpyArray {
    std::vector<int64_t> shape;
    std::vector<float> data;
    int64_t dim(size_t i) const { return shape.at(i); }
};

// Reads a float32 array; any other dtype, Fortran order, or a header/size mismatch throws pomt::Error.
NpyArray read_npy(const std::string& path);
NpyArray parse_npy(const void* bytes, size_t size, const std::string& what);

// Writes atomically (temporary file, then rename) so a failure never leaves a partial file.
void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape);

}  // namespace pomt
