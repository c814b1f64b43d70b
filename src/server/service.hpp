#pragma once
// What every handler shares (the models, limits, metrics, audit log, jobs) and the per-call view
// of one request. Private to the server library.
#include <httplib.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "medport/server/admission.hpp"
#include "medport/server/audit_log.hpp"
#include "medport/server/auth.hpp"
#include "medport/server/jobs.hpp"
#include "medport/server/metrics.hpp"
#include "medport/server/model_store.hpp"
#include "medport/server/server.hpp"

namespace medport::server {

struct Service {
  explicit Service(const ServerOptions& o);
  ServerOptions options;
  TokenStore tokens;
  ModelStore store;
  Admission admission;
  Metrics metrics;
  std::unique_ptr<AuditLog> audit;
  JobManager jobs;
  std::atomic<bool> draining{false};
  void refresh_gauges();
};

// One request as a handler sees it.
struct Call {
  const httplib::Request& req;
  httplib::Response& res;
  Service& service;
  std::map<std::string, std::string> params;  // {name} parts of the route
  Deadline deadline;

  const std::string& param(const std::string& name) const { return params.at(name); }
  // The model a request uses, for the audit log and metrics (set by the handler).
  void set_model(const std::string& name);
  void reply_json(int status, const nlohmann::json& body);
  void reply_ordered_json(int status, const nlohmann::ordered_json& body);
  // Waits for a worker slot (HttpError 429/504/503) and holds it until the Ticket dies.
  Admission::Ticket admit();
};

using Handler = std::function<void(Call&)>;

struct Route {
  std::string method;      // GET | POST | DELETE
  std::string path;        // template as in openapi.json: /v2/models/{name}/infer
  Handler handler;
  bool public_route = false;  // no token needed (health probes, the viewer's static files, the OpenAPI document)
};

// Registered by each handler file.
void add_oip_routes(std::vector<Route>& routes);
void add_task_routes(std::vector<Route>& routes);
void add_job_routes(std::vector<Route>& routes);
void add_ops_routes(std::vector<Route>& routes);

// Every route of the server (the OpenAPI test compares this with openapi.json).
std::vector<Route> all_routes();

}  // namespace medport::server
