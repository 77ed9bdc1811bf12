// The thread pool: every task runs exactly once per region, regions follow each other without
// loss, and several pools work side by side (one per Session).
#include <atomic>
#include <thread>
#include <vector>

#include "doctest/doctest.h"
#include "kernels/threads.h"

using namespace pomt;

TEST_CASE("thread pool: every task exactly once, region after region") {
    for (int threads : {1, 2, 3, 5}) {
        CAPTURE(threads);
        ThreadPool pool(threads);
        CHECK(pool.size() == threads);
        for (int round = 0; round < 2000; ++round) {
            const int tasks = 1 + round % 13;
            std::vector<std::atomic<int>> hits(tasks);
            for (auto& h : hits) h = 0;
            pool.run(tasks, [&](int t) { hits[t].fetch_add(1); });
            for (int t = 0; t < tasks; ++t) REQUIRE(hits[t].load() == 1);
        }
    }
}

TEST_CASE("thread pool: a region can start after the workers went to sleep") {
    ThreadPool pool(3);
    std::atomic<int> sum{0};
    pool.run(6, [&](int t) { sum += t; });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // past the spin budget
    pool.run(6, [&](int t) { sum += t; });
    CHECK(sum.load() == 30);
}

TEST_CASE("parallel_for: contiguous ranges covering [0, n) once") {
    ThreadPool pool(3);
    for (int n : {0, 1, 2, 7, 100, 1001}) {
        for (int grain : {1, 16, 1000}) {
            std::vector<int> hits(size_t(n), 0);
            parallel_for(&pool, n, grain, [&](int b, int e) {
                for (int i = b; i < e; ++i) ++hits[size_t(i)];
            });
            for (int h : hits) CHECK(h == 1);
        }
    }
    int b, e, covered = 0;
    for (int p = 0; p < 4; ++p) {
        split_range(10, 4, p, &b, &e);
        CHECK(b == covered);
        covered = e;
    }
    CHECK(covered == 10);
}

TEST_CASE("thread pools used from several threads at once") {
    std::vector<std::thread> users;
    std::atomic<long> total{0};
    for (int u = 0; u < 4; ++u)
        users.emplace_back([&] {
            ThreadPool pool(2);
            for (int r = 0; r < 200; ++r) pool.run(4, [&](int t) { total += t; });
        });
    for (auto& t : users) t.join();
    CHECK(total.load() == 4L * 200 * 6);
}
