#include "rotortree/db.hpp"

#include <sys/mman.h>

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

void disk_usage(Env& env, const std::string& dir, std::uint64_t& log_bytes, std::uint64_t& data_bytes) {
  log_bytes = data_bytes = 0;
  for (const std::string& name : env.list(dir)) {
    std::uint64_t id;
    try {
      if (parse_wal_name(name, id))
        log_bytes += env.file_size(join(dir, name));
      else if (parse_data_name(name) || name == kMetaName)
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

void release_pages(void* address, std::size_t bytes) noexcept { ::madvise(address, bytes, MADV_DONTNEED); }

}  // namespace rotortree::db::detail
