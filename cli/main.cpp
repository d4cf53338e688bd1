// The rotortree command-line tool (SPEC §3).
//
// Exit codes: 0 success (and `valid`), 1 a proof that does not verify,
// 2 any error: bad usage, unreadable or malformed input, failed operation.
#include <CLI/CLI.hpp>

#include <exception>
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
  } catch (const std::exception& e) {
    return report(e.what());
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
  // Results are buffered: a full disk or closed pipe shows up here, not silently.
  std::cout.flush();
  if (!std::cout) code = report("cannot write standard output");
  return code;
}
