// The log at its seam: WalWriter (src/db/log_writer.hpp) writes batches and
// rewind records, scan_wal (src/db/log_reader.hpp) reads them back; no
// database around them. Formats: docs/file-formats.md.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <thread>

#include "fault_injection_env.hpp"
#include "db/files.hpp"
#include "db/log_reader.hpp"
#include "db/log_writer.hpp"

using namespace rotortree;
using Fault = db::FaultInjectionEnv::Fault;
namespace fs = std::filesystem;

namespace {

// The parameters a log header stores (named by the header itself, whatever the vocabulary).
using Params = decltype(db::WalHeader::params);
const Params kParams{};  // arity 4, depth 32, blake3, lean-imt
constexpr db::DbId kDbId = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
const std::string kDir = "/w";
const std::string kLog = kDir + "/" + db::wal_name(1);

std::vector<Node> make_leaves(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Node> leaves(n);
  for (auto& leaf : leaves)
    for (auto& b : leaf) b = static_cast<std::uint8_t>(rng() | 1);  // no zero bytes: padding is told by zeros
  return leaves;
}

/// What was written: a batch of leaves or a rewind to `rewind_size`.
struct Record {
  std::vector<Node> leaves;
  std::optional<std::uint64_t> rewind_size;
};

std::unique_ptr<db::WalWriter> create_writer(db::Env& env, bool direct, std::uint64_t next_seq = 1,
                                             const std::string& dir = kDir) {
  env.create_dir(dir);
  return std::make_unique<db::WalWriter>(&env, dir, kParams, kDbId, 1, next_seq, 0, true, direct);
}

/// Append `records` to `wal`; returns the sequence number of each record's last frame.
std::vector<std::uint64_t> append_all(db::WalWriter& wal, const std::vector<Record>& records) {
  std::vector<std::uint64_t> seqs;
  for (const Record& r : records) seqs.push_back(r.rewind_size ? wal.append_rewind(*r.rewind_size) : wal.append(r.leaves));
  return seqs;
}

db::WalScan scan(std::span<const std::uint8_t> bytes, std::uint64_t expected_first_seq = 0) {
  return db::scan_wal(bytes, kLog, kParams, expected_first_seq);
}

/// The scan's frames, joined back into records (a continued frame's leaves
/// go with the frames after it).
std::vector<Record> records_of(const db::WalScan& s) {
  std::vector<Record> out;
  bool open = false;
  for (const db::WalBatch& b : s.batches) {
    if (b.type == db::kRecordRewind) {
      EXPECT_FALSE(open) << "a rewind inside a continued batch";
      EXPECT_TRUE(b.leaves.empty());
      out.push_back({{}, b.rewind_size});
      continue;
    }
    EXPECT_EQ(b.type, db::kRecordLeaves);
    if (!open) out.push_back({});
    out.back().leaves.insert(out.back().leaves.end(), b.leaves.begin(), b.leaves.end());
    open = b.continued;
  }
  EXPECT_FALSE(open) << "the last frame listed is continued";
  return out;
}

void expect_records(const db::WalScan& s, const std::vector<Record>& expected) {
  const auto got = records_of(s);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].rewind_size, expected[i].rewind_size) << "record " << i;
    EXPECT_TRUE(got[i].leaves == expected[i].leaves) << "record " << i;
  }
}

/// Sequence numbers: consecutive from the header's first, one per frame.
void expect_consecutive(const db::WalScan& s) {
  std::uint64_t seq = s.header.first_seq;
  for (const db::WalBatch& b : s.batches) EXPECT_EQ(b.seq, seq++);
  EXPECT_EQ(s.next_seq, seq);
}

template <class F>
std::optional<Errc> code_of(F&& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.code();
  }
  return std::nullopt;
}

std::optional<Errc> scan_error(std::span<const std::uint8_t> bytes) {
  return code_of([&] { scan(bytes); });
}

