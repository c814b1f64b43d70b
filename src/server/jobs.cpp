#include "medport/server/jobs.hpp"

#include <openssl/rand.h>

#include "medport/server/http_error.hpp"

namespace medport::server {

namespace {

std::string random_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

}  // namespace

void JobContext::progress(std::size_t done, std::size_t total) {
  done_ = done;
  total_ = total;
}

void JobContext::check_cancelled() const {
  if (cancelled()) throw JobCancelled();
}

struct JobManager::Job {
  std::string id, kind, model;
  std::string state = "queued";
  JobWork work;
  JobContext context;
  nlohmann::json result;
  bool result_taken = false;
  std::string error;
  int error_status = 0;
  std::chrono::steady_clock::time_point ended{};
};

JobManager::JobManager(std::size_t workers, std::size_t max_jobs, std::chrono::seconds ttl)
    : max_jobs_(max_jobs), ttl_(ttl) {
  for (std::size_t i = 0; i < std::max<std::size_t>(1, workers); ++i) workers_.emplace_back([this] { worker_loop(); });
}

JobManager::~JobManager() { shutdown(); }

void JobManager::shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [id, job] : jobs_)
      if (job->state == "queued" || job->state == "running") job->context.cancel_ = true;
    for (auto& job : queue_) job->state = "cancelled";
    queue_.clear();
  }
  cv_.notify_all();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
}

void JobManager::expire_locked() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    const auto& j = *it->second;
    const bool ended = j.state == "succeeded" || j.state == "failed" || j.state == "cancelled";
    if (ended && now - j.ended > ttl_) it = jobs_.erase(it);
    else ++it;
  }
}

std::string JobManager::submit(const std::string& kind, const std::string& model, JobWork work) {
  auto job = std::make_shared<Job>();
  job->id = random_id();
  job->kind = kind;
  job->model = model;
  job->work = std::move(work);
  {
    std::lock_guard lock(mutex_);
    if (stopping_) throw HttpError(503, "the server is shutting down");
    expire_locked();
    std::size_t active = 0;
    for (const auto& [id, j] : jobs_) active += (j->state == "queued" || j->state == "running") ? 1 : 0;
    if (active >= max_jobs_) throw HttpError(429, "too many jobs queued or running (" + std::to_string(active) + ")", 30);
    jobs_[job->id] = job;
    queue_.push_back(job);
  }
  cv_.notify_one();
  return job->id;
}

void JobManager::worker_loop() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = queue_.front();
      queue_.pop_front();
      if (job->context.cancelled()) continue;
      job->state = "running";
    }
    nlohmann::json result;
    std::string state = "succeeded", error;
    int status = 0;
    try {
      result = job->work(job->context);
    } catch (...) {
      const ErrorReply reply = error_reply(std::current_exception());
      state = job->context.cancelled() ? "cancelled" : "failed";
      error = reply.message;
      status = reply.status;
    }
    std::lock_guard lock(mutex_);
    job->state = state;
    job->result = std::move(result);
    job->error = error;
    job->error_status = status;
    job->ended = std::chrono::steady_clock::now();
    job->work = nullptr;
  }
}

nlohmann::json JobManager::fetch(const std::string& id) {
  std::lock_guard lock(mutex_);
  expire_locked();
  const auto it = jobs_.find(id);
  if (it == jobs_.end()) throw HttpError(404, "no such job (unknown, expired, or its result was already fetched)");
  Job& j = *it->second;
  nlohmann::json out{{"id", j.id},
                     {"kind", j.kind},
                     {"model", j.model},
                     {"state", j.state},
                     {"progress", {{"done", j.context.done_.load()}, {"total", j.context.total_.load()}}}};
  if (!j.error.empty()) out["error"] = j.error;
  if (j.state == "succeeded") {
    out["result"] = std::move(j.result);
    jobs_.erase(it);  // kept until fetched: one successful fetch takes it
  }
  return out;
}

nlohmann::json JobManager::cancel(const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto it = jobs_.find(id);
  if (it == jobs_.end()) throw HttpError(404, "no such job");
  Job& j = *it->second;
  nlohmann::json out{{"id", j.id}};
  if (j.state == "queued") {
    j.state = "cancelled";
    j.context.cancel_ = true;
    j.ended = std::chrono::steady_clock::now();
    for (auto q = queue_.begin(); q != queue_.end(); ++q)
      if ((*q)->id == id) {
        queue_.erase(q);
        break;
      }
  } else if (j.state == "running") {
    j.context.cancel_ = true;  // the job stops at its next step
    out["state"] = "cancelling";
    return out;
  } else {
    jobs_.erase(it);
    out["state"] = "removed";
    return out;
  }
  out["state"] = "cancelled";
  return out;
}

std::map<std::string, std::size_t> JobManager::counts() const {
  std::map<std::string, std::size_t> out{{"queued", 0}, {"running", 0}, {"succeeded", 0}, {"failed", 0}, {"cancelled", 0}};
  std::lock_guard lock(mutex_);
  for (const auto& [id, j] : jobs_) ++out[j->state];
  return out;
}

}  // namespace medport::server
