#include "medport/util/yaml_json.hpp"

#include "medport/error.hpp"
#include "test_support.hpp"

namespace {

TEST(YamlJson, ScalarsListsAndMaps) {
  const auto j = medport::yaml_to_json(
      "base_channels: 16   # a comment\n"
      "volume_shape: [16, 256, 256]\n"
      "name: \"16\"\n"
      "ratio: 0.5\n"
      "enabled: true\n"
      "nothing: ~\n"
      "labels:\n"
      "  - liver\n"
      "  - spleen\n"
      "nested: {a: 1, b: [x, 2]}\n",
      "cfg.yaml");
  EXPECT_EQ(j["base_channels"], 16);
  EXPECT_TRUE(j["base_channels"].is_number_integer());
  EXPECT_EQ(j["volume_shape"], nlohmann::json::array({16, 256, 256}));
  EXPECT_TRUE(j["name"].is_string());
  EXPECT_DOUBLE_EQ(j["ratio"].get<double>(), 0.5);
  EXPECT_EQ(j["enabled"], true);
  EXPECT_TRUE(j["nothing"].is_null());
  EXPECT_EQ(j["labels"], nlohmann::json::array({"liver", "spleen"}));
  EXPECT_EQ(j["nested"]["b"][1], 2);
}

TEST(YamlJson, SyntaxErrorsNameTheSource) {
  try {
    medport::yaml_to_json("a: [1, 2\nb: }", "broken.yaml");
    FAIL() << "expected an InputError";
  } catch (const medport::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("broken.yaml: invalid YAML"), std::string::npos) << e.what();
  }
}

}  // namespace
