// Small file helpers shared by the readers and writers: whole-file reads with clear errors and
// atomic writes (a temporary beside the target, renamed into place only when complete).
#pragma once
#include <string>
#include <vector>

namespace pomt {

// Reads a regular file; a missing file, a directory or an unreadable file throws pomt::Error.
std::vector<unsigned char> read_file_bytes(const std::string& path, const std::string& what);

// Throws pomt::Error unless `path` names an existing regular file.
void require_regular_file(const std::string& path, const std::string& what);

// Throws pomt::Error unless `path` could be created: its folder exists and is writable, and it is
// not a directory. Lets long commands refuse a bad output path before doing the work.
void require_writable_path(const std::string& path);

// Whether `path` names an existing directory.
bool is_directory(const std::string& path);

// Throws pomt::Error (naming `what`, e.g. "--show-tokens") unless `path` is a writable directory or
// make_directories could make it: nothing on the way is a file and its nearest existing ancestor is
// a writable directory. Lets a command refuse a bad folder before doing the work.
void require_creatable_directory(const std::string& path, const std::string& what);
// mkdir -p: makes `path` and its missing parents; pomt::Error naming `what` on failure.
void make_directories(const std::string& path, const std::string& what);

// Writes `size` bytes to `path` via `path.tmp.<pid>` + rename; removes the temporary on failure.
void write_file_atomic(const std::string& path, const void* data, size_t size);

class AtomicFileWriter {
public:
    explicit AtomicFileWriter(const std::string& path);
    ~AtomicFileWriter();  // removes the temporary unless commit() succeeded
    AtomicFileWriter(const AtomicFileWriter&) = delete;
    AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
    void write(const void* data, size_t size);
    void commit();

private:
    std::string path_, tmp_;
    void* file_ = nullptr;
    bool committed_ = false;
};

}  // namespace pomt
