// doctest entry point. It prints one summary that counts skips honestly, ending with the plain line
// CI reads: "tests: N passed, N failed, N skipped, N parts skipped". A test case that could not run
// (its ../shared data, python3 or cmake absent) says SKIP once and counts as skipped, not passed;
// a skipped part of a case that ran (an ISA level this CPU lacks, say) says SKIP once and is counted
// apart (tests/test_util.h: skip_test, skip_part).
#define DOCTEST_CONFIG_IMPLEMENT
#include "doctest/doctest.h"

#include <cstdio>

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

// Records the counts for the closing line whatever reporter (-r) prints the run.
struct CountingListener : doctest::IReporter {
    explicit CountingListener(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats& s) override { g_counts = counts_of(s); }
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

}  // namespace

int main(int argc, char** argv) {
    doctest::Context context;
    context.setOption("reporters", "pomt");  // -r on the command line still chooses another
    context.applyCommandLine(argc, argv);
    int rc = context.run();
    if (context.shouldExit()) return rc;
    std::printf("tests: %d passed, %d failed, %d skipped, %d parts skipped\n", g_counts.passed, g_counts.failed,
                g_counts.skipped, pomt_test::g_skipped_parts);
    return rc;
}
