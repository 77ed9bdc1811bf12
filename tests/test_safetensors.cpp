// weights_tools/safetensors: the safetensors reader's limits (its malformed files are in
// test_convert.cpp, through the converter).
#include <cstdint>
#include <string>

#include "doctest/doctest.h"
#include "tests/test_util.h"
#include "weights_tools/safetensors.h"

using namespace pomt;

TEST_CASE("safetensors: declared sizes larger than the data are refused before allocating") {
    // A 2^80-element tensor, and a header length over the format's 100 MB limit.
    const std::string h = R"({"x":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,0]}})";
    std::string st;
    for (int i = 0; i < 8; ++i) st += char((uint64_t(h.size()) >> (8 * i)) & 0xff);
    st += h;
    size_t off = 0;
    pomt_test::expect_error([&] { parse_safetensors_header(reinterpret_cast<const unsigned char*>(st.data()), st.size(), "'x'", &off); },
                 "absurd shape");
    std::string big_header(16, '\0');
    big_header[3] = 0x10;  // 2^28-byte header
    pomt_test::expect_error([&] {
        parse_safetensors_header(reinterpret_cast<const unsigned char*>(big_header.data()), big_header.size(), "'y'", &off);
    }, "larger than the format's 100 MB limit");
}
