// core/json: parsing, typed access, round trips, the value limit.
#include <algorithm>
#include <cmath>
#include <string>

#include "doctest/doctest.h"
#include "tests/test_util.h"
#include "core/json.h"
#include "pomt/error.h"

using namespace pomt;

TEST_CASE("json: parse, typed access, round trip") {
    json::Value v = json::parse(R"( {"a": [1, 2.5, -3e2, true, false, null], "s": "x\"\\\n\u00e9\ud83d\ude00", "o": {}} )", "t");
    const auto& a = v.find("a")->as_array("a");
    CHECK(a.size() == 6);
    CHECK(a[0].as_int("") == 1);
    CHECK(a[1].as_number("") == 2.5);
    CHECK(a[2].as_number("") == -300);
    CHECK(a[3].as_bool(""));
    CHECK(a[5].is_null());
    CHECK(v.find("s")->as_string("") == "x\"\\\n\xc3\xa9\xf0\x9f\x98\x80");
    CHECK(v.find("missing") == nullptr);
    CHECK(json::parse(v.dump(), "again").dump() == v.dump());
    CHECK_THROWS_AS(a[1].as_int("a[1]"), Error);
    CHECK_THROWS_WITH_AS(v.find("s")->as_number("field s"), "field s is a string, expected a number", Error);
}

TEST_CASE("json: malformed input is refused") {
    for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,\"a\":2}", "\"\\x\"", "01x", "[1] 2", "\"abc",
                            "{\"a\":tru}", "-", "1.", "1e", "\"\x01\""}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(json::parse(bad, "t"), Error);
    }
    CHECK_THROWS_WITH_AS(json::parse(std::string(100, '['), "deep"), doctest::Contains("nested too deeply"), Error);
}

TEST_CASE("json: numbers are written in the shortest round-trip form") {
    CHECK(json::format_number(0.5) == "0.5");
    CHECK(json::format_number(1e-6) == "1e-06");
    CHECK(json::format_number(0.485) == "0.485");
    CHECK(json::format_number(224) == "224");
    CHECK(json::format_number(-3) == "-3");
    CHECK(json::format_number(1099511627776.0) == "1099511627776");
    CHECK(json::format_number(0.1 + 0.2) == "0.30000000000000004");
    CHECK_THROWS_AS(json::format_number(NAN), Error);
}

TEST_CASE("json: a text with more values than the reader's limit is refused") {
    // kMaxValues values in total (the array counts as one) parse; one more does not.
    std::string text = "[";
    for (size_t i = 0; i + 1 < json::kMaxValues; ++i) text += i ? ",0" : "0";
    text += "]";
    CHECK(json::parse(text, "ok").as_array("").size() == json::kMaxValues - 1);
    text.insert(1, "0,");
    pomt_test::expect_error([&] { json::parse(text, "'big.json'"); },
                 "'big.json': JSON has more than " + std::to_string(json::kMaxValues) + " values");
}
