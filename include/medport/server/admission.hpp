#pragma once
// Limits on the work the server accepts: at most `workers` requests compute at once, at most
// `queue` more wait for a turn; a request arriving when both are full is refused at once with 429
// and Retry-After. A request also carries a deadline: waiting past it answers 504, and pipelines
// that report progress stop at it (Deadline::check between steps).
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace medport::server {

using Clock = std::chrono::steady_clock;

class Deadline {
 public:
  Deadline() : at_(Clock::time_point::max()) {}
  explicit Deadline(Clock::time_point at) : at_(at) {}
  static Deadline in(std::chrono::milliseconds ms) { return Deadline(Clock::now() + ms); }
  Clock::time_point at() const { return at_; }
  bool expired() const { return Clock::now() >= at_; }
  // HttpError 504 when expired; `what` names the step ("segmentation", "queue").
  void check(const char* what) const;

 private:
  Clock::time_point at_;
};

class Admission {
 public:
  Admission(std::size_t workers, std::size_t queue);

  // Holds a worker slot while alive.
  class Ticket {
   public:
    explicit Ticket(Admission* owner) : owner_(owner) {}
    Ticket(Ticket&& other) noexcept : owner_(other.owner_) { other.owner_ = nullptr; }
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket();

   private:
    Admission* owner_;
  };

  // Waits for a worker slot. HttpError 429 (Retry-After) when the queue is full, 504 when the
  // deadline passes while waiting, 503 once closed.
  Ticket admit(const Deadline& deadline);
  // Wakes every waiter with 503 and refuses new requests (shutdown).
  void close();

  std::size_t running() const;
  std::size_t waiting() const;
  std::size_t workers() const { return workers_; }
  std::size_t queue_limit() const { return queue_; }
  // Seconds a refused client should wait: about one average request per queued request.
  int retry_after_s() const;
  void record_duration(double seconds);

 private:
  void release();
  const std::size_t workers_, queue_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::size_t running_ = 0, waiting_ = 0;
  bool closed_ = false;
  double mean_seconds_ = 1.0;
};

}  // namespace medport::server
