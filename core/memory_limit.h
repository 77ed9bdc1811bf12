// The memory limit: how much activation memory (a Session's workspace) and how large a model file
// that must be read rather than memory-mapped pomt accepts. A hostile .pomt or config.json can
// declare a model whose forward pass needs terabytes (img_size 4096 with patch 1 is 16.7 M
// tokens); it is refused with a one-line message before anything that size is allocated.
#pragma once
#include <cstdint>
#include <string>

namespace pomt {

// The process-wide default, used by every Session not given its own limit and by MappedFile's
// read() fallback: half the physical memory (4 GiB when that is unknown) until set. Beyond
// physical memory a request is granted by overcommit and the process is killed later.
uint64_t default_memory_limit();
void set_default_memory_limit(uint64_t bytes);  // pomt --max-memory; 0 restores the initial default

// "512M", "2G", "1.5G", "4096K", "1T" (binary units; a final B or iB is accepted) or plain bytes.
// Throws pomt::Error naming `what` for anything else, or for 0.
uint64_t parse_memory_size(const std::string& text, const std::string& what);

// "3.2 GiB", "512 MiB", "100 bytes".
std::string format_bytes(uint64_t bytes);

// Throws pomt::Error "<needs> needs X, above the memory limit of Y (--max-memory)" when
// needed > limit.
void check_memory_limit(uint64_t needed, uint64_t limit, const std::string& needs);

}  // namespace pomt
