// kvstash::Mutex, MutexLock, ReaderMutexLock, CondVar and Notification.
//
// They are thin wrappers over the standard library (std::shared_mutex,
// std::condition_variable_any), with Clang thread-safety annotations, for two
// reasons found on Debian 12:
//   - its libabsl is built with absl::Mutex deadlock detection on: every lock
//     and unlock goes through a global spinlock and a graph lookup (49 ns per
//     lock/unlock pair measured, against 15 ns without; readers serialise on
//     that spinlock), which the router's index and the tier manager pay on
//     every operation;
//   - it is built without TSan annotations, so TSan cannot see absl::Mutex
//     synchronise, while pthreads (under the std types) are intercepted.
// The absl variant is kept behind KVSTASH_ABSL_MUTEX for comparison.
//
// Use these instead of the absl types in all kvstash code.
#ifndef KVSTASH_COMMON_MUTEX_H_
#define KVSTASH_COMMON_MUTEX_H_

#include "absl/base/thread_annotations.h"

#if !defined(KVSTASH_ABSL_MUTEX)
#define KVSTASH_STD_MUTEX 1
#endif

#if defined(KVSTASH_STD_MUTEX)
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#else
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#endif

namespace kvstash {

#if defined(KVSTASH_STD_MUTEX)

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  void ReaderLock() ABSL_SHARED_LOCK_FUNCTION() { mu_.lock_shared(); }
  void ReaderUnlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock_shared(); }
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}
  void AssertReaderHeld() const ABSL_ASSERT_SHARED_LOCK() {}

  // BasicLockable, for std::condition_variable_any.
  void lock() { mu_.lock(); }
  void unlock() { mu_.unlock(); }

 private:
  std::shared_mutex mu_;
};

class CondVar {
 public:
  // REQUIRES: *mu held exclusively.
  void Wait(Mutex* mu) { cv_.wait(*mu); }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable_any cv_;
};

class Notification {
 public:
  void Notify() {
    std::lock_guard<std::mutex> l(mu_);
    notified_ = true;
    cv_.notify_all();
  }
  bool HasBeenNotified() const {
    std::lock_guard<std::mutex> l(mu_);
    return notified_;
  }
  void WaitForNotification() const {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return notified_; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool notified_ = false;
};

#else

using Mutex = absl::Mutex;
using CondVar = absl::CondVar;
using Notification = absl::Notification;

#endif

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

class ABSL_SCOPED_LOCKABLE ReaderMutexLock {
 public:
  explicit ReaderMutexLock(Mutex* mu) ABSL_SHARED_LOCK_FUNCTION(mu) : mu_(mu) { mu_->ReaderLock(); }
  ~ReaderMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->ReaderUnlock(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace kvstash

#endif  // KVSTASH_COMMON_MUTEX_H_
