// pomt: a thin command-line layer over libpomt.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "cli/commands.h"
#include "core/suggest.h"
#include "kernels/gemm_bf16_kernels.h"
#include "kernels/gemm_int8_kernels.h"
#include "kernels/isa.h"
#include "pomt/error.h"
#include "pomt/version.h"

namespace pomt {

// pomt version / pomt --version: the version first (scripts read that line), then what this build
// and this CPU run.
int cmd_version(const Args& args) {
    if (!args.positional().empty()) fail("unexpected argument '" + args.positional()[0] + "'");
    std::printf("pomt %s\n", kVersion);
    std::string levels;
    for (Isa isa : {Isa::Scalar, Isa::Neon, Isa::Avx2, Isa::Avx512})
        if (isa_supported(isa)) levels += std::string(levels.empty() ? "" : ", ") + isa_name(isa);
    std::printf("kernels: %s in use (this build on this CPU: %s; POMT_ISA selects a lower one)\n",
                isa_name(active_isa()), levels.c_str());
    std::string int8;
    for (const char* v : int8_variants())
        if (int8_variant_supported(v)) int8 += std::string(int8.empty() ? "" : ", ") + v;
    std::printf("int8 kernels: %s in use (this build on this CPU: %s; POMT_INT8 selects another)\n",
                active_int8_variant(), int8.c_str());
    std::string bf16;
    for (const char* v : bf16_variants())
        if (bf16_variant_supported(v)) bf16 += std::string(bf16.empty() ? "" : ", ") + v;
    std::printf("bf16 kernels: %s in use (this build on this CPU: %s; POMT_BF16 selects another)\n",
                active_bf16_variant(), bf16.c_str());
    return 0;
}

}  // namespace pomt

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fputs(pomt::top_level_help().c_str(), stderr);
        return 2;
    }
    std::string cmd = argv[1];
    if (cmd == "-h" || cmd == "--help" || (cmd == "help" && argc == 2)) {
        std::fputs(pomt::top_level_help().c_str(), stdout);
        return 0;
    }
    // `pomt help COMMAND`, as git has it: the same as `pomt COMMAND --help`.
    const bool help_for = cmd == "help";
    if (help_for) cmd = argv[2];
    if (cmd == "--version" || cmd == "-V") cmd = "version";
    try {
        const pomt::CommandSpec* spec = pomt::find_command(cmd);
        if (!spec) {
            std::vector<std::string> names;
            for (const pomt::CommandSpec& c : pomt::commands()) names.push_back(c.name);
            const std::vector<std::string> near = pomt::nearest_names(cmd, names);
            std::fprintf(stderr, "pomt: error: unknown command '%s'%s (pomt --help lists the commands)\n",
                         pomt::one_line(cmd).c_str(),
                         near.empty() ? "" : (": did you mean " + pomt::or_list(near) + "?").c_str());
            return 2;
        }
        if (help_for && argc > 3) pomt::fail("pomt help takes one command, e.g. pomt help classify");
        const pomt::Args args(help_for ? 0 : argc, argv, 2, *spec);
        if (help_for || args.help()) {
            std::fputs(pomt::command_help(*spec).c_str(), stdout);
            return 0;
        }
        return spec->run(args);
    } catch (const pomt::Error& e) {  // already one line (pomt/error.h)
        std::fprintf(stderr, "pomt %s: error: %s\n", pomt::one_line(cmd).c_str(), e.what());
        return 2;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "pomt %s: error: out of memory\n", pomt::one_line(cmd).c_str());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pomt %s: error: %s\n", pomt::one_line(cmd).c_str(), pomt::one_line(e.what()).c_str());
        return 2;
    }
}
