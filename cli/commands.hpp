// The rotortree tool's commands, one registration function per group.
// main.cpp builds the CLI11 app and calls each of these.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "rotortree/any_tree.hpp"

namespace rotortree::cli {

/// root, prove, verify, consistency, verify-consistency (SPEC §3).  [tree_commands.cpp]
void register_tree_commands(CLI::App& app);
/// init, insert, info, checkpoint (issue: durable database).        [db_commands.cpp]
void register_db_commands(CLI::App& app);
/// bench (SPEC §4).                                                  [bench_command.cpp]
void register_bench_command(CLI::App& app);
/// demo: a one-minute tour of a durable database (issue 5).        [demo_command.cpp]
void register_demo_command(CLI::App& app);
/// show: draw a small tree as text or SVG, marking a proof.         [show_command.cpp]
void register_show_command(CLI::App& app);
/// serve: the proof server and its replica (SPEC §7).              [serve_command.cpp, serve/]
void register_serve_command(CLI::App& app);
/// `bench --report DIR [--quick]`: run the benchmark sweep (tree size, arity,
/// threads, with and without storage) as child processes of this binary and
/// write DIR/results.csv, PNG plots (gnuplot) and DIR/summary.md.   [bench_report.cpp]
void write_bench_report(const std::string& dir, bool quick);

/// Open the database in `dir` read-only and return a snapshot of its latest
/// state (used by `root`, `prove`, `consistency`, `find` with --db), with the
/// leaf index if `lookups`. Throws rotortree::Error.
std::unique_ptr<AnySnapshot> open_db_snapshot(const std::string& dir, bool lookups);

}  // namespace rotortree::cli
