// `medport convert` of timm checkpoints and `medport classify` on images and videos made here:
// per-frame results equal classifying the same frames as images, rotation metadata is honoured
// (the direction ffmpeg and phones mean), --compare of a model with itself reports no difference,
// and bad inputs exit 3 naming the file.
#include <cstring>
#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using medport::testing::read_json;
using medport::testing::run_medport;
using medport::testing::TempDir;

const fs::path kCases = fs::path(MEDPORT_SOURCE_DIR) / "tests/fixtures/timm";

// A landscape frame with a bright marker in its top-left corner and content that changes per frame.
cv::Mat frame(int i) {
  cv::Mat f(240, 320, CV_8UC3, cv::Scalar(30, 30, 30));
  cv::rectangle(f, {0, 0}, {59, 39}, cv::Scalar(255, 255, 255), cv::FILLED);
  cv::circle(f, {160 + 8 * (i % 10), 120}, 30 + 4 * i, cv::Scalar(40 * (i % 6), 200, 255 - 20 * i), 10);
  cv::line(f, {0, 239}, {319, 240 - 20 * i}, cv::Scalar(0, 128 + 10 * i, 0), 6);
  return f;
}

// Writes an MP4 (mpeg4); with `rotate90` its track header gets the display matrix ffmpeg writes
// for "rotate=90" (0 1 -1 0, translated by the height): players show it turned 90 degrees clockwise.
void write_video(const fs::path& path, int frames, bool rotate90) {
  const fs::path plain = path.string() + ".plain.mp4";
  cv::VideoWriter w(plain.string(), cv::VideoWriter::fourcc('m', 'p', '4', 'v'), 10.0, cv::Size(320, 240));
  ASSERT_TRUE(w.isOpened());
  for (int i = 0; i < frames; ++i) w.write(frame(i));
  w.release();
  std::ifstream in(plain, std::ios::binary);
  std::vector<char> b((std::istreambuf_iterator<char>(in)), {});
  bool patched = !rotate90;
  for (std::size_t i = 4; rotate90 && i + 64 < b.size(); ++i) {
    if (std::memcmp(&b[i], "tkhd", 4) != 0) continue;
    const std::size_t matrix = i - 4 + (b[i + 4] ? 60 : 48);
    const std::int32_t m[9] = {0, 0x10000, 0, -0x10000, 0, 0, 240 << 16, 0, 0x40000000};
    for (int k = 0; k < 9; ++k)
      for (int byte = 0; byte < 4; ++byte)
        b[matrix + 4 * k + byte] = static_cast<char>((static_cast<std::uint32_t>(m[k]) >> (24 - 8 * byte)) & 0xff);
    patched = true;
  }
  ASSERT_TRUE(patched) << "no tkhd box in " << plain;
  std::ofstream(path, std::ios::binary).write(b.data(), static_cast<std::streamsize>(b.size()));
}

class ClassifyCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const auto ck = (kCases / "tf_mobilenetv3_small_minimal_fp16/model.pth").string();
    for (const bool fp16 : {false, true}) {
      std::vector<std::string> args{"convert", ck, "--arch", "tf_mobilenetv3_small_minimal_100", "--classes",
                                    (dir_->path() / "classes.txt").string(), "-o", model(fp16)};
      if (fp16) args.push_back("--fp16");
      std::ofstream(dir_->path() / "classes.txt") << "A2C\nA3C\nA4C\nPLAX\nPSAX\n";
      const auto r = run_medport(args);
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string model(bool fp16 = false) { return (dir_->path() / (fp16 ? "m16.onnx" : "m.onnx")).string(); }
  static TempDir* dir_;
};
TempDir* ClassifyCli::dir_ = nullptr;

