// Open Inference Protocol v2 (REST): health, server and model metadata, readiness, inference with
// JSON or binary tensors, and the model-repository extension (index, load, unload).
#include <chrono>

#include "medport/error.hpp"
#include "medport/models/nnunet/graph.hpp"
#include "medport/server/http_error.hpp"
#include "medport/server/json_body.hpp"
#include "medport/server/oip_codec.hpp"
#include "medport/triton/repository.hpp"
#include "medport/version.hpp"
#include "service.hpp"

namespace medport::server {

namespace {

using json = nlohmann::json;

std::optional<std::int64_t> version_param(const Call& c) {
  const auto it = c.params.find("version");
  if (it == c.params.end()) return std::nullopt;
  const std::string& v = it->second;
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos)
    throw HttpError(400, "model version must be a positive integer");
  return std::stoll(v);
}

std::shared_ptr<const ServedModel> model_of(Call& c) {
  c.set_model(triton::is_valid_model_name(c.param("name")) ? c.param("name") : "");
  return c.service.store.get(c.param("name"), version_param(c));
}

json tensor_metadata(const std::vector<models::TensorSpec>& specs) {
  json list = json::array();
  for (const auto& t : specs) {
    json shape = json::array();
    for (const auto& d : t.shape) shape.push_back(std::holds_alternative<std::int64_t>(d) ? std::get<std::int64_t>(d) : -1);
    list.push_back({{"name", t.name}, {"datatype", oip_datatype_of(t.dtype)}, {"shape", shape}});
  }
  return list;
}

void model_metadata(Call& c) {
  const auto m = model_of(c);
  const auto& g = m->main_graph();
  c.reply_json(200, {{"name", m->name()},
                     {"versions", {std::to_string(m->version())}},
                     {"platform", "onnxruntime_onnx"},
                     {"inputs", tensor_metadata(g.inputs)},
                     {"outputs", tensor_metadata(g.outputs)},
                     {"parameters", {{"medport_family", m->family()}, {"medport_graph", g.name}}}});
}

void model_ready(Call& c) {
  try {
    model_of(c);
  } catch (const HttpError& e) {
    if (e.status() == 400) throw;
    c.res.status = e.status();
    return;
  }
  c.res.status = 200;
}

// Inputs against the model's own spec (names, dtype, rank, fixed sizes; nnU-Net spatial sizes
// divisible by the network's stride product), so a malformed request is a 400, not an engine error.
void check_inputs(const ServedModel& m, const InferRequest& request) {
  const auto& specs = m.main_graph().inputs;
  for (const auto& in : request.inputs) {
    const models::TensorSpec* spec = nullptr;
    for (const auto& s : specs) spec = s.name == in.name ? &s : spec;
    if (!spec) throw HttpError(400, "model '" + m.name() + "' has no input '" + in.name.substr(0, 64) + "'");
    if (oip_datatype(in.tensor.dtype()) != oip_datatype_of(spec->dtype))
      throw HttpError(400, "input '" + in.name + "' must be " + oip_datatype_of(spec->dtype));
    const Shape& shape = in.tensor.shape();
    if (shape.size() != spec->shape.size())
      throw HttpError(400, "input '" + in.name + "' must have " + std::to_string(spec->shape.size()) + " axes, not " +
                               std::to_string(shape.size()));
    for (std::size_t k = 0; k < shape.size(); ++k) {
      if (shape[k] == 0) throw HttpError(400, "input '" + in.name + "' has an empty axis");
      const auto& d = spec->shape[k];
      if (std::holds_alternative<std::int64_t>(d) && std::get<std::int64_t>(d) != shape[k])
        throw HttpError(400, "input '" + in.name + "' axis " + std::to_string(k) + " must be " +
                                 std::to_string(std::get<std::int64_t>(d)));
    }
    if (m.family() == "nnunet") {
      const auto& strides = m.segmenter().info.stride_product;
      if (const auto k = models::nnunet::misfit_spatial_axis(shape, strides))
        throw HttpError(400, "input '" + in.name + "' spatial axis " + std::to_string(*k) + " must be a multiple of " +
                                 std::to_string(strides[*k]) + " for this network");
    }
  }
  for (const auto& s : specs) {
    bool given = false;
    for (const auto& in : request.inputs) given = given || in.name == s.name;
    if (!given) throw HttpError(400, "input '" + s.name + "' is missing");
  }
}

void infer(Call& c) {
  const auto m = model_of(c);
  std::optional<std::size_t> header_length;
  if (c.req.has_header("Inference-Header-Content-Length")) {
    const std::string v = c.req.get_header_value("Inference-Header-Content-Length");
    if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos)
      throw HttpError(400, "Inference-Header-Content-Length must be a byte count");
    header_length = std::stoull(v);
  }
  const InferRequest request = parse_infer_request(c.req.body, header_length);
  const auto& outputs = m->main_graph().outputs;
  for (const auto& name : request.requested_outputs) {
    bool known = false;
    for (const auto& o : outputs) known = known || o.name == name;
    if (!known) throw HttpError(400, "model '" + m->name() + "' has no output '" + name.substr(0, 64) + "'");
  }
  check_inputs(*m, request);
  const runtime::Session& session = m->session();
  std::vector<runtime::NamedTensor> results;
  {
    auto ticket = c.admit();
    c.deadline.check("the queue");
    const auto start = Clock::now();
    results = session.run(request.inputs);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    c.service.metrics.observe_inference(m->name(), seconds);
    c.service.admission.record_duration(seconds);
  }
  InferReply reply = encode_infer_reply(m->name(), std::to_string(m->version()), request, results);
  c.res.status = 200;
  if (reply.header_length) {
    c.res.set_header("Inference-Header-Content-Length", std::to_string(*reply.header_length));
    c.res.set_content(std::move(reply.body), "application/octet-stream");
  } else {
    c.res.set_content(std::move(reply.body), "application/json");
  }
}