/// Poll `done` for up to five seconds (the background flusher's work).
template <class F>
bool eventually(F done) {
  for (int i = 0; i < 5000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
}

const std::vector<Record> kRecords = {
    {make_leaves(1, 1), {}},   {make_leaves(7, 2), {}}, {make_leaves(300, 3), {}}, {{}, 200},
    {make_leaves(2, 4), {}},   {{}, 0},                 {make_leaves(129, 5), {}},
};

// Little-endian writers for logs built by hand from docs/file-formats.md.
void put32(std::vector<std::uint8_t>& out, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put64(std::vector<std::uint8_t>& out, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

/// A version-1 log (48-byte header, frames of flags 0 or `flags`) holding `batches`.
std::vector<std::uint8_t> version1_log(std::uint64_t first_seq, const std::vector<std::vector<Node>>& batches,
                                       std::uint32_t flags = 0) {
  std::vector<std::uint8_t> out(48, 0);
  std::memcpy(out.data(), "RTREEWAL", 8);
  put32(out, 8, 1);
  put32(out, 12, kParams.arity);
  put32(out, 16, kParams.max_depth);
  out[20] = static_cast<std::uint8_t>(kParams.hash);
  out[21] = static_cast<std::uint8_t>(kParams.node_hash);
  put64(out, 24, 1);  // file id
  put64(out, 32, first_seq);
  put32(out, 44, db::crc32c(out.data(), 44));
  std::uint64_t seq = first_seq;
  for (const auto& batch : batches) {
    const std::size_t at = out.size();
    const std::size_t payload = batch.size() * sizeof(Node);
    out.resize(at + 20 + payload + 4);
    put32(out, at, static_cast<std::uint32_t>(payload));
    put32(out, at + 4, flags);
    put64(out, at + 8, seq++);
    put32(out, at + 16, db::crc32c(out.data() + at, 16));
    std::memcpy(out.data() + at + 20, batch.data(), payload);
    put32(out, at + 20 + payload, db::crc32c(out.data() + at, 20 + payload));
  }
  return out;
}

class WalRoundTrip : public ::testing::TestWithParam<bool> {};  // direct I/O or buffered

}  // namespace

// Batches and rewind records read back as written: sequence numbers, leaves,
// types, rewind sizes, the header's fields.
TEST_P(WalRoundTrip, RecordsReadBackAsWritten) {
  db::FaultInjectionEnv env;
  auto wal = create_writer(env, GetParam(), 41);
  EXPECT_EQ(wal->file_version(), db::kFormatVersion);
  const auto seqs = append_all(*wal, kRecords);
  for (std::size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], 41 + i);
  EXPECT_EQ(wal->last_seq(), 47u);
  wal->flush_all();
  EXPECT_EQ(wal->durable_seq(), 47u);
  const auto& bytes = env.contents(kLog);
  if (GetParam()) EXPECT_EQ(bytes.size() % 4096, 0u) << "direct writes end on a block boundary";
  const auto s = scan(bytes, 41);
  EXPECT_EQ(s.header.version, db::kFormatVersion);
  EXPECT_EQ(s.header.file_id, 1u);
  EXPECT_EQ(s.header.first_seq, 41u);
  EXPECT_EQ(s.header.db_id, kDbId);
  EXPECT_EQ(s.header.params, kParams);
  EXPECT_FALSE(s.header_torn);
  EXPECT_FALSE(s.torn);
  expect_records(s, kRecords);
  expect_consecutive(s);
  EXPECT_EQ(s.next_seq, 48u);
  for (const auto& b : s.batches) EXPECT_FALSE(b.continued);
  // The frames as the format says: header, payload, trailer back to back.
  std::uint64_t frame_bytes = 0;
  for (const Record& r : kRecords) frame_bytes += 24 + (r.rewind_size ? 32 : r.leaves.size() * 32);
  EXPECT_EQ(s.valid_bytes, db::kWalHeaderBytes + frame_bytes);
  // The leaves are views of the bytes scanned, not copies.
  EXPECT_EQ(reinterpret_cast<const std::uint8_t*>(s.batches[0].leaves.data()), bytes.data() + db::kWalHeaderBytes + 20);
  // The first sequence number is checked when the caller knows it.
  EXPECT_EQ(code_of([&] { scan(bytes, 40); }), Errc::corruption);
}

// Each flush continues after the last frame (over a direct write's block
// padding), and a writer reopened on the scanned end appends after it.
TEST_P(WalRoundTrip, FlushesAndReopensAppendInOrder) {
  db::FaultInjectionEnv env;
  std::vector<Record> written;
  {
    auto wal = create_writer(env, GetParam());
    for (std::size_t i = 0; i < 20; ++i) {
      written.push_back({make_leaves(1 + i * 37 % 150, 100 + i), {}});
      wal->append(written.back().leaves);
      if (i % 3 != 0) wal->flush_all();
    }
    wal->flush_all();
  }
  auto s = scan(env.contents(kLog));
  expect_records(s, written);
  expect_consecutive(s);
  {
    db::WalWriter wal(&env, kDir, kParams, kDbId, 1, s.next_seq, s.valid_bytes, false, GetParam());
    for (std::size_t i = 0; i < 5; ++i) {
      written.push_back({make_leaves(3 + i, 200 + i), {}});
      EXPECT_EQ(wal.append(written.back().leaves), s.next_seq + i);
      wal.flush_all();
    }
    written.push_back({{}, 17});
    wal.append_rewind(17);
    wal.flush_all();
  }
  s = scan(env.contents(kLog));
  expect_records(s, written);
  expect_consecutive(s);
  EXPECT_FALSE(s.torn);
}

// An empty log is its header (and, written direct, padding): no batches,
// nothing torn, the next frame is the header's first sequence number.
TEST_P(WalRoundTrip, EmptyLog) {
  db::FaultInjectionEnv env;
  auto wal = create_writer(env, GetParam(), 9);
  wal->flush_all();
  const auto s = scan(env.contents(kLog));
  EXPECT_FALSE(s.header_torn);
  EXPECT_TRUE(s.batches.empty());
  EXPECT_FALSE(s.torn);
  EXPECT_EQ(s.valid_bytes, db::kWalHeaderBytes);
  EXPECT_EQ(s.next_seq, 9u);
  EXPECT_EQ(wal->durable_seq(), 8u);
}

// Crashes (FaultInjectionEnv::crash: unsynced bytes lost, or kept up to a
// random sector boundary) of the writer `make` creates, for 40 seeds: the
// log at `log` (numbered from `first_seq`; 0: any) holds a prefix of the
// records, at least every one flushed; never corruption.
template <class MakeWriter>
void expect_crashes_leave_a_prefix(MakeWriter make, const std::string& log, std::uint64_t first_seq) {
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    db::FaultInjectionEnv env;
    std::vector<Record> written;
    std::size_t flushed = 0;
    {
      std::unique_ptr<db::WalWriter> wal = make(env);
      std::mt19937_64 rng(seed);
      const bool write_unsynced = seed % 2 == 0;
      if (write_unsynced) wal->start_interval(std::chrono::hours(1));  // flushes on request only
      for (std::size_t i = 0; i < 12; ++i) {
        written.push_back(rng() % 5 == 0 ? Record{{}, rng() % 100} : Record{make_leaves(1 + rng() % 200, rng()), {}});
        append_all(*wal, {written.back()});
        if (rng() % 3 == 0) {
          wal->flush_all();
          flushed = written.size();
        }
      }
      // Written but not synced: the crash may keep part of it (a torn write).
      if (write_unsynced && wal->durable_seq() < wal->last_seq()) {
        const std::uint64_t before = env.operations();
        wal->request_flush();
        EXPECT_TRUE(eventually([&] { return env.operations() > before; }));
        wal->stop();
      }
      env.crash(seed);
    }
    const auto s = scan(env.contents(log), first_seq);
    const auto got = records_of(s);
    ASSERT_GE(got.size(), flushed);
    ASSERT_LE(got.size(), written.size());
    expect_records(s, std::vector<Record>(written.begin(), written.begin() + static_cast<std::ptrdiff_t>(got.size())));
    expect_consecutive(s);
  }
}

