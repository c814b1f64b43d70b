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

TEST(YamlJson, AliasBombsStopAtTheValueBudget) {
  // 9 levels of 9 aliases: 9^9 values if expanded; 300 bytes of text.
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 9; ++k) text += (k ? ", *a" : "*a") + std::to_string(i - 1);
    text += "]\n";
  }
  try {
    medport::yaml_to_json(text, "laughs.yaml");
    FAIL() << "expanded";
  } catch (const medport::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("laughs.yaml"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("more than 100000 values"), std::string::npos) << e.what();
  }
}

TEST(YamlJson, AKeyGivenTwiceIsRefused) {
  EXPECT_THROW(medport::yaml_to_json("threshold: 0.5\nthreshold: 0.9\n", "twice.yaml"), medport::InputError);
}
