#include "medport/server/server.hpp"

#include <openssl/rand.h>
#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <regex>
#include <thread>

#include "medport/error.hpp"
#include "medport/server/http_error.hpp"
#include "medport/server/log.hpp"
#include "service.hpp"

namespace medport::server {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Facts about the request the current thread serves (pre-routing, handler and logger run on the
// connection's thread, one request after another).
struct RequestState {
  Clock::time_point start;
  std::string request_id;
  std::string route;  // template, "unmatched" before routing
  std::string model;
  std::optional<std::string> token_id;
  std::optional<ErrorReply> refusal;  // decided before the body was read, sent after
  std::string method;                 // as the client sent it
};
thread_local RequestState current;


std::string new_request_id() {
  unsigned char b[8];
  RAND_bytes(b, sizeof b);
  static const char* d = "0123456789abcdef";
  std::string s;
  for (auto c : b) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}

void send_error(httplib::Response& res, const ErrorReply& e) {
  res.status = e.status;
  if (e.retry_after_s > 0) res.set_header("Retry-After", std::to_string(e.retry_after_s));
  res.set_content(error_body(e.message), "application/json");
}

void send_refusal(httplib::Response& res, const ErrorReply& e) {
  if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  send_error(res, e);
}

// "/v2/models/{name}/infer" -> regex "/v2/models/([^/]+)/infer" and the names in order.
std::pair<std::string, std::vector<std::string>> route_regex(const std::string& path) {
  std::string re;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '{') {
      const auto end = path.find('}', i);
      names.push_back(path.substr(i + 1, end - i - 1));
      re += "([^/]+)";
      i = end;
    } else if (std::string("\\^$.|?*+()[]").find(path[i]) != std::string::npos) {
      re += '\\';
      re += path[i];
    } else {
      re += path[i];
    }
  }
  return {re, names};
}

fs::path default_state_dir(const ServerOptions& o) {
  return o.state_dir.empty() ? fs::absolute(o.models).parent_path() / "medport-state" : o.state_dir;
}

void check_options(const ServerOptions& o) {
  if (o.models.empty()) throw UsageError("--models DIR is required");
  if (o.tls_cert.empty() != o.tls_key.empty()) throw UsageError("--tls-cert and --tls-key go together");
  if (o.token_file.empty() && !is_loopback_address(o.host) && o.host != "localhost")
    throw UsageError("--host " + o.host + " accepts remote clients: give --token-file (without tokens medport serve answers loopback only)");
  if (o.max_body_bytes < 1024) throw UsageError("--max-body-mb is too small");
  if (o.workers < 1) throw UsageError("--workers must be at least 1");
}

}  // namespace

Service::Service(const ServerOptions& o)
    : options(o),
      store(o.models, o.session),
      admission(o.workers, o.queue),
      jobs(o.job_workers, o.max_jobs, o.job_ttl) {
  if (!o.token_file.empty()) tokens = TokenStore::load(o.token_file);
  options.state_dir = default_state_dir(o);
  if (o.audit_log != "-") audit = std::make_unique<AuditLog>(o.audit_log.empty() ? options.state_dir / "audit.jsonl" : o.audit_log);
}

void Service::refresh_gauges() {
  metrics.set_queue(static_cast<double>(admission.waiting()), static_cast<double>(admission.running()));
  metrics.set_models_loaded(static_cast<double>(store.loaded()));
  for (const auto& [state, n] : jobs.counts()) metrics.set_jobs(state, static_cast<double>(n));
}

void Call::set_model(const std::string& name) { current.model = name; }

void Call::reply_json(int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void Call::reply_ordered_json(int status, const nlohmann::ordered_json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

Admission::Ticket Call::admit() {
  auto ticket = service.admission.admit(deadline);
  service.refresh_gauges();
  return ticket;
}

std::vector<Route> all_routes() {
  std::vector<Route> routes;
  add_oip_routes(routes);
  add_task_routes(routes);
  add_job_routes(routes);
  add_ops_routes(routes);
  return routes;
}

std::vector<std::pair<std::string, std::string>> route_list() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : all_routes()) out.emplace_back(r.method, r.path);
  return out;
}

struct Server::Impl {
  explicit Impl(ServerOptions o) : service(o) {}
  Service service;
  std::unique_ptr<httplib::Server> http;
  std::atomic<int> active_handlers{0};
  int listen_fd = -1;
  std::mutex shutdown_mutex;
  bool stopped = false;
  std::vector<std::string> public_paths;

  void install_routes();
  void install_hooks();
  std::optional<ErrorReply> check_request(const httplib::Request& req);
};

