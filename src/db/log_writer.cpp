#include "db/log_writer.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "rotortree/db/config.hpp"
#include "rotortree/storage.hpp"

namespace rotortree::db {
namespace {

constexpr std::size_t kSlabBytes = detail::kHugeSlab;

std::uint8_t* new_slab() { return static_cast<std::uint8_t*>(detail::allocate_slab(kSlabBytes, false)); }

}  // namespace

WalWriter::WalWriter(Env* env, std::string dir, TreeParams params, DbId db_id, std::uint64_t file_id,
                     std::uint64_t next_seq, std::uint64_t valid_bytes, bool create, bool direct,
                     std::uint32_t file_version, bool recycle)
    : env_(env), dir_(std::move(dir)), params_(params), db_id_(db_id), file_version_(create ? kFormatVersion : file_version),
      want_direct_(direct), recycle_(recycle), file_id_(file_id) {
  last_seq_ = next_seq - 1;
  buffered_last_seq_ = next_seq - 1;
  durable_seq_ = next_seq - 1;
  open_file(create, valid_bytes);
}

WalWriter::~WalWriter() {
  stop();
  release(slabs_);
}

void WalWriter::release(std::vector<Slab>& slabs) noexcept {
  for (const Slab& slab : slabs) detail::release_slab(slab.memory, kSlabBytes, false);
  slabs.clear();
}

void WalWriter::buffer_append_locked(const std::uint8_t* data, std::size_t size) {
  while (size > 0) {
    if (slabs_.empty() || slabs_.back().used == kSlabBytes) {
      slabs_.reserve(slabs_.size() + 1);
      slabs_.push_back({new_slab(), 0});
    }
    Slab& slab = slabs_.back();
    const std::size_t n = std::min(size, kSlabBytes - slab.used);
    std::memcpy(slab.memory + slab.used, data, n);
    slab.used += n;
    pending_ += n;
    data += n;
    size -= n;
  }
}

void WalWriter::open_file(bool create, std::uint64_t valid_bytes) {
  const std::string path = dir_ + "/" + wal_name(file_id_);
  const std::string spare = dir_ + "/" + kSpareLogName;
  auto open = [&](const std::string& name, OpenMode mode) {
    return want_direct_ ? env_->open_direct(name, mode) : env_->open(name, mode);
  };
  // A new log reuses the spare: its header names the bytes the file held
  // before (the earlier use's frames read as the end of this log), and
  // the file gets the log's name only once that header is synced.
  std::optional<std::uint64_t> recycled;
  if (create) {
    if (recycle_ && env_->exists(spare)) {
      file_ = open(spare, OpenMode::read_write);
      recycled = file_->size();
    } else {
      file_ = open(path, OpenMode::create_truncate);
    }
    valid_bytes = 0;
  } else {
    file_ = open(path, OpenMode::read_write);
  }
  alignment_ = file_->write_alignment();
  // The start of the partial last block, which the next direct write rewrites.
  const std::uint64_t base = valid_bytes / alignment_ * alignment_;
  std::vector<std::uint8_t> head(static_cast<std::size_t>(valid_bytes - base));
  if (!head.empty()) {
    auto reader = env_->open(path, OpenMode::read);
    if (reader->read_at(base, head) != head.size())
      throw Error(Errc::io_error, "read " + path + ": shorter than its recovered length");
  }
  {
    std::lock_guard lock(buffer_mutex_);
    release(slabs_);
    base_ = base;
    pending_ = 0;
    if (!head.empty()) buffer_append_locked(head.data(), head.size());
    head_ = head.size();  // already in the file: not pending
    pending_ = 0;
  }
  if (create) {
    WalHeader fields;
    fields.params = params_;
    fields.file_id = file_id_;
    fields.first_seq = last_seq_.load() + 1;
    fields.db_id = db_id_;
    fields.recycled_bytes = recycled.value_or(0);
    const auto header = encode_wal_header(fields);
    {
      std::lock_guard lock(buffer_mutex_);
      file_version_ = kFormatVersion;
      buffer_append_locked(header.data(), header.size());
    }
    write_buffered();
    file_->sync();
    if (recycled) env_->rename(spare, path);
    env_->sync_dir(dir_);
  }
}

void WalWriter::start_interval(std::chrono::microseconds interval) {
  thread_ = std::thread([this, interval] {
    std::unique_lock lock(thread_mutex_);
    while (!stopping_) {
      thread_cv_.wait_for(lock, interval, [this] { return stopping_ || flush_requested_; });
      if (stopping_) break;
      // A request (a large batch was appended) only writes what is buffered,
      // so the disk works while the tree hashes; the interval also syncs.
      const bool requested = std::exchange(flush_requested_, false);
      lock.unlock();
      try {
        if (!failed_.load(std::memory_order_acquire)) {
          if (requested) {
            std::lock_guard flush_lock(flush_mutex_);
            if (!failed_.load(std::memory_order_acquire)) write_buffered();
          } else if (durable_seq() < last_seq()) {
            flush_all();
          }
        }
      } catch (const Error& e) {
        set_error(e);  // reported to the next caller and to waiting tokens
      } catch (...) {
      }
      lock.lock();
    }
  });
}

void WalWriter::request_flush() {
  {
    std::lock_guard lock(thread_mutex_);
    flush_requested_ = true;
  }
  thread_cv_.notify_all();
}

void WalWriter::stop() {
  {
    std::lock_guard lock(thread_mutex_);
    stopping_ = true;
  }
  thread_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WalWriter::set_error(const Error& error) {
  std::lock_guard lock(error_mutex_);
  if (!error_) error_ = error;
  failed_.store(true, std::memory_order_release);
}

std::optional<Error> WalWriter::error() const {
  std::lock_guard lock(error_mutex_);
  return error_;
}

void WalWriter::check_writable() {
  if (!failed_.load(std::memory_order_acquire)) return;
  std::lock_guard lock(error_mutex_);
  if (!error_reported_) {
    error_reported_ = true;
    throw *error_;
  }
  throw Error(Errc::poisoned, std::string("the database refuses writes after an earlier failure (reopen it): ") + error_->what());
}

std::uint64_t WalWriter::append(std::span<const Node> leaves) {
  const std::size_t per_frame = kMaxFramePayload / sizeof(Node);
  std::lock_guard lock(buffer_mutex_);
  std::uint64_t seq = buffered_last_seq_;
  for (std::size_t done = 0; done < leaves.size();) {
    const std::size_t n = std::min(per_frame, leaves.size() - done);
    const auto* payload = reinterpret_cast<const std::uint8_t*>(leaves.data() + done);
    const std::size_t payload_bytes = n * sizeof(Node);
    std::uint8_t header[kFrameHeaderBytes];
    encode_frame_header(header, static_cast<std::uint32_t>(payload_bytes),
                        frame_flags(kRecordLeaves, done + n < leaves.size(), file_version_), ++seq);
    std::uint8_t trailer[kFrameTrailerBytes];
    encode_frame_trailer(trailer, crc32c(payload, payload_bytes, crc32c(header, sizeof header)));
    buffer_append_locked(header, sizeof header);
    buffer_append_locked(payload, payload_bytes);
    buffer_append_locked(trailer, sizeof trailer);
    done += n;
  }
  buffered_last_seq_ = seq;
  last_seq_.store(seq, std::memory_order_release);
  return seq;
}

std::uint64_t WalWriter::append_rewind(std::uint64_t size) {
  std::lock_guard lock(buffer_mutex_);
  if (file_version_ < 2) throw Error(Errc::invalid_argument, "a version-1 log cannot hold a rewind record");
  std::uint8_t payload[sizeof(Node)]{};
  for (int i = 0; i < 8; ++i) payload[i] = static_cast<std::uint8_t>(size >> (8 * i));
  const std::uint64_t seq = buffered_last_seq_ + 1;
  std::uint8_t header[kFrameHeaderBytes];
  encode_frame_header(header, sizeof payload, frame_flags(kRecordRewind, false, file_version_), seq);
  std::uint8_t trailer[kFrameTrailerBytes];
  encode_frame_trailer(trailer, crc32c(payload, sizeof payload, crc32c(header, sizeof header)));
  buffer_append_locked(header, sizeof header);
  buffer_append_locked(payload, sizeof payload);
  buffer_append_locked(trailer, sizeof trailer);
  buffered_last_seq_ = seq;
  last_seq_.store(seq, std::memory_order_release);
  return seq;
}

std::uint32_t WalWriter::file_version() {
  std::lock_guard lock(buffer_mutex_);
  return file_version_;
}

void WalWriter::rethrow_locked() {
  std::lock_guard lock(error_mutex_);
  throw *error_;
}

std::uint64_t WalWriter::write_buffered() {
  std::vector<Slab> taken;
  std::uint64_t at, upto;
  std::size_t bytes;
  {
    std::lock_guard lock(buffer_mutex_);
    upto = buffered_last_seq_;
    if (pending_ == 0) return upto;
    taken.swap(slabs_);
    at = base_;
    bytes = head_ + pending_;
    // The next write starts at the block holding the new end; carry that
    // block's bytes over so it is rewritten whole.
    const std::uint64_t end = at + bytes;
    base_ = end / alignment_ * alignment_;
    head_ = static_cast<std::size_t>(end - base_);
    pending_ = 0;
    const std::size_t from = bytes - head_;
    if (head_ > 0) {
      slabs_.push_back({new_slab(), 0});
      for (std::size_t k = from / kSlabBytes, offset = from % kSlabBytes, left = head_; left > 0; ++k, offset = 0) {
        const std::size_t n = std::min(left, taken[k].used - offset);
        std::memcpy(slabs_.back().memory + slabs_.back().used, taken[k].memory + offset, n);
        slabs_.back().used += n;
        left -= n;
      }
    }
  }
  try {
    Slab& last = taken.back();
    const std::size_t padded = (last.used + alignment_ - 1) / alignment_ * alignment_;
    std::memset(last.memory + last.used, 0, padded - last.used);  // block padding reads as the end of the log
    std::vector<std::span<const std::uint8_t>> pieces;
    pieces.reserve(taken.size());
    for (const Slab& slab : taken) pieces.emplace_back(slab.memory, &slab == &last ? padded : slab.used);
    file_->write_gather(at, pieces);
  } catch (...) {
    release(taken);
    throw;
  }
  release(taken);
  return upto;
}

void WalWriter::flush_to(std::uint64_t seq) {
  if (durable_seq_.load(std::memory_order_acquire) >= seq) return;
  std::lock_guard lock(flush_mutex_);
  if (durable_seq_.load(std::memory_order_acquire) >= seq) return;
  if (failed_.load(std::memory_order_acquire)) rethrow_locked();
  try {
    const std::uint64_t upto = write_buffered();
    file_->sync();
    durable_seq_.store(upto, std::memory_order_release);
  } catch (const Error& e) {
    set_error(e);
    throw;
  }
}

void WalWriter::flush_all() { flush_to(last_seq()); }

std::uint64_t WalWriter::rotate() {
  flush_all();
  std::lock_guard lock(flush_mutex_);
  if (failed_.load(std::memory_order_acquire)) rethrow_locked();
  try {
    ++file_id_;
    open_file(true, 0);
  } catch (const Error& e) {
    set_error(e);
    throw;
  }
  return file_id_;
}

std::uint64_t WalWriter::file_id() const {
  std::lock_guard lock(flush_mutex_);
  return file_id_;
}

}  // namespace rotortree::db

namespace rotortree {

void DurabilityToken::wait() const {
  if (wal_) wal_->flush_to(seq_);
}

bool DurabilityToken::ready() const noexcept { return !wal_ || wal_->durable_seq() >= seq_; }

}  // namespace rotortree
