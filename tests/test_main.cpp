// doctest entry point. It prints one summary that counts skips honestly, ending with the plain line
// CI reads: "tests: N passed, N failed, N skipped, N parts skipped". A test case that could not run
// (its ../shared data, python3 or cmake absent) says SKIP once and counts as skipped, not passed;
// a skipped part of a case that ran (an ISA level this CPU lacks, say) says SKIP once and is counted
// apart (tests/test_util.h: skip_test, skip_part).
//
// --shard=I/N runs every N-th of the test cases that pass the other filters, starting at the I-th
// (0 ≤ I < N), so that N processes run the suite in parallel (tests/run_sharded.sh); its closing
// line then reads "tests (shard I/N): ..." and the script sums them into the plain line.
#define DOCTEST_CONFIG_IMPLEMENT
#include "doctest/doctest.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "tests/test_util.h"

namespace pomt_test {
int g_skipped = 0, g_skipped_parts = 0;
}

namespace {

struct Counts {
    int passed = 0, failed = 0, skipped = 0;
};

Counts counts_of(const doctest::TestRunStats& s) {
    Counts c;
    c.failed = int(s.numTestCasesFailed);
    c.skipped = pomt_test::g_skipped;
    c.passed = int(s.numTestCasesPassingFilters) - c.failed - c.skipped;
    return c;
}

Counts g_counts;

// A reporter that ignores every event; the two below each override the one they need.
struct SilentReporter : doctest::IReporter {
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}
    void test_case_start(const doctest::TestCaseData&) override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};

// Records the counts for the closing line whatever reporter (-r) prints the run.
struct CountingListener : SilentReporter {
    explicit CountingListener(const doctest::ContextOptions&) {}
    void test_run_end(const doctest::TestRunStats& s) override { g_counts = counts_of(s); }
};
REGISTER_LISTENER("pomt_counter", 1, CountingListener);

// doctest's console reporter, with a closing summary that counts the cases that skipped themselves
// (doctest itself knows only the cases filtered out on the command line, and calls the others
// passed).
struct PomtReporter : doctest::ConsoleReporter {
    using doctest::ConsoleReporter::ConsoleReporter;
    void test_run_end(const doctest::TestRunStats& p) override {
        if (opt.minimal && p.numTestCasesFailed == 0) return;
        const Counts c = counts_of(p);
        separator_to_stream();
        s << "[doctest] test cases: " << p.numTestCasesPassingFilters << " | " << c.passed << " passed | " << c.failed
          << " failed | " << c.skipped << " skipped | " << pomt_test::g_skipped_parts << " parts skipped\n"
          << "[doctest] assertions: " << p.numAsserts << " | " << p.numAsserts - p.numAssertsFailed << " passed | "
          << p.numAssertsFailed << " failed\n"
          << "[doctest] Status: " << (c.failed ? "FAILURE!" : "SUCCESS!") << std::endl;
    }
};
REGISTER_REPORTER("pomt", 1, PomtReporter);

// Collects the test cases a --list-test-cases run would print: those passing the filters, in the
// order a run executes them.
std::vector<const doctest::TestCaseData*> g_listed;
struct ListingReporter : SilentReporter {
    explicit ListingReporter(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData& q) override { g_listed.assign(q.data, q.data + q.num_data); }
};
REGISTER_REPORTER("pomt_listing", 2, ListingReporter);

struct Shard {
    int index = 0, count = 1;
};

// Takes --shard=I/N out of argv (doctest would reject it); exits 2 on a malformed value.
Shard take_shard_option(int& argc, char** argv) {
    Shard shard;
    int out = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], "--shard=", 8) != 0) {
            argv[out++] = argv[i];
            continue;
        }
        int used = 0;
        if (std::sscanf(argv[i] + 8, "%d/%d%n", &shard.index, &shard.count, &used) != 2 || argv[i][8 + used] != 0 ||
            shard.count < 1 || shard.index < 0 || shard.index >= shard.count) {
            std::fprintf(stderr, "pomt_tests: bad %s (expected --shard=I/N with 0 <= I < N)\n", argv[i]);
            std::exit(2);
        }
    }
    argc = out;
    argv[argc] = nullptr;
    return shard;
}

// Marks every test case outside the shard as skipped (doctest then neither runs nor counts it).
// The cases are those the same command line lists, so the filters (-tc, -tce, -sf ...) still apply.
void keep_only_shard(const Shard& shard, int argc, char** argv) {
    std::vector<const char*> args(argv, argv + argc);
    for (const char* extra : {"--list-test-cases", "--reporters=pomt_listing", "--out=/dev/null"}) args.push_back(extra);
    doctest::Context listing(int(args.size()), args.data());
    listing.run();
    for (size_t i = 0; i < g_listed.size(); ++i)
        if (int(i % size_t(shard.count)) != shard.index) const_cast<doctest::TestCaseData*>(g_listed[i])->m_skip = true;
}

}  // namespace

int main(int argc, char** argv) {
    const Shard shard = take_shard_option(argc, argv);
    if (shard.count > 1) keep_only_shard(shard, argc, argv);
    doctest::Context context;
    context.setOption("reporters", "pomt");  // -r on the command line still chooses another
    context.applyCommandLine(argc, argv);
    int rc = context.run();
    if (context.shouldExit()) return rc;
    if (shard.count > 1) std::printf("tests (shard %d/%d): ", shard.index, shard.count);
    else std::printf("tests: ");
    std::printf("%d passed, %d failed, %d skipped, %d parts skipped\n", g_counts.passed, g_counts.failed,
                g_counts.skipped, pomt_test::g_skipped_parts);
    return rc;
}