TEST_P(WalRoundTrip, CrashesLeaveAPrefixOfTheRecords) {
  expect_crashes_leave_a_prefix([&](db::FaultInjectionEnv& env) { return create_writer(env, GetParam()); }, kLog, 0);
}

// A recycled log: wal-1 written with `first_use` (sequence numbers from 1)
// and made the spare, as a checkpoint leaves it; then a writer creating
// wal-2 (numbers from `next_seq`, after the first use's) reuses it.
const std::string kLog2 = kDir + "/" + db::wal_name(2);
std::unique_ptr<db::WalWriter> recycled_writer(db::FaultInjectionEnv& env, bool direct, const std::vector<Record>& first_use,
                                               std::uint64_t next_seq) {
  {
    auto wal = create_writer(env, direct);
    append_all(*wal, first_use);
    wal->flush_all();
  }
  env.rename(kLog, kDir + "/" + db::kSpareLogName);
  env.sync_dir(kDir);
  return std::make_unique<db::WalWriter>(&env, kDir, kParams, kDbId, 2, next_seq, 0, true, direct);
}

std::vector<Record> first_use_records(std::size_t n) {
  std::vector<Record> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back({make_leaves(5 + i * 53 % 200, 900 + i), {}});
  return out;
}

// The spare becomes the next log in place: its header says how many bytes
// the file held, the earlier use's frames after this log's end read as the
// end (their sequence numbers are lower than the header's first), a writer
// reopened there continues, and a log longer than the spare grows the file.
TEST_P(WalRoundTrip, RecycledLogEndsWhereTheEarlierUseShows) {
  db::FaultInjectionEnv env;
  const auto first_use = first_use_records(30);
  auto wal = recycled_writer(env, GetParam(), first_use, 100);
  const std::uint64_t spare_bytes = env.contents(kLog2).size();
  EXPECT_FALSE(env.exists(kDir + "/" + db::kSpareLogName));
  EXPECT_FALSE(env.exists(kLog));
  append_all(*wal, kRecords);
  wal->flush_all();
  EXPECT_EQ(env.contents(kLog2).size(), spare_bytes) << "the log rewrites the spare's blocks";
  auto s = scan(env.contents(kLog2), 100);
  EXPECT_EQ(s.header.version, db::kFormatVersion);
  EXPECT_EQ(s.header.file_id, 2u);
  EXPECT_GT(s.header.recycled_bytes, db::kWalHeaderBytes);
  EXPECT_EQ(s.header.recycled_bytes, spare_bytes);
  EXPECT_TRUE(db::is_recycled_log(env.contents(kLog2)));
  expect_records(s, kRecords);
  expect_consecutive(s);
  EXPECT_FALSE(s.torn);
  // Reopened on the scanned end: more records, past the spare's size.
  std::vector<Record> written = kRecords;
  wal.reset();
  {
    db::WalWriter more(&env, kDir, kParams, kDbId, 2, s.next_seq, s.valid_bytes, false, GetParam());
    for (std::size_t i = 0; i < 40; ++i) {
      written.push_back({make_leaves(50 + i, 300 + i), {}});
      more.append(written.back().leaves);
      if (i % 7 == 0) more.flush_all();
    }
    more.flush_all();
  }
  EXPECT_GT(env.contents(kLog2).size(), spare_bytes);
  s = scan(env.contents(kLog2), 100);
  expect_records(s, written);
  expect_consecutive(s);
  EXPECT_FALSE(s.torn);
  // Without a spare (or with recycling off) a new file is created.
  db::FaultInjectionEnv fresh;
  fresh.create_dir(kDir);
  db::WalWriter plain(&fresh, kDir, kParams, kDbId, 2, 1, 0, true, GetParam(), db::kFormatVersion, false);
  EXPECT_EQ(scan(fresh.contents(kLog2)).header.recycled_bytes, 0u);
}

