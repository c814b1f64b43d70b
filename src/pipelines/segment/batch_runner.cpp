#include "medport/pipelines/segment/batch_runner.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "medport/error.hpp"

namespace medport::segment {
namespace {

// One case on its way through the stages. `job` is empty once the case is skipped or failed.
struct Item {
  CaseReport report;
  std::optional<CaseJob> job;
  bool holds_slot = false;
};

// A FIFO between two stages; pop() waits, and returns nothing once closed and drained.
class Channel {
 public:
  void push(Item item) {
    {
      std::lock_guard lock(mutex_);
      items_.push_back(std::move(item));
    }
    ready_.notify_one();
  }
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }
  std::optional<Item> pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    Item item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Item> items_;
  bool closed_ = false;
};

// Counts the cases held in memory (read, not yet written); acquire() waits for a free slot.
class Slots {
 public:
  explicit Slots(std::size_t count) : free_(count) {}
  bool acquire() {
    std::unique_lock lock(mutex_);
    freed_.wait(lock, [&] { return cancelled_ || free_ > 0; });
    if (cancelled_) return false;
    --free_;
    return true;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      ++free_;
    }
    freed_.notify_one();
  }
  void cancel() {
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
    }
    freed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable freed_;
  std::size_t free_;
  bool cancelled_ = false;
};

// The first error that is not a case's InputError stops the whole batch.
class FatalError {
 public:
  explicit FatalError(Slots& slots) : slots_(slots) {}
  void set(std::exception_ptr e) {
    {
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::move(e);
    }
    stopped_ = true;
    slots_.cancel();
  }
  bool stopped() const { return stopped_; }
  void rethrow_if_set() {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  Slots& slots_;
  std::mutex mutex_;
  std::exception_ptr error_;
  std::atomic<bool> stopped_{false};
};

bool already_done(const CaseInput& input, const CaseOptions& options, const BatchOptions& batch) {
  return !batch.overwrite && std::filesystem::exists(summary_path(options.output_dir, input.name));
}

void fail(Item& item, const InputError& e) {
  item.report.status = CaseReport::Status::Failed;
  item.report.message = e.what();
  item.job.reset();
}

void tally(BatchTotals& totals, const CaseReport& report) {
  switch (report.status) {
    case CaseReport::Status::Done:
      ++totals.done;
      totals.busy_seconds += report.seconds;
      break;
    case CaseReport::Status::Skipped: ++totals.skipped; break;
    case CaseReport::Status::Failed: ++totals.failed; break;
  }
}

BatchTotals run_in_a_row(std::span<const LoadedModel> models, std::span<const CaseInput> cases,
                         const CaseOptions& options, const BatchOptions& batch,
                         const std::function<void(const CaseReport&)>& on_case) {
  BatchTotals totals;
  for (const auto& input : cases) {
    CaseReport report;
    report.case_name = input.name;
    if (already_done(input, options, batch)) {
      report.status = CaseReport::Status::Skipped;
    } else {
      try {
        report.seconds = segment_case(models, input, options).seconds;
      } catch (const InputError& e) {
        report.status = CaseReport::Status::Failed;
        report.message = e.what();
      }
    }
    tally(totals, report);
    on_case(report);
  }
  return totals;
}

BatchTotals run_overlapped(std::span<const LoadedModel> models, std::span<const CaseInput> cases,
                           const CaseOptions& options, const BatchOptions& batch,
                           const std::function<void(const CaseReport&)>& on_case) {
  Slots slots(std::max<std::size_t>(batch.max_cases_in_flight, 1));
  FatalError fatal(slots);
  Channel to_predict, to_write;
  BatchTotals totals;

  std::thread reader([&] {
    for (const auto& input : cases) {
      if (fatal.stopped()) break;
      Item item;
      item.report.case_name = input.name;
      if (already_done(input, options, batch)) {
        item.report.status = CaseReport::Status::Skipped;
        to_predict.push(std::move(item));
        continue;
      }
      if (!slots.acquire()) break;
      item.holds_slot = true;
      try {
        item.job = prepare_case(models, input, options);
      } catch (const InputError& e) {
        fail(item, e);
      } catch (...) {
        fatal.set(std::current_exception());
        slots.release();
        break;
      }
      to_predict.push(std::move(item));
    }
    to_predict.close();
  });

  std::thread writer([&] {
    while (auto item = to_write.pop()) {
      if (item->job && !fatal.stopped()) {
        try {
          item->report.seconds = finish_case(models, std::move(*item->job), options).seconds;
        } catch (const InputError& e) {
          fail(*item, e);
        } catch (...) {
          fatal.set(std::current_exception());
        }
        item->job.reset();
      }
      if (item->holds_slot) slots.release();
      if (fatal.stopped()) continue;
      tally(totals, item->report);
      try {
        on_case(item->report);
      } catch (...) {
        fatal.set(std::current_exception());
      }
    }
  });

  // The network runs on the calling thread, one case at a time, in input order.
  while (auto item = to_predict.pop()) {
    if (item->job && !fatal.stopped()) {
      try {
        predict_case(models, *item->job, options);
      } catch (const InputError& e) {
        fail(*item, e);
      } catch (...) {
        fatal.set(std::current_exception());
      }
    }
    to_write.push(std::move(*item));
  }
  to_write.close();
  reader.join();
  writer.join();
  fatal.rethrow_if_set();
  return totals;
}

}  // namespace

BatchTotals run_batch(std::span<const LoadedModel> models, std::span<const CaseInput> cases, const CaseOptions& options,
                      const BatchOptions& batch, const std::function<void(const CaseReport&)>& on_case) {
  if (models.empty()) throw UsageError("segment: no model given");
  return batch.overlap ? run_overlapped(models, cases, options, batch, on_case)
                       : run_in_a_row(models, cases, options, batch, on_case);
}

}  // namespace medport::segment
