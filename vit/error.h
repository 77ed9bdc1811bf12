// Errors that reach the user: one line naming the problem. The CLI prints it and exits with 2.
#pragma once
#include <stdexcept>
#include <string>

namespace pomt {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail(const std::string& message) { throw Error(message); }

}  // namespace pomt