// Crashes while writing over the spare (unsynced bytes lost, or torn at a
// sector, the earlier use's bytes showing through): a prefix of the records
// holding every one flushed, never corruption.
TEST_P(WalRoundTrip, CrashesOfARecycledLogLeaveAPrefix) {
  expect_crashes_leave_a_prefix(
      [&](db::FaultInjectionEnv& env) { return recycled_writer(env, GetParam(), first_use_records(25), 500); }, kLog2, 500);
}

INSTANTIATE_TEST_SUITE_P(Wal, WalRoundTrip, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "direct" : "buffered"; });

// A batch of more than 2^21 leaves is split into frames of at most 64 MiB,
// all but the last continued, and reads back whole; cut anywhere before its
// last frame ends, it is not listed at all.
TEST(Wal, LargeBatchSpansFramesAndIsAllOrNothing) {
  const std::size_t per_frame = db::kMaxFramePayload / sizeof(Node);
  ASSERT_EQ(per_frame, std::size_t{1} << 21);
  std::vector<Node> big(per_frame + 5);
  for (std::size_t i = 0; i < big.size(); ++i) {
    std::memcpy(big[i].data(), &i, sizeof i);
    big[i][31] = 0xa5;
  }
  const auto dir = fs::temp_directory_path() / ("rotortree-wal-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::vector<Record> written;
  written.push_back({make_leaves(3, 7), {}});
  written.push_back({std::move(big), {}});
  written.push_back({make_leaves(2, 8), {}});
  {
    auto wal = create_writer(*db::Env::posix(), true, 1, dir.string());
    EXPECT_EQ(append_all(*wal, written), (std::vector<std::uint64_t>{1, 3, 4}));
    wal->flush_all();
  }
  auto bytes = db::read_whole_file(*db::Env::posix(), (dir / db::wal_name(1)).string());
  fs::remove_all(dir);
  auto s = scan(bytes);
  ASSERT_EQ(s.batches.size(), 4u);
  EXPECT_EQ(s.batches[1].leaves.size(), per_frame);
  EXPECT_EQ(s.batches[2].leaves.size(), 5u);
  EXPECT_TRUE(s.batches[1].continued);
  EXPECT_FALSE(s.batches[2].continued);
  EXPECT_FALSE(s.batches[3].continued);
  expect_records(s, written);
  expect_consecutive(s);

  // Cut inside the big batch: at each of its frame boundaries and inside each frame.
  const std::uint64_t first_end = db::kWalHeaderBytes + 24 + 3 * 32;
  const std::uint64_t frame_end = first_end + 24 + db::kMaxFramePayload;
  // (The length field starts with zero bytes: a cut after them leaves what reads as padding.)
  for (std::uint64_t cut : {first_end + 4, first_end + 24 + 4096, frame_end - 1, frame_end, frame_end + 30,
                            frame_end + 24 + 5 * 32 - 1}) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    s = scan(std::span<const std::uint8_t>(bytes).first(cut));
    EXPECT_EQ(s.batches.size(), 1u);
    EXPECT_EQ(s.valid_bytes, first_end);
    EXPECT_EQ(s.next_seq, 2u);
    EXPECT_TRUE(s.torn);
    expect_records(s, {written[0]});
  }
  s = scan(std::span<const std::uint8_t>(bytes).first(frame_end + 24 + 5 * 32));
  EXPECT_EQ(records_of(s).size(), 2u);
}

