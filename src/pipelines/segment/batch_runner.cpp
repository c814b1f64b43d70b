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

#include <fmt/format.h>

#include "medport/error.hpp"
#include "medport/pipelines/batch/case_outputs.hpp"
#include "medport/pipelines/batch/progress.hpp"
#include "medport/pipelines/batch/runner.hpp"

namespace medport::segment {
namespace {

// One case on its way through the stages. `job` is empty once the case is skipped or failed.
struct Item {
  std::size_t index = 0;  // in the input order
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

// The first error that is not a case's own stops the batch at that case: the cases before it
// still go through every stage, those after it are dropped.
class FatalError {
 public:
  explicit FatalError(Slots& slots) : slots_(slots) {}
  void set(std::size_t index, std::exception_ptr e) {
    {
      std::lock_guard lock(mutex_);
      if (index >= at_) return;
      error_ = std::move(e);
      at_ = index;
    }
    slots_.cancel();
  }
  // Whether the case at `index` still goes on.
  bool allows(std::size_t index) const {
    std::lock_guard lock(mutex_);
    return index < at_;
  }
  void rethrow_if_set() {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  Slots& slots_;
  mutable std::mutex mutex_;
  std::exception_ptr error_;
  std::size_t at_ = static_cast<std::size_t>(-1);
};

bool already_done(const CaseInput& input, const CaseOptions& options, const BatchOptions& batch) {
  return !batch.overwrite && pipelines::batch::is_done(options.output_dir, input.name);
}

void fail(Item& item, const std::exception& e) {
  item.report.status = CaseReport::Status::Failed;
  item.report.message = e.what();
  item.job.reset();
}

// Runs one stage of an item: a bad input fails the case, anything else stops the batch there.
template <typename Stage>
void run_stage(Item& item, FatalError& fatal, Stage&& stage) {
  try {
    stage();
  } catch (const std::exception& e) {
    if (!pipelines::batch::fails_only_its_case(e)) {
      fatal.set(item.index, std::current_exception());
      item.job.reset();
      return;
    }
    fail(item, e);
  } catch (...) {
    fatal.set(item.index, std::current_exception());
    item.job.reset();
  }
}

BatchTotals run_in_a_row(std::span<const LoadedModel> models, std::span<const CaseInput> cases,
                         const CaseOptions& options, const BatchOptions& batch,
                         const std::function<void(const CaseReport&)>& on_case) {
  pipelines::batch::RunOptions run;
  run.output_dir = options.output_dir;
  run.overwrite = batch.overwrite;
  return pipelines::batch::run_cases(
      cases, run,
      [&](const CaseInput& input, CaseReport& report) { report.seconds = segment_case(models, input, options).seconds; },
      on_case);
}

BatchTotals run_overlapped(std::span<const LoadedModel> models, std::span<const CaseInput> cases,
                           const CaseOptions& options, const BatchOptions& batch,
                           const std::function<void(const CaseReport&)>& on_case) {
  Slots slots(std::max<std::size_t>(batch.max_cases_in_flight, 1));
  FatalError fatal(slots);
  Channel to_predict, to_write;
  BatchTotals totals;

  std::thread reader([&] {
    for (std::size_t i = 0; i < cases.size() && fatal.allows(i); ++i) {
      const auto& input = cases[i];
      Item item;
      item.index = i;
      item.report.case_name = input.name;
      if (already_done(input, options, batch)) {
        item.report.status = CaseReport::Status::Skipped;
        to_predict.push(std::move(item));
        continue;
      }
      if (!slots.acquire()) break;
      item.holds_slot = true;
      run_stage(item, fatal, [&] { item.job = prepare_case(models, input, options); });
      to_predict.push(std::move(item));
    }
    to_predict.close();
  });

  std::thread writer([&] {
    while (auto item = to_write.pop()) {
      if (item->job && fatal.allows(item->index))
        run_stage(*item, fatal, [&] {
          const auto result = finish_case(models, std::move(*item->job), options);
          item->report.seconds = write_case_outputs(result, options.output_dir).seconds;
        });
      item->job.reset();
      if (item->holds_slot) slots.release();
      if (!fatal.allows(item->index)) continue;
      totals.add(item->report);
      try {
        on_case(item->report);
      } catch (...) {
        fatal.set(item->index, std::current_exception());
      }
    }
  });

  // The network runs on the calling thread, one case at a time, in input order.
  while (auto item = to_predict.pop()) {
    if (item->job && fatal.allows(item->index)) run_stage(*item, fatal, [&] { predict_case(models, *item->job, options); });
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
  pipelines::batch::remove_stale_staging(options.output_dir);
  return batch.overlap ? run_overlapped(models, cases, options, batch, on_case)
                       : run_in_a_row(models, cases, options, batch, on_case);
}

std::string batch_summary(const BatchTotals& totals, double wall_seconds, const std::filesystem::path& output_dir,
                          std::span<const std::string> failures) {
  std::string text = fmt::format("segmented {} case(s), skipped {} already done, {} failed in {}", totals.done,
                                 totals.skipped, totals.failed, pipelines::batch::format_duration(wall_seconds));
  if (totals.done > 0) text += fmt::format(" ({:.2f} s per case)", totals.busy_seconds / static_cast<double>(totals.done));
  text += " -> " + output_dir.string() + "\n";
  for (const auto& f : failures) text += "  failed: " + f + "\n";
  return text;
}

}  // namespace medport::segment
