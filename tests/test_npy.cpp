// core/npy: the NPY reader and writer.
#include <algorithm>
#include <cmath>
#include <string>

#include "doctest/doctest.h"
#include "tests/test_util.h"
#include "core/npy.h"
#include "pomt/error.h"

using namespace pomt;

TEST_CASE("npy: write then read, header forms") {
    const std::string dir = pomt_test::temp_dir();
    std::vector<float> v = {1, 2, 3, 4, 5, 6};
    write_npy(dir + "/a.npy", v.data(), {2, 3});
    NpyArray a = read_npy(dir + "/a.npy");
    CHECK(a.shape == std::vector<int64_t>{2, 3});
    CHECK(a.data == v);
    CHECK((pomt_test::read_bytes(dir + "/a.npy").size() - v.size() * 4) % 64 == 0);  // data 64-byte aligned
    write_npy(dir + "/b.npy", v.data(), {6});
    CHECK(read_npy(dir + "/b.npy").shape == std::vector<int64_t>{6});
    CHECK(pomt_test::read_bytes(dir + "/b.npy").find("(6,)") != std::string::npos);
    CHECK_THROWS_WITH_AS(read_npy(dir + "/none.npy"), doctest::Contains("No such file"), Error);
    CHECK_THROWS_WITH_AS(read_npy(dir), doctest::Contains("is a directory"), Error);
    std::string fortran = pomt_test::read_bytes(dir + "/a.npy");
    fortran.replace(fortran.find("False"), 5, "True ");
    CHECK_THROWS_WITH_AS(parse_npy(fortran.data(), fortran.size(), "f"), doctest::Contains("Fortran"), Error);
    std::string huge = "\x93NUMPY\x01\x00\x40\x00{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999,), }\n";
    CHECK_THROWS_AS(parse_npy(huge.data(), huge.size(), "h"), Error);
}

TEST_CASE("npy: a header cut after 'fortran_order': is a clean error (fuzz_npy)") {
    // parse_npy compared the value at find_first_not_of(' ') without checking for npos, so this
    // header threw std::out_of_range ("basic_string::compare: __pos ...") instead of pomt::Error.
    const std::string h = "{'descr':'<f4','shape':(1,),'fortran_order':   ";
    const std::string npy = std::string("\x93NUMPY\x01\x00", 8) + char(h.size()) + '\0' + h;
    pomt_test::expect_error([&] { parse_npy(npy.data(), npy.size(), "'cut.npy'"); }, "'cut.npy': malformed NPY header");
}

TEST_CASE("npy: a declared shape larger than the data is refused before allocating") {
    // A 100000 × 3 × 224 × 224 float array (60 GB) declared in a 128-byte file.
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 3, 224, 224), }";
    dict.append(117 - dict.size(), ' ');
    dict += '\n';
    const std::string npy = std::string("\x93NUMPY\x01\x00", 8) + char(dict.size()) + '\0' + dict;
    pomt_test::expect_error([&] { parse_npy(npy.data(), npy.size(), "'big.npy'"); }, "NPY data is 0 bytes, shape needs 60211200000");
}
