// Decode-speed benchmark for image/: decodes every image of a folder (read into memory first, so
// only decoding is timed) REPS times and prints the median wall time of one pass.
//   make build/bench_decode && build/bench_decode ../shared/data/imagenet-val-1300/images [REPS]
// Used to check that the Pillow-exact JPEG path (image/jpeg_exact.h) is not slower than stb's.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/file_util.h"
#include "image/image.h"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_decode FOLDER [REPS]\n");
        return 2;
    }
    const int reps = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
    std::vector<std::string> paths;
    for (const auto& e : std::filesystem::directory_iterator(argv[1])) paths.push_back(e.path().string());
    std::sort(paths.begin(), paths.end());
    std::vector<std::vector<unsigned char>> files;
    for (const std::string& p : paths) files.push_back(pomt::read_file_bytes(p, "image"));
    auto cpu_now = [] {
        timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
    };
    std::vector<double> secs, cpu;
    size_t checksum = 0;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        const double c0 = cpu_now();
        for (size_t i = 0; i < files.size(); ++i) {
            pomt::Image img = pomt::decode_image(files[i].data(), files[i].size(), paths[i]);
            checksum += img.rgb[img.rgb.size() / 2];
        }
        cpu.push_back(cpu_now() - c0);
        secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(secs.begin(), secs.end());
    std::sort(cpu.begin(), cpu.end());
    std::printf("%zu images, median of %d passes: wall %.4f s, cpu %.4f s (min %.4f) checksum %zu\n", files.size(),
                reps, secs[secs.size() / 2], cpu[cpu.size() / 2], cpu[0], checksum);
    return 0;
}
