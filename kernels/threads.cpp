#include "kernels/threads.h"

#include <algorithm>

namespace pomt {

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
        stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
}

void ThreadPool::worker(int index) {
    unsigned seen = 0;
    for (;;) {
        const std::function<void(int)>* job;
        int tasks;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
            if (stop_) return;
            seen = generation_;
            job = job_;
            tasks = job_tasks_;
        }
        for (int t = index; t < tasks; t += n_threads_) (*job)(t);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (--pending_ == 0) done_.notify_one();
        }
    }
}

void ThreadPool::run(int n_tasks, const std::function<void(int)>& fn) {
    if (n_tasks <= 0) return;
    if (n_threads_ == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; ++t) fn(t);
        return;
    }
    std::lock_guard<std::mutex> region(run_mutex_);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        job_ = &fn;
        job_tasks_ = n_tasks;
        pending_ = n_threads_ - 1;
        ++generation_;
    }
    wake_.notify_all();
    for (int t = 0; t < n_tasks; t += n_threads_) fn(t);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
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
