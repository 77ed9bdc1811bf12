// Shared by the libFuzzer targets in fuzz/: the one rule every parser must keep.
//
// A parser given hostile bytes may only (a) succeed or (b) throw pomt::Error with a non-empty
// message. Anything else is a finding: a sanitizer report (the build uses ASan + UBSan with
// -fno-sanitize-recover), an allocation above libFuzzer's -malloc_limit_mb, a timeout, or an
// exception of another type (std::out_of_range from a std::string member, say), which the CLI
// would print as an unhelpful library message. Those abort here so libFuzzer saves the input.
//
// A multi-line pomt::Error message (user bytes such as a JSON key with "\n" quoted verbatim) is a
// message-quality issue, not a memory-safety one: it is reported once per process on stderr and
// counted, and aborts only with POMT_FUZZ_STRICT=1.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <string>

#include "pomt/error.h"

namespace pomt_fuzz {

inline bool strict() {
    static const bool s = [] {
        const char* e = std::getenv("POMT_FUZZ_STRICT");
        return e && *e && *e != '0';
    }();
    return s;
}

inline void check_message(const char* what) {
    const std::string m = what ? what : "";
    if (m.empty()) {
        std::fprintf(stderr, "pomt fuzz: pomt::Error with an empty message\n");
        std::abort();
    }
    if (m.find('\n') != std::string::npos || m.find('\r') != std::string::npos) {
        static bool reported = false;
        if (!reported || strict()) {
            reported = true;
            std::fprintf(stderr, "pomt fuzz: note: multi-line error message: %s\n", m.c_str());
        }
        if (strict()) std::abort();
    }
}

// Runs fn(); returns true when it succeeded, false when it threw pomt::Error. Aborts otherwise.
template <class Fn>
bool expect_clean(Fn&& fn) {
    try {
        fn();
        return true;
    } catch (const pomt::Error& e) {
        check_message(e.what());
        return false;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "pomt fuzz: std::bad_alloc escaped (an unbounded allocation)\n");
        std::abort();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pomt fuzz: non-pomt exception escaped: %s\n", e.what());
        std::abort();
    }
}

// A scratch file path private to this process (for readers that take a path).
inline std::string scratch_path(const char* ext) {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp && *tmp ? tmp : "/tmp") + "/pomt_fuzz_" + std::to_string(::getpid()) + ext;
}

inline void write_scratch(const std::string& path, const uint8_t* data, size_t size) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
        std::fprintf(stderr, "pomt fuzz: cannot write scratch file %s\n", path.c_str());
        std::abort();
    }
}

}  // namespace pomt_fuzz
