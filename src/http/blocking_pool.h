// Threads for work that may block: file locks a GC can hold for seconds, fsyncs, SQLite.
// Such work never runs on the threads that serve connections, so a sweep holding the
// commit lock stalls only the commits waiting for it, never a pull or /healthz. Bounded:
// past its threads, work queues.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "base/status.h"
#include "http/exchange.h"

namespace lockstep::http {

class BlockingPool {
 public:
  explicit BlockingPool(size_t threads) : pool_(threads) {}
  ~BlockingPool() { pool_.join(); }
  // Waits for the work already given; call it once the server has stopped and before the
  // coroutines waiting for that work are destroyed with their io_contexts.
  void Finish() { pool_.join(); }
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Runs `work()` (returning a Status or a Result) on a pool thread; the awaiting
  // coroutine resumes with the result on its own executor, never on a pool thread. An
  // exception from the work becomes an internal-error result. (Not a coroutine itself: it
  // only starts the work and hands the completion back.)
  template <class F>
  Task<std::invoke_result_t<F&>> Run(F work) {
    using R = std::invoke_result_t<F&>;
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(R)>(
        [this](auto resume, F job) {
          boost::asio::post(pool_, [job = std::move(job), resume = std::move(resume)]() mutable {
            // What escapes the work would end the process on a pool thread: it becomes
            // the request's failure instead.
            std::optional<R> result;
            try {
              result.emplace(job());
            } catch (const std::exception& e) {
              result.emplace(Internal(std::string("unexpected failure: ") + e.what()));
            }
            auto home = boost::asio::get_associated_executor(resume);
            boost::asio::post(home, [resume = std::move(resume), r = std::move(*result)]() mutable {
              std::move(resume)(std::move(r));
            });
          });
        },
        boost::asio::use_awaitable, std::move(work));
  }

 private:
  boost::asio::thread_pool pool_;
};

}  // namespace lockstep::http
