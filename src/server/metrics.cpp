#include "medport/server/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <sstream>

namespace medport::server {

namespace {

const prometheus::Histogram::BucketBoundaries& latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries b{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                          0.5,   1,      2.5,   5,    10,    30,   60,  120};
  return b;
}

}  // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter().Name("medport_http_requests_total").Help("HTTP requests answered").Register(*registry);
  prometheus::Family<prometheus::Histogram>& latency = prometheus::BuildHistogram()
                                                           .Name("medport_http_request_duration_seconds")
                                                           .Help("Time from request to response, by route")
                                                           .Register(*registry);
  prometheus::Family<prometheus::Histogram>& inference = prometheus::BuildHistogram()
                                                             .Name("medport_inference_duration_seconds")
                                                             .Help("Model computation time per request, by model")
                                                             .Register(*registry);
  prometheus::Family<prometheus::Gauge>& gauges =
      prometheus::BuildGauge().Name("medport_queue_depth").Help("Requests waiting for a worker").Register(*registry);
  prometheus::Gauge& queue = gauges.Add({});
  prometheus::Gauge& running = prometheus::BuildGauge()
                                   .Name("medport_requests_running")
                                   .Help("Requests computing now")
                                   .Register(*registry)
                                   .Add({});
  prometheus::Gauge& models =
      prometheus::BuildGauge().Name("medport_models_loaded").Help("Models loaded and ready").Register(*registry).Add({});
  prometheus::Family<prometheus::Gauge>& jobs =
      prometheus::BuildGauge().Name("medport_jobs").Help("Asynchronous jobs by state").Register(*registry);
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::observe_request(const std::string& route, const std::string& method, int status, double seconds) {
  impl_->requests.Add({{"route", route}, {"method", method}, {"status", std::to_string(status)}}).Increment();
  impl_->latency.Add({{"route", route}}, latency_buckets()).Observe(seconds);
}

void Metrics::observe_inference(const std::string& model, double seconds) {
  impl_->inference.Add({{"model", model}}, latency_buckets()).Observe(seconds);
}

void Metrics::set_queue(double waiting, double running) {
  impl_->queue.Set(waiting);
  impl_->running.Set(running);
}

void Metrics::set_models_loaded(double count) { impl_->models.Set(count); }

void Metrics::set_jobs(const std::string& state, double count) { impl_->jobs.Add({{"state", state}}).Set(count); }

std::string Metrics::text() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, impl_->registry->Collect());
  return out.str();
}

}  // namespace medport::server