// The log cut at every byte offset of its last frame (a torn tail, as a
// buffered write leaves it): exactly the earlier records, the cut one not
// listed, the rest reported torn.
TEST(Wal, TornTailAtEveryOffsetOfTheLastFrame) {
  for (const bool rewind_last : {false, true}) {
    SCOPED_TRACE(rewind_last ? "last record a rewind" : "last record leaves");
    db::FaultInjectionEnv env;
    std::vector<Record> written = {{make_leaves(3, 1), {}}, {{}, 2}, {make_leaves(5, 2), {}}};
    const Record last = rewind_last ? Record{{}, 6} : Record{make_leaves(4, 3), {}};
    {
      auto wal = create_writer(env, false);
      append_all(*wal, written);
      append_all(*wal, {last});
      wal->flush_all();
    }
    const auto& bytes = env.contents(kLog);
    const std::size_t last_bytes = 24 + (rewind_last ? 32 : 4 * 32);
    const std::size_t last_begin = bytes.size() - last_bytes;
    for (std::size_t cut = last_begin; cut < bytes.size(); ++cut) {
      SCOPED_TRACE("cut at " + std::to_string(cut));
      const auto s = scan(std::span<const std::uint8_t>(bytes).first(cut));
      expect_records(s, written);
      EXPECT_EQ(s.valid_bytes, last_begin);
      EXPECT_EQ(s.next_seq, 4u);
      EXPECT_EQ(s.torn, cut > last_begin);
    }
    auto all = written;
    all.push_back(last);
    expect_records(scan(bytes), all);
  }
}

// A direct write torn at a sector boundary over the block padding leaves
// zeros from that boundary on: the end of the log, not corruption.
TEST(Wal, DirectWriteTornAtASectorIsATail) {
  db::FaultInjectionEnv env;
  const std::vector<Record> written = {{make_leaves(3, 1), {}}, {make_leaves(40, 2), {}}};
  {
    auto wal = create_writer(env, true);
    append_all(*wal, written);
    wal->flush_all();
  }
  auto bytes = env.contents(kLog);
  ASSERT_EQ(bytes.size(), 4096u);
  const std::size_t second_begin = db::kWalHeaderBytes + 24 + 3 * 32;  // 192; the second frame ends at 1500
  for (std::size_t boundary : {512u, 1024u}) {
    auto torn = bytes;
    std::fill(torn.begin() + static_cast<std::ptrdiff_t>(boundary), torn.end(), 0);
    const auto s = scan(torn);
    expect_records(s, {written[0]});
    EXPECT_EQ(s.valid_bytes, second_begin);
    EXPECT_TRUE(s.torn);
  }
  // The same frame damaged but followed by data is corruption.
  bytes[700] ^= 1;
  EXPECT_EQ(scan_error(bytes), Errc::corruption);
}

// A flipped bit anywhere in the header or in a frame that more data follows
// is corruption (naming the file and an offset), never a shorter log.
TEST(Wal, FlippedByteIsCorruption) {
  db::FaultInjectionEnv env;
  std::vector<Record> written = {{make_leaves(2, 1), {}}, {{}, 1}, {make_leaves(3, 2), {}}, {make_leaves(1, 3), {}}};
  {
    auto wal = create_writer(env, false);
    append_all(*wal, written);
    wal->flush_all();
  }
  const auto bytes = env.contents(kLog);
  const std::size_t last_begin = bytes.size() - (24 + 32);
  ASSERT_NE(bytes.back(), 0);  // the last frame ends in a nonzero byte: no sector of zeros after it
  for (std::size_t at = 0; at < bytes.size(); ++at) {
    for (const std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x80}}) {
      auto damaged = bytes;
      damaged[at] ^= mask;
      try {
        scan(damaged);
        ADD_FAILURE() << "flip at byte " << at << " not detected";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::corruption) << "byte " << at << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find(kLog), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("byte offset"), std::string::npos) << e.what();
      }
    }
  }
  // A rewind record with a nonzero reserved byte, or continued, is malformed.
  const std::size_t rewind_begin = db::kWalHeaderBytes + 24 + 2 * 32;
  for (const std::size_t at : {rewind_begin + 20 + 8, rewind_begin + 20 + 31}) {
    auto damaged = bytes;
    damaged[at] = 1;
    put32(damaged, rewind_begin + 20 + 32, db::crc32c(damaged.data() + rewind_begin, 20 + 32));
    EXPECT_EQ(scan_error(damaged), Errc::corruption) << at;
  }
  auto continued = bytes;
  put32(continued, rewind_begin + 4, db::kRecordRewind << 8 | db::kFrameContinued);
  put32(continued, rewind_begin + 16, db::crc32c(continued.data() + rewind_begin, 16));
  put32(continued, rewind_begin + 20 + 32, db::crc32c(continued.data() + rewind_begin, 20 + 32));
  EXPECT_EQ(scan_error(continued), Errc::corruption);
  // An unknown record type (consistent CRCs) is refused, not skipped.
  auto unknown = bytes;
  put32(unknown, last_begin + 4, 3u << 8);
  put32(unknown, last_begin + 16, db::crc32c(unknown.data() + last_begin, 16));
  put32(unknown, last_begin + 20 + 32, db::crc32c(unknown.data() + last_begin, 20 + 32));
  EXPECT_EQ(scan_error(unknown), Errc::corruption);
}

