// A read-only view of a whole file: mmap (no copy, pages shared with the OS cache) with a read()
// fallback for filesystems that cannot map. The view stays valid while the object lives.
#pragma once
#include <cstddef>
#include <string>

namespace pomt {

class MappedFile {
public:
    // Throws pomt::Error naming `what` and the path for a missing file, a directory, a read error,
    // or a file that cannot be mapped and is larger than default_memory_limit().
    MappedFile(const std::string& path, const std::string& what, bool allow_mmap = true);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const unsigned char* data() const { return data_; }
    size_t size() const { return size_; }
    const std::string& path() const { return path_; }
    bool is_mapped() const { return mapped_; }

private:
    std::string path_;
    const unsigned char* data_ = nullptr;
    size_t size_ = 0;
    bool mapped_ = false;
    void* aligned_copy_ = nullptr;  // read() fallback, 64-byte aligned like a mapping
};

}  // namespace pomt
