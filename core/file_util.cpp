#include "core/file_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "pomt/error.h"

namespace pomt {

void require_regular_file(const std::string& path, const std::string& what) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0)
        fail(what + " '" + path + "': " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) fail(what + " '" + path + "' is a directory, expected a file");
    if (!S_ISREG(st.st_mode)) fail(what + " '" + path + "' is not a regular file");
}

std::vector<unsigned char> read_file_bytes(const std::string& path, const std::string& what) {
    require_regular_file(path, what);
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) fail(what + " '" + path + "': " + std::strerror(errno));
    std::vector<unsigned char> bytes;
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
    bool bad = std::ferror(f);
    std::fclose(f);
    if (bad) fail(what + " '" + path + "': read error");
    return bytes;
}

bool is_directory(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

namespace {

// `path` without trailing slashes ("/" stays).
std::string trimmed(const std::string& path) {
    std::string p = path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return p;
}

}  // namespace

void require_creatable_directory(const std::string& path, const std::string& what) {
    std::string p = trimmed(path);
    while (true) {
        struct stat st;
        if (stat(p.c_str(), &st) == 0) {
            if (!S_ISDIR(st.st_mode)) {
                const std::string which = p == trimmed(path) ? "it" : "'" + p + "'";
                fail(what + " '" + path + "': " + which + " is a file, not a folder");
            }
            if (access(p.c_str(), W_OK) != 0) fail(what + " '" + path + "': folder '" + p + "' is not writable");
            return;
        }
        // ENOTDIR: a file on the way, found as the walk goes up.
        if (errno != ENOENT && errno != ENOTDIR) fail(what + " '" + path + "': '" + p + "': " + std::strerror(errno));
        const size_t slash = p.rfind('/');
        if (slash == std::string::npos) {
            p = ".";
        } else {
            p = trimmed(p.substr(0, slash));
            if (p.empty()) p = "/";
        }
    }
}

void make_directories(const std::string& path, const std::string& what) {
    const std::string p = trimmed(path);
    for (size_t end = p.find('/', 1);; end = p.find('/', end + 1)) {
        const std::string part = end == std::string::npos ? p : p.substr(0, end);
        if (mkdir(part.c_str(), 0777) != 0 && !(errno == EEXIST && is_directory(part)))
            fail(what + ": cannot make folder '" + part + "': " + std::strerror(errno));
        if (end == std::string::npos) return;
    }
}

void require_writable_path(const std::string& path) {
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) fail("output '" + path + "' is a directory");
    std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
    if (dir.empty()) dir = "/";
    if (access(dir.c_str(), W_OK) != 0)
        fail("cannot write output '" + path + "': directory '" + dir + "' is not writable or does not exist");
}

AtomicFileWriter::AtomicFileWriter(const std::string& path)
    : path_(path), tmp_(path + ".tmp." + std::to_string(getpid())) {
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        fail("output '" + path + "' is a directory");
    file_ = std::fopen(tmp_.c_str(), "wb");
    if (!file_) fail("cannot write output '" + path + "': " + std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter() {
    if (file_) std::fclose(static_cast<FILE*>(file_));
    if (!committed_) std::remove(tmp_.c_str());
}

void AtomicFileWriter::write(const void* data, size_t size) {
    if (size && std::fwrite(data, 1, size, static_cast<FILE*>(file_)) != size)
        fail("cannot write output '" + path_ + "': " + std::strerror(errno));
}

void AtomicFileWriter::commit() {
    FILE* f = static_cast<FILE*>(file_);
    file_ = nullptr;
    if (std::fflush(f) != 0 || std::fclose(f) != 0)
        fail("cannot write output '" + path_ + "': " + std::strerror(errno));
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
        fail("cannot write output '" + path_ + "': " + std::strerror(errno));
    committed_ = true;
}

void write_file_atomic(const std::string& path, const void* data, size_t size) {
    AtomicFileWriter w(path);
    w.write(data, size);
    w.commit();
}

}  // namespace pomt