// In a recycled log a damaged frame that a frame of this log follows is
// corruption naming both offsets; damage in the last frame (nothing of this
// log after it) cannot be told from a torn write over the spare's bytes and
// ends the log there; a batch cut short there is torn (recovery truncates
// it, so its whole frames are not taken for later ones of this log).
TEST(Wal, RecycledLogDamageBeforeItsFramesIsCorruption) {
  for (const bool direct : {true, false}) {
    SCOPED_TRACE(direct ? "direct" : "buffered");
    db::FaultInjectionEnv env;
    auto wal = recycled_writer(env, direct, first_use_records(30), 100);
    const std::vector<Record> written = {{make_leaves(3, 1), {}}, {{}, 2}, {make_leaves(9, 2), {}}, {make_leaves(4, 3), {}}};
    append_all(*wal, written);
    wal->flush_all();
    const auto bytes = env.contents(kLog2);
    const std::size_t last_begin = db::kWalHeaderBytes + 24 + 3 * 32 + 24 + 32 + 24 + 9 * 32;
    for (std::size_t at = db::kWalHeaderBytes; at < last_begin; ++at) {
      auto damaged = bytes;
      damaged[at] ^= 0x01;
      try {
        scan(damaged, 100);
        ADD_FAILURE() << "flip at byte " << at << " not detected";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::corruption) << e.what();
        EXPECT_NE(std::string(e.what()).find("follows it at byte offset"), std::string::npos) << at << ": " << e.what();
      }
    }
    for (std::size_t at = last_begin; at < last_begin + 24 + 4 * 32; ++at) {
      auto damaged = bytes;
      damaged[at] ^= 0x01;
      const auto s = scan(damaged, 100);
      expect_records(s, {written[0], written[1], written[2]});
      EXPECT_EQ(s.valid_bytes, last_begin);
      EXPECT_EQ(s.torn, at >= last_begin + 20) << at << ": a frame header of this log, cut short, is torn";
    }
  }
  // A large batch (two frames) whose second frame was cut over the spare.
  db::FaultInjectionEnv env;
  const std::size_t per_frame = db::kMaxFramePayload / sizeof(Node);
  auto wal = recycled_writer(env, false, {{make_leaves(per_frame + 1000, 77), {}}}, 100);
  const auto small = make_leaves(2, 5);
  wal->append(small);
  wal->append(make_leaves(per_frame + 3, 6));
  wal->flush_all();
  auto bytes = env.contents(kLog2);
  const std::size_t small_end = db::kWalHeaderBytes + 24 + 2 * 32;
  const std::size_t second_frame = small_end + 24 + db::kMaxFramePayload;
  ASSERT_LT(second_frame + 24 + 3 * 32, scan(bytes, 100).header.recycled_bytes);
  bytes[second_frame + 20 + 3 * 32] ^= 1;  // its trailer
  const auto s = scan(bytes, 100);
  expect_records(s, {{small, {}}});
  EXPECT_EQ(s.valid_bytes, small_end);
  EXPECT_TRUE(s.torn);
}

// Version-2 logs (64-byte header, no recycled_bytes) are read; a writer
// appends to one in version 2 and rotates to version 3.
TEST(Wal, Version2LogsAreReadAndAppendedTo) {
  db::FaultInjectionEnv env;
  {
    auto wal = create_writer(env, false, 7);
    append_all(*wal, kRecords);
    wal->flush_all();
  }
  db::WalHeader v2;
  v2.params = kParams;
  v2.file_id = 1;
  v2.first_seq = 7;
  v2.db_id = kDbId;
  v2.version = 2;
  auto bytes = db::encode_wal_header(v2);
  ASSERT_EQ(bytes.size(), 64u);
  const auto& v3 = env.contents(kLog);
  bytes.insert(bytes.end(), v3.begin() + db::kWalHeaderBytes, v3.end());
  auto s = scan(bytes, 7);
  EXPECT_EQ(s.header.version, 2u);
  EXPECT_EQ(s.header.recycled_bytes, 0u);
  EXPECT_FALSE(db::is_recycled_log(bytes));
  expect_records(s, kRecords);
  env.contents(kLog) = bytes;
  {
    db::WalWriter wal(&env, kDir, kParams, kDbId, 1, s.next_seq, s.valid_bytes, false, false, 2);
    EXPECT_EQ(wal.file_version(), 2u);
    wal.append(make_leaves(3, 9));
    wal.flush_all();
    EXPECT_EQ(scan(env.contents(kLog)).batches.size(), kRecords.size() + 1);
    wal.rotate();
    EXPECT_EQ(wal.file_version(), db::kFormatVersion);
  }
  // A version this build does not know is refused by number.
  auto future = bytes;
  future[8] = 4;
  try {
    scan(future);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported log format version 4"), std::string::npos) << e.what();
  }
}

// A file shorter than its header was cut while it was created: header_torn,
// no batches, no error.
TEST(Wal, FileCutInsideItsHeader) {
  db::FaultInjectionEnv env;
  create_writer(env, false);
  const auto bytes = env.contents(kLog);
  ASSERT_EQ(bytes.size(), db::kWalHeaderBytes);
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    const auto s = scan(std::span<const std::uint8_t>(bytes).first(cut));
    EXPECT_TRUE(s.header_torn) << cut;
    EXPECT_TRUE(s.batches.empty());
  }
  // Another database's parameters are refused as such.
  EXPECT_EQ(code_of([&] { db::scan_wal(bytes, kLog, Params{.arity = 8}, 0); }), Errc::parameter_mismatch);
}

