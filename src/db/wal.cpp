#include "rotortree/db/wal.hpp"

namespace rotortree::db {

WalWriter::WalWriter(Env* env, std::string dir, DbParams params, std::uint64_t file_id, std::uint64_t next_seq,
                     std::uint64_t valid_bytes, bool create)
    : env_(env), dir_(std::move(dir)), params_(params), file_id_(file_id), offset_(valid_bytes) {
  last_seq_ = next_seq - 1;
  buffered_last_seq_ = next_seq - 1;
  durable_seq_ = next_seq - 1;
  open_file(create);
}

WalWriter::~WalWriter() { stop(); }

void WalWriter::open_file(bool create) {
  const std::string path = dir_ + "/" + wal_name(file_id_);
  if (create) {
    file_ = env_->open(path, OpenMode::create_truncate);
    const auto header = encode_wal_header({params_, file_id_, last_seq_.load() + 1});
    file_->write_at(0, header);
    file_->sync();
    env_->sync_dir(dir_);
    offset_ = header.size();
  } else {
    file_ = env_->open(path, OpenMode::read_write);
  }
}

void WalWriter::start_interval(std::chrono::microseconds interval) {
  thread_ = std::thread([this, interval] {
    std::unique_lock lock(thread_mutex_);
    while (!stopping_) {
      thread_cv_.wait_for(lock, interval, [this] { return stopping_ || flush_requested_; });
      if (stopping_) break;
      flush_requested_ = false;
      lock.unlock();
      try {
        if (!failed_.load(std::memory_order_acquire) && durable_seq() < last_seq()) flush_all();
      } catch (...) {
        // recorded by flush_to; reported to the next caller
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
  throw Error(Errc::closed, std::string("the database refuses writes after an earlier failure: ") + error_->what());
}

WalWriter::Mark WalWriter::mark() {
  std::lock_guard lock(buffer_mutex_);
  return {buffer_.size(), buffered_last_seq_};
}

std::uint64_t WalWriter::append(std::span<const Node> leaves) {
  std::lock_guard lock(buffer_mutex_);
  const std::uint64_t frames = encode_batch(leaves, buffered_last_seq_ + 1, buffer_);
  buffered_last_seq_ += frames;
  last_seq_.store(buffered_last_seq_, std::memory_order_release);
  return buffered_last_seq_;
}

void WalWriter::rollback(Mark mark) {
  std::lock_guard lock(buffer_mutex_);
  buffer_.resize(mark.bytes);
  buffered_last_seq_ = mark.seq;
  last_seq_.store(mark.seq, std::memory_order_release);
}

void WalWriter::rethrow_locked() {
  std::lock_guard lock(error_mutex_);
  throw *error_;
}

void WalWriter::flush_to(std::uint64_t seq) {
  if (durable_seq_.load(std::memory_order_acquire) >= seq) return;
  std::lock_guard lock(flush_mutex_);
  if (durable_seq_.load(std::memory_order_acquire) >= seq) return;
  if (failed_.load(std::memory_order_acquire)) rethrow_locked();
  std::uint64_t upto;
  spare_.clear();
  {
    std::lock_guard buffer_lock(buffer_mutex_);
    buffer_.swap(spare_);
    upto = buffered_last_seq_;
  }
  try {
    if (!spare_.empty()) file_->write_at(offset_, spare_);
    offset_ += spare_.size();
    file_->sync();
  } catch (const Error& e) {
    set_error(e);
    throw;
  }
  durable_seq_.store(upto, std::memory_order_release);
  if (spare_.capacity() > (std::size_t{64} << 20)) std::vector<std::uint8_t>().swap(spare_);
}

void WalWriter::flush_all() { flush_to(last_seq()); }

std::uint64_t WalWriter::rotate() {
  flush_all();
  std::lock_guard lock(flush_mutex_);
  if (failed_.load(std::memory_order_acquire)) rethrow_locked();
  try {
    ++file_id_;
    open_file(true);
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
