// A persistent thread pool: threads are created once and reused by every parallel region, so a
// forward pass never pays thread creation. Work is split statically (task i always runs the same
// slice), which keeps results bit-identical run to run for a given thread count.
//
// A forward pass has ~100 parallel regions of 10–200 µs each, so a futex wake-up per region
// (tens of µs) would eat the gain of a second core. Idle workers therefore spin for a short while
// (kSpinMicroseconds) before sleeping on a condition variable, and the caller spins for completion.
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pomt {

class ThreadPool {
public:
    // n_threads <= 0 means all online cores.
    explicit ThreadPool(int n_threads = 0);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    // Calls fn(task) for task in [0, n_tasks), spread over the pool's threads (the caller takes
    // part); returns when all are done. Tasks are assigned round-robin by index, independent of timing.
    void run(int n_tasks, const std::function<void(int task)>& fn);

    // Calls fn(item) for item in [0, n_items), each thread taking the next unclaimed item until
    // none is left: a thread the host slows down takes fewer items instead of holding up the
    // others at the join. Which thread runs an item varies, so fn(item) must not depend on it.
    void run_shared(int n_items, const std::function<void(int item)>& fn);

    static int hardware_threads();

private:
    void worker(int index);

    int n_threads_;
    std::vector<std::thread> workers_;
    std::mutex run_mutex_;  // one parallel region at a time per pool
    std::mutex mutex_;      // guards sleeping workers' wake-up
    std::condition_variable wake_;
    const std::function<void(int)>* job_ = nullptr;
    int job_tasks_ = 0;
    std::atomic<unsigned> generation_{0};  // bumped once per region; workers run when it changes
    std::atomic<int> pending_{0};          // workers still busy with the current region
    std::atomic<bool> stop_{false};
};

// Splits [0, n) into `parts` contiguous ranges as evenly as possible; part p is [begin, end).
inline void split_range(int n, int parts, int p, int* begin, int* end) {
    int base = n / parts, extra = n % parts;
    *begin = p * base + (p < extra ? p : extra);
    *end = *begin + base + (p < extra ? 1 : 0);
}

// Runs fn(begin, end) over [0, n) split into at most pool->size() contiguous chunks of at least
// `grain` items; runs inline when pool is null or the work is small.
void parallel_for(ThreadPool* pool, int n, int grain, const std::function<void(int, int)>& fn);

}  // namespace pomt
