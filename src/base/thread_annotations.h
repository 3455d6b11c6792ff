// Clang thread-safety annotations (-Wthread-safety): lock rules written as
// attributes that the compiler checks, instead of comments. On compilers
// other than clang they expand to nothing.
//
//   Mutex mu_;
//   int count_ GUARDED_BY(mu_);       // read or written only with mu_ held
//   void Bump() EXCLUDES(mu_);        // takes mu_ itself
//   void BumpLocked() REQUIRES(mu_);  // the caller holds mu_
//
// The check runs as the thread_safety_* CTest tests (top-level
// CMakeLists.txt). The locks to annotate with are in base/mutex.h:
// libstdc++'s std::mutex carries no annotations.
#pragma once

#if defined(__clang__)
#define CAIRN_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define CAIRN_THREAD_ANNOTATION_(x)
#endif

// A class that is a lock (a "capability"); `name` appears in messages.
#define CAPABILITY(name) CAIRN_THREAD_ANNOTATION_(capability(name))
// An RAII class that holds a capability for its lifetime.
#define SCOPED_CAPABILITY CAIRN_THREAD_ANNOTATION_(scoped_lockable)

// Data members: accessed only while the lock is held (the pointer's target,
// for PT_GUARDED_BY).
#define GUARDED_BY(x) CAIRN_THREAD_ANNOTATION_(guarded_by(x))
#define PT_GUARDED_BY(x) CAIRN_THREAD_ANNOTATION_(pt_guarded_by(x))

// Lock ordering between capabilities.
#define ACQUIRED_BEFORE(...) CAIRN_THREAD_ANNOTATION_(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) CAIRN_THREAD_ANNOTATION_(acquired_after(__VA_ARGS__))

// Functions: the caller must hold (exclusively / shared) the capabilities.
#define REQUIRES(...) CAIRN_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) CAIRN_THREAD_ANNOTATION_(requires_shared_capability(__VA_ARGS__))
// Functions: the caller must not hold them (the function takes them).
#define EXCLUDES(...) CAIRN_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))

// Functions that take or release a capability (no argument: `this`).
#define ACQUIRE(...) CAIRN_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) CAIRN_THREAD_ANNOTATION_(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) CAIRN_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) CAIRN_THREAD_ANNOTATION_(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) CAIRN_THREAD_ANNOTATION_(release_generic_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) CAIRN_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))
#define TRY_ACQUIRE_SHARED(...) CAIRN_THREAD_ANNOTATION_(try_acquire_shared_capability(__VA_ARGS__))

// Functions that check at run time (or promise) that a capability is held;
// the analysis assumes it is from there on.
#define ASSERT_CAPABILITY(x) CAIRN_THREAD_ANNOTATION_(assert_capability(x))
#define ASSERT_SHARED_CAPABILITY(x) CAIRN_THREAD_ANNOTATION_(assert_shared_capability(x))

// A function returning a reference to the capability.
#define RETURN_CAPABILITY(x) CAIRN_THREAD_ANNOTATION_(lock_returned(x))

// Turns the analysis off for one function. Say why next to each use.
#define NO_THREAD_SAFETY_ANALYSIS CAIRN_THREAD_ANNOTATION_(no_thread_safety_analysis)
