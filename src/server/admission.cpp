#include "medport/server/admission.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "medport/server/http_error.hpp"

namespace medport::server {

void Deadline::check(const char* what) const {
  if (expired()) throw HttpError(504, std::string("deadline exceeded during ") + what);
}

Admission::Admission(std::size_t workers, std::size_t queue) : workers_(std::max<std::size_t>(1, workers)), queue_(queue) {}

Admission::Ticket::~Ticket() {
  if (owner_) owner_->release();
}

Admission::Ticket Admission::admit(const Deadline& deadline) {
  std::unique_lock lock(mutex_);
  if (closed_) throw HttpError(503, "the server is shutting down");
  if (running_ < workers_ && waiting_ == 0) {
    ++running_;
    return Ticket(this);
  }
  if (waiting_ >= queue_)
    throw HttpError(429, "too many requests: " + std::to_string(running_) + " running, " + std::to_string(waiting_) +
                             " waiting", retry_after_s());
  ++waiting_;
  const bool got = cv_.wait_until(lock, deadline.at(), [&] { return closed_ || running_ < workers_; });
  --waiting_;
  if (closed_) {
    cv_.notify_all();
    throw HttpError(503, "the server is shutting down");
  }
  if (!got) throw HttpError(504, "deadline exceeded while waiting in the queue");
  ++running_;
  return Ticket(this);
}

void Admission::release() {
  {
    std::lock_guard lock(mutex_);
    --running_;
  }
  cv_.notify_one();
}

void Admission::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  cv_.notify_all();
}

std::size_t Admission::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

std::size_t Admission::waiting() const {
  std::lock_guard lock(mutex_);
  return waiting_;
}

int Admission::retry_after_s() const {
  // Called with the lock held from admit(); reads only.
  const double wait = mean_seconds_ * static_cast<double>(waiting_ + 1) / static_cast<double>(workers_);
  return std::clamp(static_cast<int>(std::ceil(wait)), 1, 60);
}

void Admission::record_duration(double seconds) {
  std::lock_guard lock(mutex_);
  mean_seconds_ = 0.9 * mean_seconds_ + 0.1 * seconds;
}

}  // namespace medport::server