// Path, shutdown, peer and token checks of every request (the token's ID goes to `current`).
std::optional<ErrorReply> Server::Impl::check_request(const httplib::Request& req) {
  auto refuse = [](int status, const std::string& message, int retry = 0) { return ErrorReply{status, message, message, retry}; };
  // A "." or ".." path segment (also when percent-encoded) never names a model or a file.
  for (std::size_t at = 0; at < req.path.size();) {
    const auto next = std::min(req.path.find('/', at + 1), req.path.size());
    const std::string segment = req.path.substr(at + 1, next - at - 1);
    if (segment == "." || segment == "..") return refuse(400, "path segments '.' and '..' are not allowed");
    at = next;
  }
  if (service.draining) return refuse(503, "the server is shutting down", 5);
  if (service.tokens.empty() && !is_loopback_address(req.remote_addr))
    return refuse(403, "this server has no token file and answers loopback clients only");
  if (!service.tokens.empty()) {
    current.token_id = service.tokens.identify_header(req.get_header_value("Authorization"));
    const bool is_public = std::find(public_paths.begin(), public_paths.end(), req.path) != public_paths.end();
    if (!current.token_id && !is_public)
      return refuse(401, req.has_header("Authorization") ? "invalid token" : "missing bearer token");
  }
  return std::nullopt;
}

void Server::Impl::install_routes() {
  for (auto& route : all_routes()) {
    auto [re, names] = route_regex(route.path);
    if (route.public_route) public_paths.push_back(route.path);
    auto handler = [this, route, names](const httplib::Request& req, httplib::Response& res) {
      if (current.refusal) {
        send_refusal(res, *current.refusal);
        return;
      }
      struct Active {
        std::atomic<int>& n;
        explicit Active(std::atomic<int>& count) : n(count) { ++n; }
        ~Active() { --n; }
      } active(active_handlers);
      current.route = route.path;
      Call call{req, res, service, {}, Deadline(current.start + service.options.deadline)};
      // A client may ask for a shorter deadline than the server's (never a longer one).
      if (req.has_header("X-Request-Deadline-Ms")) {
        const std::string text = req.get_header_value("X-Request-Deadline-Ms");
        char* end = nullptr;
        const long long ms = std::strtoll(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || ms < 100 || ms > 86400000) {
          send_error(res, {400, "X-Request-Deadline-Ms must be an integer from 100 to 86400000", "bad deadline header", 0});
          return;
        }
        call.deadline = Deadline(std::min(call.deadline.at(), current.start + std::chrono::milliseconds(ms)));
      }
      for (std::size_t i = 0; i < names.size() && i + 1 < req.matches.size(); ++i) call.params[names[i]] = req.matches[i + 1].str();
      try {
        route.handler(call);
      } catch (...) {
        const ErrorReply e = error_reply(std::current_exception());
        if (e.status >= 500)
          log_event(spdlog::level::err, "request_failed",
                    {{"request_id", current.request_id}, {"route", route.path}, {"status", e.status}, {"error", e.log_message}});
        send_error(res, e);
      }
    };
    if (route.method == "GET") http->Get(re, handler);
    else if (route.method == "POST") http->Post(re, handler);
    else if (route.method == "DELETE") http->Delete(re, handler);
  }
}

