// pomt's version: the one place it is written. CMakeLists.txt reads it from here for project(), the
// Python extension exports it as pomt.__version__, and pyproject.toml's [project] version must be
// the same (tests/test_cli_conventions.cpp checks).
#pragma once

#define POMT_VERSION "0.1.0"

namespace pomt {

inline constexpr const char* kVersion = POMT_VERSION;

}  // namespace pomt
