// Env: the file-system seam of the database (in the spirit of LevelDB's Env).
//
// Every file operation of the database goes through an Env, so tests can
// substitute an in-memory file system that fails chosen operations and
// simulates power loss (tests/support/fault_injection_env.hpp, not installed).
// Operations throw rotortree::Error: Errc::no_space for ENOSPC, Errc::io_error
// for any other failure, with the path and the operation in the message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rotortree/types.hpp"

namespace rotortree::db {

/// An open file. Not thread-safe; the database uses each from one thread at a time.
class File {
 public:
  virtual ~File() = default;
  /// Append at the end (all bytes, or throw).
  virtual void append(std::span<const std::uint8_t> data) = 0;
  /// Write at an offset (all bytes, or throw).
  virtual void write_at(std::uint64_t offset, std::span<const std::uint8_t> data) = 0;
  /// Write consecutive pieces from `offset` on (pwritev on POSIX).
  virtual void write_gather(std::uint64_t offset, std::span<const std::span<const std::uint8_t>> pieces) {
    for (const auto& piece : pieces) {
      write_at(offset, piece);
      offset += piece.size();
    }
  }
  /// Read up to out.size() bytes at offset; returns the count (short at end of file).
  virtual std::size_t read_at(std::uint64_t offset, std::span<std::uint8_t> out) = 0;
  /// fdatasync: data written so far survives a crash.
  virtual void sync() = 0;
  virtual void truncate(std::uint64_t length) = 0;
  virtual std::uint64_t size() = 0;
  /// Writes must start at a multiple of this and span a multiple of it, from
  /// memory aligned to it: 1 for buffered files, the block size for files
  /// opened with Env::open_direct.
  virtual std::size_t write_alignment() const noexcept { return 1; }
};

/// A read-only memory mapping of a file range (or a copy of one).
class MappedRegion {
 public:
  virtual ~MappedRegion() = default;
  virtual const std::uint8_t* data() const noexcept = 0;
  virtual std::size_t size() const noexcept = 0;
};

/// An exclusive lock on a file; released on destruction.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

enum class OpenMode {
  read,             ///< existing file, read only
  read_write,       ///< existing file
  create,           ///< create if missing, keep contents
  create_truncate,  ///< create or empty
};

class Env {
 public:
  virtual ~Env() = default;
  virtual std::unique_ptr<File> open(const std::string& path, OpenMode mode) = 0;
  /// Open for unbuffered writes (O_DIRECT): data goes from the caller's memory
  /// to the device without page-cache copies. Where the file system cannot do
  /// it, the file is opened buffered; File::write_alignment() says which.
  virtual std::unique_ptr<File> open_direct(const std::string& path, OpenMode mode) { return open(path, mode); }
  virtual bool exists(const std::string& path) = 0;
  /// Names (not paths) of the entries of a directory.
  virtual std::vector<std::string> list(const std::string& dir) = 0;
  virtual void create_dir(const std::string& dir) = 0;  ///< ok if it exists
  virtual void rename(const std::string& from, const std::string& to) = 0;
  virtual void remove(const std::string& path) = 0;
  /// fsync the directory: creations, renames and removals in it survive a crash.
  virtual void sync_dir(const std::string& dir) = 0;
  virtual std::uint64_t file_size(const std::string& path) = 0;
  /// Map [offset, offset+length) of a file read-only. offset is page aligned.
  virtual std::shared_ptr<MappedRegion> map(const std::string& path, std::uint64_t offset,
                                            std::size_t length) = 0;
  /// Exclusive lock (flock on POSIX): throws Error(Errc::locked) if held by
  /// anyone else, in this process or another.
  virtual std::unique_ptr<FileLock> lock(const std::string& path) = 0;

  /// The process-wide POSIX environment.
  static Env* posix();
};

/// Read a whole file (helper over Env::open).
std::vector<std::uint8_t> read_whole_file(Env& env, const std::string& path);

}  // namespace rotortree::db

