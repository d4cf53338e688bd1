// The rotortree command-line tool (SPEC §3).
//
// Exit codes (SPEC §3): 0 success (and `valid`), 1 a negative answer (a proof
// that does not verify), 2 an error before anything was changed, 3 an error
// after part of the input was committed (`insert`; it names the durable state).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <new>
#include <system_error>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "rotortree/types.hpp"
#include "rotortree/version.hpp"

namespace {

constexpr int kExitError = 2;

int report(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return kExitError;
}

int run(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);  // runs the selected command's callback
    return 0;
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // a command chose its exit code and printed its result
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, the version, or the usage error
    return code == 0 ? 0 : kExitError;
  } catch (const rotortree::Error& e) {
    return report(e.what());
  } catch (const std::bad_alloc&) {
    // No library exception's text reaches the user (it says nothing to them).
    return report("out of memory");
  } catch (const std::system_error& e) {
    return report("system error: " + e.code().message());
  } catch (const std::exception& e) {
    return report(std::string("internal error: ") + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Append-only N-ary Merkle trees (Lean IMT): roots, proofs and their verification",
               "rotortree"};
  app.set_version_flag("--version", std::string("rotortree ") + rotortree::kVersion);
  app.require_subcommand(1);
  // Usage errors look like every other error.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("error: ") + e.what() + "\nRun with --help for more information.\n";
  });
  rotortree::cli::register_tree_commands(app);
  rotortree::cli::register_db_commands(app);
  rotortree::cli::register_bench_command(app);
  rotortree::cli::register_demo_command(app);
  rotortree::cli::register_show_command(app);
  rotortree::cli::register_serve_command(app);

  int code = run(app, argc, argv);
  // Results are buffered: a full disk or closed pipe shows up here, not
  // silently. A command that committed something (3) keeps its status.
  std::cout.flush();
  if (!std::cout || std::fflush(stdout) != 0 || std::ferror(stdout)) {
    const int failed = report("cannot write standard output");
    if (code == 0 || code == 1) code = failed;
  }
  return code;
}
