// SmallVector: a vector of trivially copyable elements that keeps its first
// `Inline` elements in the object itself. Proofs use it so that generating one
// does not touch the heap for trees of ordinary depth.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <type_traits>

namespace rotortree {

template <class T, std::size_t Inline>
class SmallVector {
  static_assert(std::is_trivially_copyable_v<T>, "SmallVector holds trivially copyable elements");

 public:
  using value_type = T;
  using size_type = std::size_t;
  using iterator = T*;
  using const_iterator = const T*;
  using reference = T&;
  using const_reference = const T&;

  SmallVector() noexcept = default;
  SmallVector(std::initializer_list<T> items) { assign(items.begin(), items.end()); }
  explicit SmallVector(size_type count) { resize(count); }
  SmallVector(size_type count, const T& value) { resize(count, value); }
  template <class It, class = decltype(*std::declval<It>())>
  SmallVector(It first, It last) {
    assign(first, last);
  }
  SmallVector(const SmallVector& other) { assign(other.begin(), other.end()); }
  SmallVector(SmallVector&& other) noexcept { take(std::move(other)); }
  SmallVector& operator=(const SmallVector& other) {
    if (this != &other) assign(other.begin(), other.end());
    return *this;
  }
  SmallVector& operator=(SmallVector&& other) noexcept {
    if (this != &other) {
      heap_.reset();
      size_ = 0;
      capacity_ = Inline;
      take(std::move(other));
    }
    return *this;
  }

  T* data() noexcept { return heap_ ? heap_.get() : inline_; }
  const T* data() const noexcept { return heap_ ? heap_.get() : inline_; }
  size_type size() const noexcept { return size_; }
  size_type capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }
  iterator begin() noexcept { return data(); }
  iterator end() noexcept { return data() + size_; }
  const_iterator begin() const noexcept { return data(); }
  const_iterator end() const noexcept { return data() + size_; }
  T& operator[](size_type i) noexcept { return data()[i]; }
  const T& operator[](size_type i) const noexcept { return data()[i]; }
  T& at(size_type i) {
    if (i >= size_) throw std::out_of_range("SmallVector::at");
    return data()[i];
  }
  const T& at(size_type i) const {
    if (i >= size_) throw std::out_of_range("SmallVector::at");
    return data()[i];
  }
  T& front() noexcept { return data()[0]; }
  T& back() noexcept { return data()[size_ - 1]; }
  const T& front() const noexcept { return data()[0]; }
  const T& back() const noexcept { return data()[size_ - 1]; }

  void reserve(size_type wanted) {
    if (wanted <= capacity_) return;
    std::unique_ptr<T[]> bigger(new T[wanted]);
    std::memcpy(static_cast<void*>(bigger.get()), data(), size_ * sizeof(T));
    heap_ = std::move(bigger);
    capacity_ = wanted;
  }
  void clear() noexcept { size_ = 0; }
  void resize(size_type count) { resize(count, T{}); }
  void resize(size_type count, const T& value) {
    reserve(count);
    for (size_type i = size_; i < count; ++i) data()[i] = value;
    size_ = count;
  }
  /// Resize without initialising new elements: for callers that overwrite them.
  void resize_for_overwrite(size_type count) {
    reserve(count);
    size_ = count;
  }
  void push_back(const T& value) {
    if (size_ == capacity_) {
      const T copy = value;  // `value` may live in this vector
      reserve(capacity_ * 2);
      data()[size_++] = copy;
      return;
    }
    data()[size_++] = value;
  }
  template <class... Args>
  T& emplace_back(Args&&... args) {
    push_back(T{std::forward<Args>(args)...});
    return back();
  }
  void pop_back() noexcept { --size_; }
  template <class It>
  void assign(It first, It last) {
    clear();
    reserve(static_cast<size_type>(std::distance(first, last)));
    for (; first != last; ++first) data()[size_++] = *first;
  }
  /// Append [first, last) at `position` (only the end is supported: all the library needs).
  template <class It>
  iterator insert(const_iterator position, It first, It last) {
    const size_type offset = static_cast<size_type>(position - begin());
    if (offset != size_) throw std::logic_error("SmallVector::insert supports appending only");
    reserve(size_ + static_cast<size_type>(std::distance(first, last)));
    for (; first != last; ++first) data()[size_++] = *first;
    return begin() + offset;
  }

  friend bool operator==(const SmallVector& a, const SmallVector& b) noexcept {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  void take(SmallVector&& other) noexcept {
    if (other.heap_) {
      heap_ = std::move(other.heap_);
      capacity_ = other.capacity_;
    } else {
      std::memcpy(static_cast<void*>(inline_), other.inline_, other.size_ * sizeof(T));
    }
    size_ = other.size_;
    other.size_ = 0;
    other.capacity_ = Inline;
  }

  std::unique_ptr<T[]> heap_;
  size_type size_ = 0;
  size_type capacity_ = Inline;
  T inline_[Inline];
};

}  // namespace rotortree
