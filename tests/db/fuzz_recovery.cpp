// libFuzzer target: log, checkpoint and leaf index header parsing, and a whole recovery from
// hostile files (the log new or recycled), must never crash (only throw rotortree::Error).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fault_injection_env.hpp"
#include "db/format.hpp"
#include "db/log_reader.hpp"
#include "db/log_writer.hpp"
#include "rotortree/db.hpp"

using namespace rotortree;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  std::span<const std::uint8_t> bytes(data + 1, size - 1);
  TreeParams params;
  params.arity = 2;
  params.max_depth = 32;
  try {
    if (selector % 4 == 0) {
      db::scan_wal(bytes, "fuzz.log", params, 0);
    } else if (selector % 4 == 1) {
      db::decode_meta(bytes, "fuzz.meta");
    } else if (selector % 4 == 3) {
      db::decode_index_header(bytes, "fuzz.idx");
    } else {
      // Whole recovery: a valid empty database whose log is the input.
      db::FaultInjectionEnv env;
      DbConfig config;
      config.env = &env;
      config.flush = flush::Manual{};
      config.checkpoint = checkpoint::Manual{};
      config.tree.threads = 1;
      { RotorTree<Blake3, 2> db("/fz", config); }
      // Its own header (with the database's identity), then the input.
      const auto& created = env.contents("/fz/wal-000001.log");
      std::vector<std::uint8_t> log(created.begin(), created.begin() + db::kWalHeaderBytes);
      log.insert(log.end(), bytes.begin(), bytes.end());
      if (selector & 4) {  // a recycled log: all of the input may be an earlier use's bytes
        const std::uint64_t recycled = log.size();
        for (int i = 0; i < 8; ++i) log[60 + i] = static_cast<std::uint8_t>(recycled >> (8 * i));
        const std::uint32_t crc = db::crc32c(log.data(), 68);
        for (int i = 0; i < 4; ++i) log[68 + i] = static_cast<std::uint8_t>(crc >> (8 * i));
      }
      env.contents("/fz/wal-000001.log") = log;
      RotorTree<Blake3, 2> db("/fz", config);
      (void)db.root();
    }
  } catch (const Error&) {
  }
  return 0;
}