// Version-1 logs (48-byte header, no identity, frames of record type 0),
// built by hand from docs/file-formats.md, are read; a writer appends to one
// in version 1 (no rewind records) until it rotates to a version-2 log.
TEST(Wal, Version1LogsAreReadAndAppendedTo) {
  const std::vector<std::vector<Node>> batches = {make_leaves(2, 1), make_leaves(9, 2)};
  const auto v1 = version1_log(5, batches);
  auto s = scan(v1, 5);
  EXPECT_EQ(s.header.version, 1u);
  EXPECT_EQ(s.header.db_id, db::DbId{});
  EXPECT_EQ(s.header.first_seq, 5u);
  EXPECT_EQ(s.valid_bytes, v1.size());
  EXPECT_EQ(s.next_seq, 7u);
  expect_records(s, {{batches[0], {}}, {batches[1], {}}});
  for (const auto& b : s.batches) EXPECT_EQ(b.type, db::kRecordLeaves);
  // Its frames carry no record type: one that does is corruption.
  EXPECT_EQ(scan_error(version1_log(5, batches, std::uint32_t{db::kRecordLeaves} << 8)), Errc::corruption);
  // Cut inside its header (48 bytes): torn while created.
  EXPECT_TRUE(scan(std::span<const std::uint8_t>(v1).first(47)).header_torn);

  for (const bool direct : {true, false}) {
    SCOPED_TRACE(direct ? "direct" : "buffered");
    db::FaultInjectionEnv env;
    env.create_dir(kDir);
    env.open(kLog, db::OpenMode::create_truncate)->append(v1);
    const auto more = make_leaves(4, 3);
    {
      db::WalWriter wal(&env, kDir, kParams, kDbId, 1, s.next_seq, s.valid_bytes, false, direct, 1);
      EXPECT_EQ(wal.file_version(), 1u);
      EXPECT_EQ(code_of([&] { wal.append_rewind(1); }), Errc::invalid_argument);
      EXPECT_EQ(wal.append(more), 7u);
      wal.flush_all();
      const auto appended = scan(env.contents(kLog));
      EXPECT_EQ(appended.header.version, 1u);
      expect_records(appended, {{batches[0], {}}, {batches[1], {}}, {more, {}}});
      expect_consecutive(appended);

      EXPECT_EQ(wal.rotate(), 2u);
      EXPECT_EQ(wal.file_id(), 2u);
      EXPECT_EQ(wal.file_version(), db::kFormatVersion);
      EXPECT_EQ(wal.append_rewind(3), 8u);
      wal.flush_all();
    }
    const auto rotated = db::scan_wal(env.contents(kDir + "/" + db::wal_name(2)), "wal 2", kParams, 8);
    EXPECT_EQ(rotated.header.version, db::kFormatVersion);
    EXPECT_EQ(rotated.header.db_id, kDbId);
    EXPECT_EQ(rotated.header.file_id, 2u);
    expect_records(rotated, {Record{{}, 3}});
  }
}

// Durability: appended records reach the file only on a flush; flush_to(seq)
// makes seq durable (it survives a crash), durable_seq says how far.
TEST(Wal, FlushMakesRecordsDurable) {
  db::FaultInjectionEnv env;
  auto wal = create_writer(env, true);
  const auto a = make_leaves(5, 1), b = make_leaves(6, 2), c = make_leaves(7, 3);
  EXPECT_EQ(wal->append(a), 1u);
  EXPECT_EQ(wal->append(b), 2u);
  EXPECT_EQ(wal->last_seq(), 2u);
  EXPECT_EQ(wal->durable_seq(), 0u);
  EXPECT_TRUE(scan(env.contents(kLog)).batches.empty()) << "appended bytes are buffered until a flush";
  wal->flush_to(1);
  EXPECT_GE(wal->durable_seq(), 1u);
  EXPECT_LE(wal->durable_seq(), wal->last_seq());
  wal->flush_to(2);
  EXPECT_EQ(wal->durable_seq(), 2u);
  wal->flush_to(1);  // already durable: nothing to do
  EXPECT_EQ(wal->append(c), 3u);
  EXPECT_EQ(wal->durable_seq(), 2u);
  env.crash();  // the unflushed third batch is lost, the first two are not
  expect_records(scan(env.contents(kLog)), {{a, {}}, {b, {}}});
}

