#include "eval/evaluate.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <numeric>
#include <thread>

#include "kernels/threads.h"
#include "pomt/error.h"
#include "vit/forward.h"
#include "image/preprocess.h"

namespace pomt {

std::vector<int> top_k_indices(const float* logits, int count, int k) {
    k = std::max(0, std::min(k, count));
    std::vector<int> idx(static_cast<size_t>(count));
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    idx.resize(size_t(k));
    return idx;
}

namespace {

// Runs `work(worker, index)` for every index in [0, count) on `threads` threads, handing out
// indices one at a time; the first exception (by index) is rethrown after all workers stop.
void for_each_image(int count, int threads, const std::function<void(int, int)>& work) {
    std::atomic<int> next{0};
    std::atomic<bool> failed{false};
    std::mutex error_mutex;
    int error_index = count;
    std::exception_ptr error;
    auto body = [&](int worker) {
        for (;;) {
            int i = next.fetch_add(1);
            if (i >= count || failed.load()) return;
            try {
                work(worker, i);
            } catch (...) {
                std::lock_guard<std::mutex> lock(error_mutex);
                if (i < error_index) {
                    error_index = i;
                    error = std::current_exception();
                }
                failed = true;
            }
        }
    };
    std::vector<std::thread> pool;
    for (int w = 1; w < threads; ++w) pool.emplace_back(body, w);
    body(0);
    for (std::thread& t : pool) t.join();
    if (error) std::rethrow_exception(error);
}

struct Worker {
    std::unique_ptr<Session> session;
    std::unique_ptr<TokenPruner> pruner;
    std::vector<float> input;
};

std::vector<Worker> make_workers(const std::shared_ptr<const Model>& model, const ResolvedSchedule& plan, int threads) {
    std::vector<Worker> workers(static_cast<size_t>(threads));
    const ModelConfig& c = model->config();
    for (Worker& w : workers) {
        // One thread per Session: the images are the parallel dimension here.
        w.session = std::make_unique<Session>(model, 1);
        w.pruner = make_pruner(plan, c);
        w.input.resize(size_t(c.in_chans) * c.img_size * c.img_size);
    }
    return workers;
}

void score(EvalResult& result, int i, const std::vector<float>& logits, int label) {
    std::vector<int> top = top_k_indices(logits.data(), int(logits.size()), 5);
    ImageOutcome& o = result.per_image[size_t(i)];
    o.top1 = top[0];
    o.correct1 = top[0] == label;
    o.correct5 = std::find(top.begin(), top.end(), label) != top.end();
}

void tally(EvalResult& r) {
    r.evaluated = r.top1_correct = r.top5_correct = 0;
    for (const ImageOutcome& o : r.per_image) {
        if (o.top1 < 0) continue;
        ++r.evaluated;
        r.top1_correct += o.correct1;
        r.top5_correct += o.correct5;
    }
    r.skipped = r.images - r.evaluated;
}

int worker_count(int threads) { return threads > 0 ? threads : ThreadPool::hardware_threads(); }

struct ProgressCounter {
    ProgressCounter(const EvalOptions& o, int t) : options(o), total(t) {}
    const EvalOptions& options;
    int total;
    std::atomic<int> done{0};
    std::mutex mutex;
    void tick() {
        int d = ++done;
        if (!options.progress) return;
        std::lock_guard<std::mutex> lock(mutex);
        options.progress(d, total);
    }
};

}  // namespace

EvalResult evaluate_images(std::shared_ptr<const Model> model, const std::vector<LabelledImage>& images,
                           const PruneSchedule& schedule, const EvalOptions& options) {
    const ModelConfig& c = model->config();
    const ResolvedSchedule plan = resolve_schedule(schedule, c);
    const int count = options.limit > 0 ? std::min<int>(options.limit, int(images.size())) : int(images.size());
    const int threads = std::max(1, std::min(worker_count(options.threads), count));
    std::vector<Worker> workers = make_workers(model, plan, threads);
    EvalResult result;
    result.images = count;
    result.per_image.resize(size_t(count));
    ProgressCounter progress(options, count);
    for_each_image(count, threads, [&](int w, int i) {
        Worker& wk = workers[size_t(w)];
        try {
            Image img = load_image(images[size_t(i)].path, options.image_limits);
            preprocess_image(img, model->preprocess(), wk.input.data());
        } catch (const Error& e) {
            if (!options.skip_bad) throw;
            result.per_image[size_t(i)].error = e.what();
            progress.tick();
            return;
        }
        RunOptions ro;
        ro.pruner = wk.pruner.get();
        score(result, i, wk.session->run(wk.input.data(), 1, ro), images[size_t(i)].label);
        progress.tick();
    });
    tally(result);
    return result;
}

PreparedImages prepare_images(const Model& model, const std::vector<LabelledImage>& images, const EvalOptions& options) {
    const int count = options.limit > 0 ? std::min<int>(options.limit, int(images.size())) : int(images.size());
    const int threads = std::max(1, std::min(worker_count(options.threads), count));
    std::vector<Image> crops(static_cast<size_t>(count));
    std::vector<char> ok(static_cast<size_t>(count), 0), up(static_cast<size_t>(count), 0);
    ProgressCounter progress(options, count);
    for_each_image(count, threads, [&](int, int i) {
        try {
            const Image image = load_image(images[size_t(i)].path, options.image_limits);
            up[size_t(i)] = eval_geometry(image.width, image.height, model.preprocess()).resize_w > image.width;
            crops[size_t(i)] = eval_crop_rgb(image, model.preprocess());
            ok[size_t(i)] = 1;
        } catch (const Error&) {
            if (!options.skip_bad) throw;
        }
        progress.tick();
    });
    PreparedImages p;
    for (int i = 0; i < count; ++i) {
        if (!ok[size_t(i)]) {
            ++p.skipped;
            continue;
        }
        p.crops.push_back(std::move(crops[size_t(i)]));
        p.labels.push_back(images[size_t(i)].label);
        p.upsampled += up[size_t(i)];
    }
    return p;
}

EvalResult evaluate_prepared(std::shared_ptr<const Model> model, const PreparedImages& images,
                             const PruneSchedule& schedule, const EvalOptions& options) {
    const ResolvedSchedule plan = resolve_schedule(schedule, model->config());
    const int count = int(images.crops.size());
    const int threads = std::max(1, std::min(worker_count(options.threads), std::max(count, 1)));
    std::vector<Worker> workers = make_workers(model, plan, threads);
    EvalResult result;
    result.images = count;
    result.per_image.resize(size_t(count));
    ProgressCounter progress(options, count);
    for_each_image(count, threads, [&](int w, int i) {
        Worker& wk = workers[size_t(w)];
        normalize_crop(images.crops[size_t(i)], model->preprocess(), wk.input.data());
        RunOptions ro;
        ro.pruner = wk.pruner.get();
        score(result, i, wk.session->run(wk.input.data(), 1, ro), images.labels[size_t(i)]);
        progress.tick();
    });
    tally(result);
    return result;
}

}  // namespace pomt
