#pragma once
// The server's Prometheus metrics (prometheus-cpp's registry, served as text at /metrics):
//   medport_http_requests_total{route,method,status}      counter
//   medport_http_request_duration_seconds{route}          histogram
//   medport_inference_duration_seconds{model}              histogram (network time per request)
//   medport_queue_depth / medport_requests_running         gauges (admission)
//   medport_models_loaded                                   gauge
//   medport_jobs{state}                                     gauge (async sample/inpaint jobs)
// Label values are route templates and model names, never request data.
#include <memory>
#include <string>

namespace medport::server {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  void observe_request(const std::string& route, const std::string& method, int status, double seconds);
  void observe_inference(const std::string& model, double seconds);
  void set_queue(double waiting, double running);
  void set_models_loaded(double count);
  void set_jobs(const std::string& state, double count);
  std::string text() const;  // Prometheus text exposition format 0.0.4

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace medport::server
