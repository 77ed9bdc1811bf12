// doctest entry point. Besides doctest's own summary it prints the plain closing line
// "tests: N passed, N failed, N skipped" that CI reads; a test case whose ../shared data is absent
// says SKIP and is counted as skipped, not passed.
#define DOCTEST_CONFIG_IMPLEMENT
#include "doctest/doctest.h"

#include <cstdio>

#include "tests/test_util.h"

namespace pomt_test {
int g_skipped = 0;
}

namespace {

int g_passed = 0, g_failed = 0;

struct CountingListener : doctest::IReporter {
    explicit CountingListener(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats& s) override {
        g_failed = int(s.numTestCasesFailed);
        g_passed = int(s.numTestCasesPassingFilters - s.numTestCasesFailed) - pomt_test::g_skipped;
    }
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

}  // namespace

int main(int argc, char** argv) {
    doctest::Context context;
    context.applyCommandLine(argc, argv);
    int rc = context.run();
    if (context.shouldExit()) return rc;
    std::printf("tests: %d passed, %d failed, %d skipped\n", g_passed, g_failed, pomt_test::g_skipped);
    return rc;
}
