// A progress bar on stderr for long commands (eval, schedule): drawn only when stderr is a
// terminal, so logs and pipes stay clean.
#pragma once
#include <chrono>
#include <string>

namespace pomt {

class ProgressBar {
public:
    ProgressBar(std::string label, bool enabled);
    ~ProgressBar();  // ends the line if anything was drawn
    void update(int done, int total);

private:
    std::string label_;
    bool enabled_, drawn_ = false;
    std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace pomt