void Server::Impl::install_hooks() {
  http->set_payload_max_length(service.options.max_body_bytes);
  http->set_read_timeout(service.options.read_timeout_s, 0);
  http->set_write_timeout(60, 0);
  http->set_keep_alive_max_count(1000);
  http->set_keep_alive_timeout(5);
  const std::size_t threads = service.options.workers + service.options.queue + 8;
  http->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // httplib listens with a backlog of 5: a burst of connections overflows it and clients see
  // resets. Keep the listening socket to raise the backlog after bind (listen() again does that).
  http->set_socket_options([this](int fd) {
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd = fd;
  });

  // Requests are refused before their body is read when they have none. A request that carries a
  // body gets its refusal after httplib has read (or, above the limit, skipped) that body: answering
  // earlier would leave the body in the connection, to be misread as the next request.
  http->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    current = RequestState{Clock::now(), new_request_id(), "unmatched", "", std::nullopt, std::nullopt, req.method};
    res.set_header("X-Request-Id", current.request_id);
    const bool body_pending = req.has_header("Transfer-Encoding") ||
                              (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
    if (body_pending && req.method != "POST" && req.method != "PUT" && req.method != "PATCH" && req.method != "DELETE") {
      // httplib reads bodies of these methods only; a GET/HEAD/OPTIONS body left unread would be
      // misread as the next request. Read it as a PATCH (no route has that method), then refuse.
      current.refusal = ErrorReply{400, req.method.substr(0, 16) + " requests carry no body", "body on " + req.method, 0};
      const_cast<httplib::Request&>(req).method = "PATCH";
      return httplib::Server::HandlerResponse::Unhandled;
    }
    auto refusal = check_request(req);
    if (!refusal) return httplib::Server::HandlerResponse::Unhandled;
    if (body_pending) {
      current.refusal = std::move(refusal);
      return httplib::Server::HandlerResponse::Unhandled;
    }
    send_refusal(res, *refusal);
    return httplib::Server::HandlerResponse::Handled;
  });

  http->set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    // A HEAD request read as PATCH (pre-routing) is answered as HEAD again: headers only.
    if (!current.method.empty() && req.method != current.method) const_cast<httplib::Request&>(req).method = current.method;
    // httplib stops reading a body it cannot parse (a broken multipart or chunked body): what is
    // left must not be taken for the next request, so a failure before any route ran closes the
    // connection (the client sees Connection: close).
    if (current.route == "unmatched") const_cast<httplib::Request&>(req).set_header("Connection", "close");
    if (current.refusal && res.status != 413) {
      send_refusal(res, *current.refusal);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message = res.status == 404   ? "no such endpoint"
                          : res.status == 413 ? "request body larger than the server's limit"
                          : res.status == 503 ? "not ready"
                          : res.status == 400 ? "malformed request (request line, headers or body)"
                                              : "request failed";
    if (res.status == 405) message = "method not allowed";
    res.set_content(error_body(message), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));

  http->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    send_error(res, error_reply(ep));
  });

  http->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    const double seconds = std::chrono::duration<double>(Clock::now() - current.start).count();
    const std::string& route = current.route;
    const std::string& method = current.method.empty() ? req.method : current.method;
    service.metrics.observe_request(route, method, res.status, seconds);
    service.refresh_gauges();
    const std::string endpoint = route == "unmatched" ? req.path.substr(0, 128) : route;
    if (service.audit && route != "/metrics" && route.rfind("/v2/health", 0) != 0)
      service.audit->write({current.request_id, current.token_id, req.remote_addr, method, endpoint, current.model,
                            res.status, seconds * 1000.0});
    json fields{{"request_id", current.request_id}, {"method", method}, {"route", endpoint}, {"status", res.status},
                {"latency_ms", seconds * 1000.0}, {"remote", req.remote_addr}};
    if (!current.model.empty()) fields["model"] = current.model;
    if (current.token_id) fields["token_id"] = *current.token_id;
    log_event(res.status >= 500 ? spdlog::level::err : spdlog::level::info, "request", std::move(fields));
  });
}

Server::Server(ServerOptions options) {
  check_options(options);
  configure_logging();
  impl_ = std::make_unique<Impl>(std::move(options));
  const auto& o = impl_->service.options;
  if (!o.tls_cert.empty()) {
    auto ssl = std::make_unique<httplib::SSLServer>(o.tls_cert.c_str(), o.tls_key.c_str());
    if (!ssl->is_valid()) throw UsageError("--tls-cert/--tls-key: cannot load the certificate or key (PEM expected)");
    impl_->http = std::move(ssl);
  } else {
    impl_->http = std::make_unique<httplib::Server>();
  }
  impl_->install_routes();
  impl_->install_hooks();
  impl_->service.store.load_all();
  impl_->service.refresh_gauges();
}

Server::~Server() { shutdown(); }

bool Server::tls() const { return !impl_->service.options.tls_cert.empty(); }

int Server::bind() {
  const auto& o = impl_->service.options;
  int port = o.port;
  if (port == 0) {
    port = impl_->http->bind_to_any_port(o.host);
    if (port <= 0) throw UsageError("cannot bind " + o.host);
  } else if (!impl_->http->bind_to_port(o.host, port)) {
    throw UsageError("cannot bind " + o.host + ":" + std::to_string(port) + " (in use, or not an address of this machine)");
  }
  if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, SOMAXCONN);
  log_event(spdlog::level::info, "listening",
            {{"host", o.host}, {"port", port}, {"tls", tls()}, {"models_loaded", impl_->service.store.loaded()},
             {"auth", impl_->service.tokens.empty() ? "loopback-only" : "bearer-token"}});
  return port;
}

void Server::serve() { impl_->http->listen_after_bind(); }

void Server::shutdown() {
  if (!impl_) return;
  std::lock_guard lock(impl_->shutdown_mutex);
  if (impl_->stopped) return;
  impl_->stopped = true;
  Service& s = impl_->service;
  s.draining = true;
  log_event(spdlog::level::info, "draining", {{"running", s.admission.running()}, {"waiting", s.admission.waiting()}});
  const auto until = Clock::now() + s.options.drain_timeout;
  while (Clock::now() < until && (impl_->active_handlers > 0 || s.admission.running() > 0 || s.admission.waiting() > 0))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  s.admission.close();
  s.jobs.shutdown();
  impl_->http->stop();
  log_event(spdlog::level::info, "stopped", {{"unfinished", impl_->active_handlers.load()}});
}

int serve_until_signal(const ServerOptions& options) {
  // Block the signals before any thread starts, so only sigwait below receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  Server server(options);
  server.bind();
  std::thread loop([&] { server.serve(); });
  int sig = 0;
  sigwait(&set, &sig);
  log_event(spdlog::level::info, "signal", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  server.shutdown();
  loop.join();
  return 0;
}

}  // namespace medport::server
