// Operations: /metrics (Prometheus text), /openapi.json, /v1/models (what the viewer lists), and
// the browser viewer's files, all embedded in the binary (web_assets.hpp, generated at build time
// from src/server/web/).
#include "medport/server/web_assets.hpp"
#include "service.hpp"

namespace medport::server {

void add_segment_route(std::vector<Route>& r);
void add_echo_ef_route(std::vector<Route>& r);
void add_fewshot_route(std::vector<Route>& r);
void add_classify_route(std::vector<Route>& r);
void add_diffusion_routes(std::vector<Route>& r);

void add_task_routes(std::vector<Route>& r) {
  add_segment_route(r);
  add_echo_ef_route(r);
  add_fewshot_route(r);
  add_classify_route(r);
  add_diffusion_routes(r);
}

namespace {

void serve_asset(Call& c, const std::string& name) {
  const WebAsset* asset = find_web_asset(name);
  if (!asset) {
    c.res.status = 404;
    return;
  }
  c.res.status = 200;
  c.res.set_header("Cache-Control", "no-cache");
  c.res.set_header("X-Content-Type-Options", "nosniff");
  c.res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'");
  c.res.set_content(reinterpret_cast<const char*>(asset->data), asset->size, asset->content_type);
}

void list_models(Call& c) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : c.service.store.states()) {
    nlohmann::json e{{"name", s.name}, {"state", s.state}};
    if (s.state == "READY") {
      const auto m = c.service.store.get(s.name);
      e["version"] = m->version();
      e["family"] = m->family();
      e["pipeline"] = m->pipeline();
      e["variant"] = m->sidecar().variant;
    } else {
      e["reason"] = s.reason;
    }
    list.push_back(std::move(e));
  }
  c.reply_json(200, {{"models", list}});
}

}  // namespace

void add_ops_routes(std::vector<Route>& r) {
  r.push_back({"GET", "/metrics", [](Call& c) {
                 c.service.refresh_gauges();
                 c.res.status = 200;
                 c.res.set_content(c.service.metrics.text(), "text/plain; version=0.0.4; charset=utf-8");
               }});
  r.push_back({"GET", "/openapi.json", [](Call& c) { serve_asset(c, "openapi.json"); }, true});
  r.push_back({"GET", "/v1/models", list_models});
  r.push_back({"GET", "/", [](Call& c) { serve_asset(c, "index.html"); }, true});
  for (const auto& asset : web_assets()) {
    const std::string name = asset.name;
    if (name == "index.html" || name == "openapi.json") continue;
    r.push_back({"GET", "/" + name, [name](Call& c) { serve_asset(c, name); }, true});
  }
}

}  // namespace medport::server
