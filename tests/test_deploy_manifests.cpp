// The deployment files checked offline (tools/deploy/check_manifests.py): the Kubernetes
// manifests against Kubernetes' JSON schemas (kubernetes-validate, strict), the KServe
// InferenceService against its schema, the Dockerfile with hadolint and against setup.sh's pinned
// ONNX Runtime; each check also proves it refuses a misspelt field.
#include "test_support.hpp"

namespace {

TEST(DeployManifests, ValidateOffline) {
  const auto root = medport::testing::source_dir();
  const auto r = medport::testing::run_program({MEDPORT_PYTHON, (root / "tools/deploy/check_manifests.py").string(), root.string()});
  if (r.exit_code == 3) GTEST_SKIP() << r.out << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* expected : {"Deployment/medport-serve (Kubernetes", "Service/medport-serve", "HorizontalPodAutoscaler/medport-serve",
                               "a misspelt Deployment field is refused", "ok inferenceservice.yaml",
                               "a misspelt InferenceService field is refused", "passed: 0 fault(s)"})
    EXPECT_NE(r.out.find(expected), std::string::npos) << expected << "\n" << r.out;
}

}  // namespace
