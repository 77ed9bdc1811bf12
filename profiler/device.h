// What the measurements ran on, recorded beside them (bench output, schedule files).
#pragma once
#include <string>

#include "core/json.h"

namespace pomt {
namespace profiler {

// /proc/cpuinfo's model name (x86) or CPU part (ARM); "unknown CPU" elsewhere.
std::string cpu_model_name();

// {"cpu": ..., "hardware_threads": N, "threads": T, "isa": "avx512"}
json::Value device_json(int threads);

}  // namespace profiler
}  // namespace pomt
