// Compute the paper's pruning schedule for a model on this machine and write it as a schedule file
// (what `pomt schedule` does), with the public API alone.
//   ./build/examples/schedule_search vit_tiny.pomt val/labels.txt schedule.json [--fast]
// labels.txt lists "relative/path label" per line (a few hundred images are enough); --fast
// measures latency coarsely (±3%) for a quick look.
#include <cstdio>
#include <fstream>
#include <string>

#include "pomt/pomt.h"
#include "pomt/search.h"

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s model.pomt LABELS OUT.json [--fast]\n", argv[0]);
        return 2;
    }
    try {
        pomt::Classifier model = pomt::Classifier::load(argv[1]);
        pomt::ScheduleSearchOptions options;
        options.data = argv[2];
        options.fast = argc > 4 && std::string(argv[4]) == "--fast";
        options.threads = 1;
        options.verify_runs = options.fast ? 3 : 30;
        // Progress on stderr, one line per finished phase; returning false would cancel.
        options.progress = [](const pomt::SearchProgress& p) {
            if (p.done == p.total) std::fprintf(stderr, "%s done\n", p.phase.c_str());
            return true;
        };
        pomt::ScheduleSearchResult r = pomt::search_schedule(model, options);

        std::printf("n* = %d of %d tokens (top-1 %.2f%% on %d images), schedule: %s\n", r.n_star, r.tokens_full,
                    r.best.accuracy, r.images, r.description.c_str());
        std::printf("latency: %.3f ms unpruned, %.3f ms with the schedule\n", r.baseline_ms, r.schedule_ms);
        std::ofstream file(argv[3]);
        file << pomt::schedule_file_json(model, r);
        if (!file.flush()) throw pomt::Error(std::string("cannot write ") + argv[3]);
        // r.schedule also applies directly: InferenceOptions::schedule of Classifier::run.
        std::printf("wrote %s (%s)\n", argv[3], model.describe(r.schedule).c_str());
        return 0;
    } catch (const pomt::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    }
}
