#pragma once
// Asynchronous jobs (POST /v1/sample, /v1/inpaint): a job is queued (202 with its id), runs on
// the job workers, reports progress, can be cancelled (DELETE /v1/jobs/ID) and keeps its result
// until it is fetched once (GET /v1/jobs/ID after it finished) or until it expires (ttl after it
// ended; queued and running jobs do not expire). Ids are 128 random bits (OpenSSL RAND_bytes).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace medport::server {

// What a running job sees: progress to report and a cancel flag to honour (check() throws).
class JobContext {
 public:
  void progress(std::size_t done, std::size_t total);
  bool cancelled() const { return cancel_.load(); }
  void check_cancelled() const;  // throws JobCancelled

  std::atomic<bool> cancel_{false};
  std::atomic<std::size_t> done_{0}, total_{0};
};

struct JobCancelled : std::exception {
  const char* what() const noexcept override { return "job cancelled"; }
};

using JobWork = std::function<nlohmann::json(JobContext&)>;

class JobManager {
 public:
  JobManager(std::size_t workers, std::size_t max_jobs, std::chrono::seconds ttl);
  ~JobManager();  // cancels what runs, drops what waits, joins the workers

  // A new queued job; HttpError 429 when max_jobs are queued or running.
  std::string submit(const std::string& kind, const std::string& model, JobWork work);
  // The job's status as JSON: id, kind, model, state (queued|running|succeeded|failed|cancelled|
  // expired-never shown), progress {done,total}, error, and result (once, when succeeded).
  // HttpError 404 for an unknown or expired id.
  nlohmann::json fetch(const std::string& id);
  // Cancels a queued or running job (a finished one is removed). 404 for an unknown id.
  nlohmann::json cancel(const std::string& id);
  std::map<std::string, std::size_t> counts() const;  // by state
  void shutdown();

 private:
  struct Job;
  void worker_loop();
  void expire_locked();
  const std::size_t max_jobs_;
  const std::chrono::seconds ttl_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
};

}  // namespace medport::server
