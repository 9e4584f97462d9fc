// AsideTask: one piece of work run on a thread of its own while the caller goes on, for the
// few places where a refresh can overlap two independent steps on a multi-core device (the disk
// write of a role with its verification, a signature check with building the model). When a
// thread is not worth it, or cannot be had (resource limits), the work runs inline at once, so
// the result is the same either way; only the timing differs.
//
// Get() waits for the work and hands over its result (once). The destructor waits too, so the
// work never outlives what it captured by reference. Not copyable or movable: the thread holds
// `this`.
#ifndef MDU_CORE_COMMON_ASIDE_TASK_H_
#define MDU_CORE_COMMON_ASIDE_TASK_H_

#include <functional>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

namespace mdu {

template <class T>
class AsideTask {
 public:
  AsideTask(std::function<T()> work, bool on_thread) : work_(std::move(work)) {
    if (on_thread) {
      try {
        thread_ = std::thread([this] { result_.emplace(work_()); });
      } catch (const std::system_error&) {
        // No thread available: run inline below.
      }
    }
    if (!thread_.joinable()) result_.emplace(work_());
  }
  ~AsideTask() { Join(); }
  AsideTask(const AsideTask&) = delete;
  AsideTask& operator=(const AsideTask&) = delete;

  // The work's result; waits for it. Call at most once.
  T Get() {
    Join();
    return std::move(*result_);
  }

 private:
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  std::function<T()> work_;
  std::optional<T> result_;
  std::thread thread_;  // last: started after, and joined before, the members it uses
};

}  // namespace mdu

#endif  // MDU_CORE_COMMON_ASIDE_TASK_H_
