// Real interference for testing `pomt profile` / `pomt bench` (tools/interference/run.sh): kept out
// of the library, built on its own (g++ -O2 -o hog hog.cpp).
//
//   hog burst N ON_MS OFF_MS [SECONDS]   N processes spin together for ON_MS, then sleep OFF_MS
//   hog membw MB [SECONDS]               one process streams over an MB-megabyte buffer (read and
//                                        write, 64-byte stride), evicting the L3 and using DRAM
//                                        bandwidth
//
// Runs until SECONDS have passed (default: until killed). Every process exits when its parent
// does, so killing the first one by its id stops them all.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: hog burst N ON_MS OFF_MS [SECONDS]\n"
                 "       hog membw MB [SECONDS]\n");
    std::exit(2);
}

// A positive number, or usage().
double number(const char* s) {
    char* end = nullptr;
    double v = std::strtod(s, &end);
    if (!*s || *end || !(v >= 0)) usage();
    return v;
}

volatile unsigned long g_sink;

// Spins for ON_MS and sleeps for OFF_MS, phases on the shared start time so the N processes burst
// together (all cores busy at once, as a parallel build's compile jobs are).
void burst_loop(Clock::time_point start, double on_ms, double off_ms, double seconds) {
    const double period = (on_ms + off_ms) / 1e3;
    unsigned long x = 1;
    while (seconds <= 0 || since(start) < seconds) {
        double t = since(start);
        double phase = t - period * double(long(t / period));
        if (phase < on_ms / 1e3) {
            for (int i = 0; i < 10000; ++i) x = x * 6364136223846793005UL + 1442695040888963407UL;
            g_sink = x;
        } else {
            double left = period - phase;
            timespec ts{time_t(left), long((left - double(time_t(left))) * 1e9)};
            nanosleep(&ts, nullptr);
        }
    }
}

void membw_loop(size_t bytes, double seconds) {
    std::vector<unsigned long> buf(bytes / sizeof(unsigned long), 1);
    const auto start = Clock::now();
    unsigned long sum = 0;
    while (seconds <= 0 || since(start) < seconds) {
        // One cache line in eight words: every access a new line, read-modify-write.
        for (size_t i = 0; i < buf.size(); i += 8) {
            sum += buf[i];
            buf[i] = sum;
        }
    }
    g_sink = sum;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) usage();
    const std::string mode = argv[1];
    if (mode == "burst") {
        if (argc < 5 || argc > 6) usage();
        const int n = int(number(argv[2]));
        const double on = number(argv[3]), off = number(argv[4]), seconds = argc == 6 ? number(argv[5]) : 0;
        if (n < 1 || on <= 0) usage();
        const auto start = Clock::now();
        const pid_t parent = getpid();
        for (int i = 1; i < n; ++i) {
            pid_t pid = fork();
            if (pid < 0) {
                std::perror("fork");
                return 1;
            }
            if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);  // the children go when the first process does
                if (getppid() != parent) return 0;
                burst_loop(start, on, off, seconds);
                return 0;
            }
        }
        burst_loop(start, on, off, seconds);
        while (wait(nullptr) > 0) {
        }
        return 0;
    }
    if (mode == "membw") {
        if (argc < 3 || argc > 4) usage();
        const double mb = number(argv[2]), seconds = argc == 4 ? number(argv[3]) : 0;
        if (mb < 1) usage();
        membw_loop(size_t(mb * 1024 * 1024), seconds);
        return 0;
    }
    usage();
}
