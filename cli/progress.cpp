#include "cli/progress.h"

#include <cstdio>

#include "profiler/measure.h"

namespace pomt {

ProgressBar::ProgressBar(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled && profiler::stderr_is_terminal()),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

ProgressBar::~ProgressBar() {
    if (drawn_) std::fprintf(stderr, "\n");
}

void ProgressBar::update(int done, int total) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    // Redraw at most 10 times a second, and always at the end.
    if (done < total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    profiler::Progress p;
    p.points_done = done;
    p.points_total = total;
    p.sweep = 1;
    p.elapsed_seconds = std::chrono::duration<double>(now - start_).count();
    p.remaining_seconds = done > 0 ? p.elapsed_seconds * (total - done) / done : 0;
    std::fprintf(stderr, "\r%s %s", label_.c_str(), profiler::progress_line(p).c_str());
    std::fflush(stderr);
    drawn_ = true;
}

}  // namespace pomt
