// Directory-level helpers of the engine: paths, atomic writes, meta, usage.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "db/format.hpp"
#include "rotortree/db/env.hpp"

namespace rotortree::db::detail {
std::string join(const std::string& dir, const std::string& name);
std::uint64_t now_unix_ms();
/// Write `bytes` to dir/name atomically: temp file, fsync, rename, fsync dir.
void write_atomically(Env& env, const std::string& dir, const std::string& name, std::span<const std::uint8_t> bytes);
/// Logs a checkpoint made redundant (`ids`, any order): the newest becomes
/// the spare log (replacing an earlier spare) when `keep_spare`, the others
/// are removed.
void retire_logs(Env& env, const std::string& dir, std::vector<std::uint64_t> ids, bool keep_spare);
/// Totals of the log and data files of a directory.
void disk_usage(Env& env, const std::string& dir, std::uint64_t& log_bytes, std::uint64_t& data_bytes);
/// Read the metadata record; nullopt if the database does not exist.
std::optional<Meta> read_meta(Env& env, const std::string& dir);
/// The error for a directory without meta: Errc::not_found if it holds
/// nothing of a database (`advice` then follows), Errc::corruption naming
/// the files if it holds logs or data files (meta was lost).
Error missing_database(Env& env, const std::string& dir, const std::string& advice);
/// Release the pages of retired chunks (MADV_DONTNEED).
void release_pages(void* address, std::size_t bytes) noexcept;
}  // namespace rotortree::db::detail