// The background flusher: request_flush writes what is buffered (not
// synced), the interval makes it durable; stop() ends the thread.
TEST(Wal, BackgroundFlusher) {
  db::FaultInjectionEnv env;
  auto wal = create_writer(env, true);
  wal->start_interval(std::chrono::hours(1));
  const auto a = make_leaves(3, 1);
  wal->append(a);
  const std::uint64_t before = env.operations();
  wal->request_flush();
  EXPECT_TRUE(eventually([&] { return env.operations() > before; }));
  wal->stop();  // joined: its write is complete
  EXPECT_EQ(wal->durable_seq(), 0u) << "a requested flush writes, the interval syncs";
  expect_records(scan(env.contents(kLog)), {{a, {}}});

  db::FaultInjectionEnv env2;
  auto timed = create_writer(env2, false);
  timed->start_interval(std::chrono::milliseconds(1));
  const auto b = make_leaves(4, 2);
  const std::uint64_t seq = timed->append(b);
  EXPECT_TRUE(eventually([&] { return timed->durable_seq() >= seq; }));
  timed->stop();
  env2.crash();
  expect_records(scan(env2.contents(kLog)), {{b, {}}});
}

// A write or sync that fails is reported to the flush that hit it with its
// own code; the writer is poisoned from then on: check_writable throws that
// code once, then Errc::poisoned; flushes rethrow it, rotation refuses.
TEST(Wal, FailedWritePoisonsTheWriter) {
  for (const bool direct : {true, false}) {
    for (const auto& [fault, only_syncs, code] :
         {std::tuple{Fault::no_space, false, Errc::no_space}, std::tuple{Fault::io_error, false, Errc::io_error},
          std::tuple{Fault::short_write, false, Errc::no_space}, std::tuple{Fault::io_error, true, Errc::io_error}}) {
      SCOPED_TRACE(std::string(direct ? "direct " : "buffered ") + (only_syncs ? "sync " : "write ") +
                   std::to_string(static_cast<int>(fault)));
      db::FaultInjectionEnv env;
      auto wal = create_writer(env, direct);
      const auto a = make_leaves(2, 1);
      wal->append(a);
      wal->flush_all();
      env.set_fail_only_syncs(only_syncs);
      env.fail_at(1, fault);
      wal->append(make_leaves(3, 2));
      try {
        wal->flush_all();
        ADD_FAILURE() << "the failed flush returned";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), code) << e.what();
      }
      EXPECT_EQ(wal->durable_seq(), 1u);
      ASSERT_TRUE(wal->error().has_value());
      EXPECT_EQ(wal->error()->code(), code);
      env.clear_faults();  // the file system recovered; the writer stays poisoned
      EXPECT_EQ(code_of([&] { wal->check_writable(); }), code);
      EXPECT_EQ(code_of([&] { wal->check_writable(); }), Errc::poisoned);
      EXPECT_EQ(code_of([&] { wal->flush_all(); }), code);
      EXPECT_EQ(code_of([&] { wal->rotate(); }), code);
      EXPECT_EQ(wal->durable_seq(), 1u);
      wal.reset();
      // What reached the file: the durable batch, then at most a torn tail.
      const auto s = scan(env.contents(kLog));
      EXPECT_TRUE(records_of(s).size() == 1 || records_of(s).size() == 2);
      EXPECT_TRUE(s.batches[0].leaves.size() == 2 && std::equal(a.begin(), a.end(), s.batches[0].leaves.begin()));
    }
  }
}

// The background flusher's failure poisons the writer the same way.
TEST(Wal, BackgroundFlushFailurePoisons) {
  db::FaultInjectionEnv env;
  auto wal = create_writer(env, true);
  env.fail_at(1, Fault::io_error);
  wal->start_interval(std::chrono::milliseconds(1));
  wal->append(make_leaves(2, 1));
  EXPECT_TRUE(eventually([&] { return wal->error().has_value(); }));
  wal->stop();
  EXPECT_EQ(code_of([&] { wal->check_writable(); }), Errc::io_error);
  EXPECT_EQ(code_of([&] { wal->check_writable(); }), Errc::poisoned);
  EXPECT_EQ(code_of([&] { wal->flush_all(); }), Errc::io_error);
  EXPECT_EQ(wal->durable_seq(), 0u);
}

// A writer whose file cannot be created reports the Env's error.
TEST(Wal, CreateFailureIsReported) {
  db::FaultInjectionEnv env;
  env.create_dir(kDir);
  env.fail_at(1, Fault::no_space);
  EXPECT_EQ(code_of([&] { db::WalWriter wal(&env, kDir, kParams, kDbId, 1, 1, 0, true, true); }), Errc::no_space);
}

// The real file system (direct I/O where it allows it, e.g. not tmpfs).
TEST(Wal, PosixRoundTrip) {
  const auto dir = fs::temp_directory_path() / ("rotortree-wal-posix-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  for (const bool direct : {true, false}) {
    {
      auto wal = create_writer(*db::Env::posix(), direct, 1, dir.string());
      append_all(*wal, kRecords);
      wal->flush_all();
      EXPECT_EQ(wal->durable_seq(), kRecords.size());
    }
    const auto bytes = db::read_whole_file(*db::Env::posix(), (dir / db::wal_name(1)).string());
    const auto s = scan(bytes);
    expect_records(s, kRecords);
    expect_consecutive(s);
    EXPECT_FALSE(s.torn);
  }
  fs::remove_all(dir);
}
