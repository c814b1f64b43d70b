#pragma once
// Shared by the test_graphrun_*.cpp executables: run a graph::Graph in ONNX Runtime and compute
// reference values with PyTorch (/usr/bin/python3) at test time.
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "medport/graph/builder.hpp"
#include "medport/graph/onnx_writer.hpp"
#include "medport/runtime/session.hpp"
#include "test_support.hpp"

namespace graphrun {

using namespace medport;
using namespace medport::graph;
using runtime::NamedTensor;

inline runtime::SessionOptions one_thread() {
  runtime::SessionOptions o;
  o.intra_op_threads = 1;
  return o;
}

// Writes the graph (the checker runs inside to_model_bytes) and runs it.
inline std::vector<NamedTensor> run(const Graph& g, const std::vector<NamedTensor>& inputs) {
  const auto bytes = to_model_bytes(g);
  runtime::Session session(bytes, one_thread());
  return session.run(inputs);
}

inline Tensor output(const std::vector<NamedTensor>& outs, const std::string& name) {
  for (const auto& o : outs)
    if (o.name == name) return o.tensor;
  throw std::runtime_error("no output " + name);
}

// Deterministic values in [lo, hi).
inline Tensor random_tensor(Shape shape, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
  std::uint32_t state = seed * 2654435761u + 12345u;
  for (auto& x : v) {
    state = state * 1664525u + 1013904223u;
    x = lo + (hi - lo) * static_cast<float>(state >> 8) / static_cast<float>(1u << 24);
  }
  return Tensor::from_f32(std::move(shape), v);
}

inline std::string python_list(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

struct Reference {
  std::map<std::string, std::vector<float>> values;
  std::map<std::string, Shape> shapes;
};

// Runs `body` with torch, numpy (np) and F imported; each input is a float32 torch tensor
// bound to its name; `save("name", tensor)` records an output. Fails the test on errors.
inline Reference torch_reference(const std::string& body, const std::vector<std::pair<std::string, Tensor>>& inputs) {
  medport::testing::TempDir dir;
  std::ostringstream script;
  script << "import sys, json, numpy as np, torch\nimport torch.nn.functional as F\n"
         << "torch.set_grad_enabled(False)\nD = sys.argv[1]\n_shapes = {}\n"
         << "def _load(n, s): return torch.from_numpy(np.fromfile(D + '/' + n + '.in', dtype=np.float32).reshape(s).copy())\n"
         << "def save(n, t):\n"
         << "    a = (t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t)).astype(np.float32)\n"
         << "    a.tofile(D + '/' + n + '.out'); _shapes[n] = list(a.shape)\n";
  for (const auto& [name, tensor] : inputs) {
    const auto values = tensor.to_f32();
    std::ofstream(dir / (name + ".in"), std::ios::binary)
        .write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * 4));
    script << name << " = _load('" << name << "', " << python_list(tensor.shape()) << ")\n";
  }
  script << body << "\njson.dump(_shapes, open(D + '/shapes.json', 'w'))\n";
  std::ofstream(dir / "ref.py") << script.str();
  const auto result = medport::testing::run_program({MEDPORT_PYTHON, (dir / "ref.py").string(), dir.path().string()});
  Reference ref;
  EXPECT_EQ(result.exit_code, 0) << result.err;
  if (result.exit_code != 0) return ref;
  std::ifstream shapes_file(dir / "shapes.json");
  std::string shapes_text((std::istreambuf_iterator<char>(shapes_file)), std::istreambuf_iterator<char>());
  // {"name": [d0, d1], ...}: parsed by hand to keep this header dependency-free.
  std::size_t pos = 0;
  while ((pos = shapes_text.find('"', pos)) != std::string::npos) {
    const auto end = shapes_text.find('"', pos + 1);
    const std::string name = shapes_text.substr(pos + 1, end - pos - 1);
    const auto open = shapes_text.find('[', end), close = shapes_text.find(']', open);
    Shape shape;
    std::istringstream dims(shapes_text.substr(open + 1, close - open - 1));
    std::string d;
    while (std::getline(dims, d, ','))
      if (d.find_first_not_of(' ') != std::string::npos) shape.push_back(std::stoll(d));
    std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
    std::ifstream(dir / (name + ".out"), std::ios::binary)
        .read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
    ref.values[name] = std::move(v);
    ref.shapes[name] = std::move(shape);
    pos = close;
  }
  return ref;
}

inline void expect_close(const Tensor& got, const Reference& ref, const std::string& name, float atol = 1e-5f,
                         float rtol = 1e-4f) {
  ASSERT_TRUE(ref.values.count(name)) << "no reference for " << name;
  EXPECT_EQ(got.shape(), ref.shapes.at(name)) << name;
  const auto g = got.to_f32();
  const auto& want = ref.values.at(name);
  ASSERT_EQ(g.size(), want.size()) << name;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (std::fabs(g[i] - want[i]) > atol + rtol * std::fabs(want[i])) {
      if (++bad <= 5) ADD_FAILURE() << name << "[" << i << "]: got " << g[i] << ", want " << want[i];
    }
  }
  EXPECT_EQ(bad, 0u) << name << ": " << bad << " of " << g.size() << " values differ";
}

inline void expect_values(const Tensor& got, const Shape& shape, const std::vector<float>& want, float atol = 1e-6f) {
  EXPECT_EQ(got.shape(), shape);
  const auto g = got.to_f32();
  ASSERT_EQ(g.size(), want.size());
  for (std::size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want[i], atol) << "index " << i;
}

}  // namespace graphrun