void repository_index(Call& c) {
  bool ready_only = false;
  if (!c.req.body.empty()) {
    const json body = parse_strict_json(c.req.body, "repository index request");
    allow_only_keys(body, {"ready"}, "repository index request");
    if (body.contains("ready")) {
      if (!body["ready"].is_boolean()) throw UsageError("repository index request: ready must be true or false");
      ready_only = body["ready"].get<bool>();
    }
  }
  json list = json::array();
  for (const auto& s : c.service.store.states()) {
    if (ready_only && s.state != "READY") continue;
    json e{{"name", s.name}, {"state", s.state}, {"reason", s.reason}};
    if (s.version) e["version"] = std::to_string(*s.version);
    list.push_back(std::move(e));
  }
  c.reply_json(200, list);
}

void check_control_body(const Call& c) {
  if (c.req.body.empty()) return;
  const json body = parse_strict_json(c.req.body, "repository request");
  allow_only_keys(body, {"parameters"}, "repository request");
}

void load_model(Call& c) {
  c.set_model(c.param("name"));
  check_control_body(c);
  try {
    c.service.store.load(c.param("name"));
  } catch (const InputError& e) {
    throw HttpError(400, std::string("failed to load: ") + e.what());
  }
  c.service.refresh_gauges();
  c.reply_json(200, json::object());
}

void unload_model(Call& c) {
  c.set_model(c.param("name"));
  check_control_body(c);
  try {
    c.service.store.unload(c.param("name"));
  } catch (const InputError& e) {
    throw HttpError(400, e.what());
  }
  c.service.refresh_gauges();
  c.reply_json(200, json::object());
}

}  // namespace

void add_oip_routes(std::vector<Route>& r) {
  r.push_back({"GET", "/v2/health/live", [](Call& c) { c.res.status = 200; }, true});
  r.push_back({"GET", "/v2/health/ready",
               [](Call& c) { c.res.status = (!c.service.draining && c.service.store.loaded() > 0) ? 200 : 503; }, true});
  r.push_back({"GET", "/v2", [](Call& c) {
                 c.reply_json(200, {{"name", "medport"},
                                    {"version", std::string(kVersion)},
                                    {"extensions", {"binary_tensor_data", "model_repository", "medport_tasks"}}});
               }});
  r.push_back({"GET", "/v2/models/{name}", model_metadata});
  r.push_back({"GET", "/v2/models/{name}/versions/{version}", model_metadata});
  r.push_back({"GET", "/v2/models/{name}/ready", model_ready});
  r.push_back({"GET", "/v2/models/{name}/versions/{version}/ready", model_ready});
  r.push_back({"POST", "/v2/models/{name}/infer", infer});
  r.push_back({"POST", "/v2/models/{name}/versions/{version}/infer", infer});
  r.push_back({"POST", "/v2/repository/index", repository_index});
  r.push_back({"POST", "/v2/repository/models/{name}/load", load_model});
  r.push_back({"POST", "/v2/repository/models/{name}/unload", unload_model});
}

}  // namespace medport::server
