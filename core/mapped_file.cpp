#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "pomt/error.h"
#include "core/file_util.h"
#include "core/memory_limit.h"

namespace pomt {

MappedFile::MappedFile(const std::string& path, const std::string& what, bool allow_mmap) : path_(path) {
    require_regular_file(path, what);
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) fail(what + " '" + path + "': " + std::strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        fail(what + " '" + path + "': " + std::strerror(errno));
    }
    size_ = size_t(st.st_size);
    if (size_ == 0) {
        close(fd);
        fail(what + " '" + path + "' is empty");
    }
    if (allow_mmap) {
        // MAP_POPULATE: fault the whole file in at once (one pass through the page cache) instead of
        // one page fault per 4 KiB during the first forward pass.
        void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (p != MAP_FAILED) {
            data_ = static_cast<const unsigned char*>(p);
            mapped_ = true;
            close(fd);
            return;
        }
    }
    // Fallback: read into a 64-byte aligned buffer so tensor alignment inside the file still holds.
    // That copy is real memory (a mapping is page cache), so it counts against the memory limit.
    if (uint64_t(size_) > default_memory_limit()) {
        close(fd);
        check_memory_limit(size_, default_memory_limit(), what + " '" + path + "' (read into memory: it cannot be mapped)");
    }
    aligned_copy_ = std::aligned_alloc(64, (size_ + 63) / 64 * 64);
    if (!aligned_copy_) {
        close(fd);
        fail(what + " '" + path + "': out of memory reading " + std::to_string(size_) + " bytes");
    }
    size_t done = 0;
    while (done < size_) {
        ssize_t n = read(fd, static_cast<unsigned char*>(aligned_copy_) + done, size_ - done);
        if (n <= 0) {
            int err = errno;
            close(fd);
            std::free(aligned_copy_);
            aligned_copy_ = nullptr;
            fail(what + " '" + path + "': read error" + (n < 0 ? std::string(": ") + std::strerror(err) : ""));
        }
        done += size_t(n);
    }
    close(fd);
    data_ = static_cast<const unsigned char*>(aligned_copy_);
}

MappedFile::~MappedFile() {
    if (mapped_) munmap(const_cast<unsigned char*>(data_), size_);
    std::free(aligned_copy_);
}

}  // namespace pomt
