#include "db/files.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>

namespace rotortree::db::detail {

std::string join(const std::string& dir, const std::string& name) { return dir + "/" + name; }

std::uint64_t now_unix_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

void write_atomically(Env& env, const std::string& dir, const std::string& name, std::span<const std::uint8_t> bytes) {
  const std::string tmp = join(dir, name + ".tmp");
  {
    auto file = env.open(tmp, OpenMode::create_truncate);
    file->write_at(0, bytes);
    file->sync();
  }
  env.rename(tmp, join(dir, name));
  env.sync_dir(dir);
}

void retire_logs(Env& env, const std::string& dir, std::vector<std::uint64_t> ids, bool keep_spare) {
  if (ids.empty()) return;
  std::sort(ids.begin(), ids.end());
  if (keep_spare) {
    env.rename(join(dir, wal_name(ids.back())), join(dir, kSpareLogName));
    ids.pop_back();
  }
  for (std::uint64_t id : ids) env.remove(join(dir, wal_name(id)));
}

void disk_usage(Env& env, const std::string& dir, std::uint64_t& log_bytes, std::uint64_t& data_bytes) {
  log_bytes = data_bytes = 0;
  for (const std::string& name : env.list(dir)) {
    std::uint64_t id;
    try {
      if (parse_wal_name(name, id) || name == kSpareLogName)
        log_bytes += env.file_size(join(dir, name));
      else if (parse_data_name(name) || parse_index_name(name, id) || name == kMetaName)
        data_bytes += env.file_size(join(dir, name));
    } catch (const Error&) {
      // removed concurrently
    }
  }
}

std::optional<Meta> read_meta(Env& env, const std::string& dir) {
  const std::string file = join(dir, kMetaName);
  if (!env.exists(file)) return std::nullopt;
  const auto bytes = read_whole_file(env, file);
  return decode_meta(bytes, file);
}

Error missing_database(Env& env, const std::string& dir, const std::string& advice) {
  std::vector<std::string> found;
  if (env.exists(dir)) {
    for (const std::string& name : env.list(dir))
      if (is_database_file_name(name)) found.push_back(name);
  }
  if (found.empty())
    return Error(Errc::not_found, "no rotortree database in " + dir + " (no " + join(dir, kMetaName) + ")" + advice);
  std::sort(found.begin(), found.end());
  std::string list;
  for (std::size_t i = 0; i < found.size() && i < 4; ++i) list += (i ? ", " : "") + found[i];
  if (found.size() > 4) list += ", ...";
  return Error(Errc::corruption, "corrupted " + dir + ": " + join(dir, kMetaName) +
                                     " is missing but the directory holds database files (" + list +
                                     "): its checkpoint record was lost; restore it from a backup");
}

void release_pages(void* address, std::size_t bytes) noexcept { ::madvise(address, bytes, MADV_DONTNEED); }

}  // namespace rotortree::db::detail