TEST_F(ClassifyCli, SidecarCarriesTheDeploymentContract) {
  const auto s = read_json(dir_->path() / "m.medport.json");
  EXPECT_EQ(s["family"], "timm");
  EXPECT_EQ(s["timm"]["class_names"], nlohmann::json({"A2C", "A3C", "A4C", "PLAX", "PSAX"}));
  EXPECT_EQ(s["timm"]["input_size"], nlohmann::json({3, 224, 224}));
  EXPECT_EQ(s["timm"]["normalization_from"]["source"], "timm_default");
  EXPECT_EQ(s["graphs"][0]["inputs"][0]["name"], "image");
  EXPECT_EQ(s["graphs"][0]["outputs"][0]["name"], "probs");
}

TEST_F(ClassifyCli, ImagesAndFoldersAsResumableBatches) {
  const TempDir tmp;
  fs::create_directories(tmp / "imgs");
  for (int i = 0; i < 3; ++i) cv::imwrite((tmp / "imgs" / ("f" + std::to_string(i) + ".png")).string(), frame(i));
  cv::Mat gray;
  cv::cvtColor(frame(5), gray, cv::COLOR_BGR2GRAY);
  cv::imwrite((tmp / "gray.png").string(), gray);
  const auto r = run_medport({"classify", model(), (tmp / "imgs").string(), (tmp / "gray.png").string(), "--top-k", "2",
                              "-o", (tmp / "out").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("f0: "), std::string::npos) << r.out;
  const auto all = read_json(tmp / "out/classification.json");
  ASSERT_EQ(all["images"].size(), 4u);
  EXPECT_EQ(all["images"][3]["image"], "gray");
  EXPECT_EQ(all["images"][0]["top_k"].size(), 2u);
  double sum = 0;
  for (const auto& [k, p] : all["images"][0]["probabilities"].items()) sum += p.get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-5);
  const std::string csv = medport::testing::read_text(tmp / "out/classification.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "image,source,top1,top1_probability,A2C,A3C,A4C,PLAX,PSAX");
  // A second run keeps the finished cases and writes the same table.
  const auto again = run_medport({"classify", model(), (tmp / "imgs").string(), (tmp / "gray.png").string(), "-o",
                                  (tmp / "out").string()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out.find("f0: "), std::string::npos) << "finished cases are skipped";
  EXPECT_EQ(medport::testing::read_text(tmp / "out/classification.csv"), csv);
}

TEST_F(ClassifyCli, VideoFramesEqualTheSameFramesAsImagesAndRotationIsHonoured) {
  const TempDir tmp;
  write_video(tmp / "cine.mp4", 12, true);
  const auto r = run_medport({"classify", model(), "--video", (tmp / "cine.mp4").string(), "--stride", "2",
                              "--save-debug-frames", (tmp / "frames").string(), "-o", (tmp / "out").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto v = read_json(tmp / "out/frames.json");
  EXPECT_EQ(v["video"]["rotation"], 90);
  EXPECT_EQ(v["video"]["rotation_from"], "metadata");
  EXPECT_EQ(v["video"]["width"], 240);   // portrait after the rotation
  EXPECT_EQ(v["video"]["height"], 320);
  const auto& frames = v["frames"];
  ASSERT_EQ(frames.size(), 6u);
  EXPECT_EQ(frames[1]["frame"], 2);
  EXPECT_TRUE(fs::exists(tmp / "out/probabilities.png"));
  EXPECT_FALSE(cv::imread((tmp / "out/probabilities.png").string()).empty());

  // Clockwise: the marker of the top-left corner is now at the top right.
  const cv::Mat first = cv::imread((tmp / "frames/frame_000000.png").string());
  ASSERT_EQ(first.cols, 240);
  EXPECT_GT(cv::mean(first(cv::Rect(205, 5, 30, 50)))[0], 200.0);
  EXPECT_LT(cv::mean(first(cv::Rect(5, 5, 30, 50)))[0], 100.0);

  // The same decoded frames as images give the same probabilities.
  const auto img = run_medport({"classify", model(), (tmp / "frames").string(), "-o", (tmp / "imgs").string()});
  ASSERT_EQ(img.exit_code, 0) << img.err;
  const auto images = read_json(tmp / "imgs/classification.json")["images"];
  ASSERT_EQ(images.size(), frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(images[i]["image"], "frame_" + std::string(6 - std::to_string(frames[i]["frame"].get<int>()).size(), '0') +
                                      std::to_string(frames[i]["frame"].get<int>()));
    for (const auto& [label, p] : frames[i]["probabilities"].items())
      EXPECT_NEAR(images[i]["probabilities"][label].get<double>(), p.get<double>(), 2e-6) << i << " " << label;
  }

  // --rotate 0 overrides the metadata.
  const auto raw = run_medport({"classify", model(), "--video", (tmp / "cine.mp4").string(), "--rotate", "0",
                                "--max-frames", "2", "-o", (tmp / "raw").string()});
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  const auto rv = read_json(tmp / "raw/frames.json");
  EXPECT_EQ(rv["video"]["width"], 320);
  EXPECT_EQ(rv["video"]["rotation_from"], "--rotate");
  EXPECT_EQ(rv["frames"].size(), 2u);
}

TEST_F(ClassifyCli, CompareWithItselfAndWithTheFp16Export) {
  const TempDir tmp;
  write_video(tmp / "cine.mp4", 8, false);
  const auto same = run_medport({"classify", model(), "--video", (tmp / "cine.mp4").string(), "--compare", model(), "-o",
                                 (tmp / "same").string()});
  ASSERT_EQ(same.exit_code, 0) << same.err;
  const auto c = read_json(tmp / "same/comparison.json");
  EXPECT_EQ(c["frames"], 8);
  EXPECT_EQ(c["max_abs_diff"].get<double>(), 0.0);
  EXPECT_EQ(c["top1_agreement"].get<double>(), 1.0);
  EXPECT_TRUE(c["first_disagreeing_frame"].is_null());
  EXPECT_NE(same.out.find("top-1 agreement               100.00 %"), std::string::npos) << same.out;
  EXPECT_TRUE(fs::exists(tmp / "same/comparison.png"));

  const auto half = run_medport({"classify", model(), "--video", (tmp / "cine.mp4").string(), "--compare", model(true),
                                 "-o", (tmp / "half").string()});
  ASSERT_EQ(half.exit_code, 0) << half.err;
  const auto h = read_json(tmp / "half/comparison.json");
  EXPECT_GT(h["max_abs_diff"].get<double>(), 0.0);
  EXPECT_LT(h["max_abs_diff"].get<double>(), 5e-3);
  EXPECT_EQ(h["per_frame"].size(), 8u);
}

TEST_F(ClassifyCli, BadInputsExit3NamingTheFile) {
  const TempDir tmp;
  std::ofstream(tmp / "notavideo.mp4") << "this is not a video";
  auto r = run_medport({"classify", model(), "--video", (tmp / "notavideo.mp4").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("notavideo.mp4"), std::string::npos) << r.err;

  {  // a container with no frame at all
    cv::VideoWriter w((tmp / "empty.avi").string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10.0, cv::Size(64, 48));
    w.release();
  }
  r = run_medport({"classify", model(), "--video", (tmp / "empty.avi").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("empty.avi"), std::string::npos) << r.err;

  r = run_medport({"classify", model(), "--video", (tmp / "missing.mp4").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("no such video file"), std::string::npos) << r.err;
  r = run_medport({"classify", model(), "--video", "/dev/zero"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("/dev/zero: not a regular file"), std::string::npos) << r.err;

  r = run_medport({"convert", (kCases / "resnet50d_plain_bf16/model.pth").string(), "--arch", "swin_tiny_patch4_window7_224",
                   "-o", (tmp / "x.onnx").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("swin_tiny_patch4_window7_224"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ConvNeXt"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "x.onnx"));

  std::ofstream(tmp / "classes.txt") << "one\ntwo\n";
  r = run_medport({"convert", (kCases / "resnet50d_plain_bf16/model.pth").string(), "--arch", "resnet50d", "--classes",
                   (tmp / "classes.txt").string(), "-o", (tmp / "y.onnx").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find((tmp / "classes.txt").string()), std::string::npos) << r.err;

  r = run_medport({"classify", model()});
  EXPECT_EQ(r.exit_code, 2) << "nothing to classify is a usage error";
}

}  // namespace
