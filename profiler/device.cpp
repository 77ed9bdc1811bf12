#include "profiler/device.h"

#include <fstream>

#include "kernels/isa.h"
#include "kernels/threads.h"

namespace pomt {
namespace profiler {

std::string cpu_model_name() {
    std::ifstream f("/proc/cpuinfo");
    std::string line, arm_part;
    while (std::getline(f, line)) {
        size_t colon = line.find(':');
        if (colon == std::string::npos || colon + 2 > line.size()) continue;
        if (line.rfind("model name", 0) == 0 || line.rfind("Model", 0) == 0) return line.substr(colon + 2);
        if (line.rfind("CPU part", 0) == 0 && arm_part.empty()) arm_part = "ARM CPU part " + line.substr(colon + 2);
    }
    return arm_part.empty() ? "unknown CPU" : arm_part;
}

json::Value device_json(int threads) {
    json::Value d = json::Value::object();
    d.set("cpu", json::Value::string(cpu_model_name()));
    d.set("hardware_threads", json::Value::number(ThreadPool::hardware_threads()));
    d.set("threads", json::Value::number(threads));
    d.set("isa", json::Value::string(isa_name(active_isa())));
    return d;
}

}  // namespace profiler
}  // namespace pomt
