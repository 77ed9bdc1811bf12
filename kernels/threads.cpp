#include "kernels/threads.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define POMT_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define POMT_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define POMT_CPU_RELAX() ((void)0)
#endif

namespace pomt {

namespace {
// Long enough to bridge the gap between two regions of one forward pass, short enough that an
// idle pool stops burning a core almost at once.
constexpr int kSpinMicroseconds = 200;

// Spins until pred() holds or the spin budget is spent; returns pred().
template <typename Pred>
bool spin_until(Pred pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicroseconds);
    for (int i = 0;; ++i) {
        if (pred()) return true;
        POMT_CPU_RELAX();
        if ((i & 255) == 255 && std::chrono::steady_clock::now() > deadline) return pred();
    }
}
}  // namespace

int ThreadPool::hardware_threads() {
    unsigned n = std::thread::hardware_concurrency();
    return n ? int(n) : 1;
}

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads > 0 ? n_threads : hardware_threads()) {
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back(&ThreadPool::worker, this, i);
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_.store(true);
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
}

void ThreadPool::worker(int index) {
    unsigned seen = 0;
    for (;;) {
        auto has_work = [&] { return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen; };
        if (!spin_until(has_work)) {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, has_work);
        }
        if (stop_.load(std::memory_order_acquire)) return;
        seen = generation_.load(std::memory_order_acquire);
        const std::function<void(int)>& job = *job_;
        const int tasks = job_tasks_;
        for (int t = index; t < tasks; t += n_threads_) job(t);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
}

void ThreadPool::run(int n_tasks, const std::function<void(int)>& fn) {
    if (n_tasks <= 0) return;
    if (n_threads_ == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; ++t) fn(t);
        return;
    }
    std::lock_guard<std::mutex> region(run_mutex_);
    job_ = &fn;
    job_tasks_ = n_tasks;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    {
        // Under the mutex so a worker about to sleep cannot miss the change.
        std::lock_guard<std::mutex> lock(mutex_);
        generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    for (int t = 0; t < n_tasks; t += n_threads_) fn(t);
    auto all_done = [&] { return pending_.load(std::memory_order_acquire) == 0; };
    while (!spin_until(all_done)) std::this_thread::yield();
    job_ = nullptr;
}

void ThreadPool::run_shared(int n_items, const std::function<void(int)>& fn) {
    if (n_threads_ == 1 || n_items <= 1) {
        for (int i = 0; i < n_items; ++i) fn(i);
        return;
    }
    std::atomic<int> next{0};
    run(std::min(n_threads_, n_items), [&](int) {
        for (int i = next.fetch_add(1, std::memory_order_relaxed); i < n_items;
             i = next.fetch_add(1, std::memory_order_relaxed))
            fn(i);
    });
}

void parallel_for(ThreadPool* pool, int n, int grain, const std::function<void(int, int)>& fn) {
    if (n <= 0) return;
    int parts = pool ? std::min(pool->size(), std::max(1, n / std::max(1, grain))) : 1;
    if (parts <= 1) {
        fn(0, n);
        return;
    }
    pool->run(parts, [&](int p) {
        int b, e;
        split_range(n, parts, p, &b, &e);
        if (b < e) fn(b, e);
    });
}

}  // namespace pomt
