#include "core/npy.h"

#include <cstring>
#include <limits>

#include "pomt/error.h"
#include "core/file_util.h"

namespace pomt {
namespace {

// Finds `'key':` in the header dict and returns the position just after the colon.
size_t find_key(const std::string& header, const std::string& key, const std::string& what) {
    size_t p = header.find("'" + key + "'");
    if (p == std::string::npos) fail(what + ": NPY header has no '" + key + "'");
    p = header.find(':', p);
    if (p == std::string::npos) fail(what + ": malformed NPY header");
    return p + 1;
}

std::vector<int64_t> parse_shape(const std::string& header, const std::string& what) {
    size_t p = find_key(header, "shape", what);
    size_t open = header.find('(', p), close = header.find(')', p);
    if (open == std::string::npos || close == std::string::npos || close < open)
        fail(what + ": malformed NPY shape");
    std::vector<int64_t> shape;
    size_t i = open + 1;
    while (i < close) {
        while (i < close && (header[i] == ' ' || header[i] == ',')) ++i;
        if (i >= close) break;
        if (header[i] < '0' || header[i] > '9') fail(what + ": malformed NPY shape");
        int64_t v = 0;
        while (i < close && header[i] >= '0' && header[i] <= '9') {
            if (v > (int64_t(1) << 40)) fail(what + ": NPY dimension is absurdly large");
            v = v * 10 + (header[i] - '0');
            ++i;
        }
        shape.push_back(v);
    }
    return shape;
}

}  // namespace

NpyArray parse_npy(const void* bytes, size_t size, const std::string& what) {
    const unsigned char* b = static_cast<const unsigned char*>(bytes);
    if (size < 10 || std::memcmp(b, "\x93NUMPY", 6) != 0) fail(what + ": not an NPY file");
    int major = b[6];
    size_t header_len, offset;
    if (major == 1) {
        header_len = b[8] | (size_t(b[9]) << 8);
        offset = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) fail(what + ": truncated NPY header");
        header_len = b[8] | (size_t(b[9]) << 8) | (size_t(b[10]) << 16) | (size_t(b[11]) << 24);
        offset = 12;
    } else {
        fail(what + ": unsupported NPY version " + std::to_string(major));
    }
    if (header_len > size - offset) fail(what + ": truncated NPY header");
    std::string header(reinterpret_cast<const char*>(b + offset), header_len);
    offset += header_len;

    size_t d = find_key(header, "descr", what);
    size_t q1 = header.find('\'', d);
    size_t q2 = q1 == std::string::npos ? q1 : header.find('\'', q1 + 1);
    if (q2 == std::string::npos) fail(what + ": malformed NPY descr");
    std::string descr = header.substr(q1 + 1, q2 - q1 - 1);
    if (descr != "<f4" && descr != "=f4" && descr != "f4")
        fail(what + ": NPY dtype is '" + descr + "', expected float32 ('<f4')");
    size_t f = find_key(header, "fortran_order", what);
    const size_t fv = header.find_first_not_of(' ', f);
    if (fv == std::string::npos) fail(what + ": malformed NPY header");
    if (header.compare(fv, 4, "True") == 0)
        fail(what + ": Fortran-ordered NPY arrays are not supported");

    NpyArray arr;
    arr.shape = parse_shape(header, what);
    uint64_t count = 1;
    for (int64_t s : arr.shape) {
        if (s != 0 && count > (uint64_t(1) << 40) / uint64_t(s)) fail(what + ": NPY array is absurdly large");
        count *= uint64_t(s);
    }
    if (count * 4 != size - offset)
        fail(what + ": NPY data is " + std::to_string(size - offset) + " bytes, shape needs " +
             std::to_string(count * 4));
    arr.data.resize(count);
    if (count) std::memcpy(arr.data.data(), b + offset, count * 4);
    return arr;
}

NpyArray read_npy(const std::string& path) {
    std::vector<unsigned char> bytes = read_file_bytes(path, "NPY file");
    return parse_npy(bytes.data(), bytes.size(), "'" + path + "'");
}

void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
    size_t count = 1;
    for (size_t i = 0; i < shape.size(); ++i) {
        dict += std::to_string(shape[i]);
        dict += (shape.size() == 1 || i + 1 < shape.size()) ? "," : "";
        if (i + 1 < shape.size()) dict += " ";
        count *= size_t(shape[i]);
    }
    dict += "), }";
    // Pad with spaces so the data starts on a 64-byte boundary, newline-terminated (NPY v1).
    size_t total = 10 + dict.size() + 1;
    dict.append((64 - total % 64) % 64, ' ');
    dict += '\n';
    std::string head = std::string("\x93NUMPY\x01\x00", 8);
    head += char(dict.size() & 0xff);
    head += char(dict.size() >> 8);
    head += dict;
    AtomicFileWriter w(path);
    w.write(head.data(), head.size());
    w.write(data, count * sizeof(float));
    w.commit();
}

}  // namespace pomt
