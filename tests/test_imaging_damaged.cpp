// Damaged images are errors, never zero-filled or "repaired": each case below is refused with an
// InputError that names the file and the field at fault; the intact twin of each is read.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "hostile_files.hpp"
#include "medport/error.hpp"
#include "medport/imaging/image_io.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using medport::InputError;
using medport::testing::NiftiSpec;
using medport::testing::nifti_bytes;
using medport::testing::write_bytes;
using namespace medport::imaging;

// Reading `name` (holding `bytes`) fails with an InputError mentioning the file and `field`.
void expect_refused(const fs::path& dir, const std::string& name, const std::string& bytes, const std::string& field) {
  write_bytes(dir / name, bytes);
  try {
    read_image(dir / name);
    ADD_FAILURE() << name << " was read; expected a refusal naming " << field;
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(name), std::string::npos) << what;
    EXPECT_NE(what.find(field), std::string::npos) << name << ": " << what;
  }
}

NiftiSpec with(void (*change)(NiftiSpec&)) {
  NiftiSpec s;
  change(s);
  return s;
}

TEST(DamagedNifti, IntactFilesReadInBothByteOrdersAndCompressed) {
  medport::testing::TempDir dir;
  NiftiSpec spec;
  spec.dims = {4, 3, 2};
  write_bytes(dir / "ok.nii", nifti_bytes(spec));
  const Image a = read_image(dir / "ok.nii");
  EXPECT_EQ(a.shape, (medport::Shape{1, 2, 3, 4}));
  EXPECT_EQ(a.spacing, (std::vector<double>{2.0, 0.25, 0.5}));
  EXPECT_EQ(a.data[23], 23.0F);
  spec.big_endian = true;
  write_bytes(dir / "be.nii", nifti_bytes(spec));
  EXPECT_EQ(read_image(dir / "be.nii").data, a.data);
  write_bytes(dir / "ok.nii.gz", medport::testing::gzip(nifti_bytes(NiftiSpec{})));
  EXPECT_EQ(read_image(dir / "ok.nii.gz").shape, (medport::Shape{1, 3, 4}));
  // Two gzip members back to back are one stream to gzip readers.
  const std::string whole = nifti_bytes(NiftiSpec{});
  write_bytes(dir / "two.nii.gz", medport::testing::gzip(whole.substr(0, 100)) + medport::testing::gzip(whole.substr(100)));
  EXPECT_EQ(read_image(dir / "two.nii.gz").data, read_image(dir / "ok.nii.gz").data);
}

TEST(DamagedNifti, HeaderFieldsAreCheckedNotRepaired) {
  medport::testing::TempDir dir;
  const fs::path d = dir.path();
  expect_refused(d, "hdr.nii", nifti_bytes(with([](NiftiSpec& s) { s.sizeof_hdr = 347; })), "sizeof_hdr");
  expect_refused(d, "v2.nii", nifti_bytes(with([](NiftiSpec& s) { s.sizeof_hdr = 540; })), "NIfTI-2");
  expect_refused(d, "magic.nii", nifti_bytes(with([](NiftiSpec& s) { s.magic = std::string(4, '\0'); })), "magic");
  expect_refused(d, "ni1.nii", nifti_bytes(with([](NiftiSpec& s) { s.magic = std::string("ni1\0", 4); })), "magic");
  expect_refused(d, "bitpix.nii", nifti_bytes(with([](NiftiSpec& s) { s.bitpix = 8; })), "bitpix");
  expect_refused(d, "dtype.nii", nifti_bytes(with([](NiftiSpec& s) { s.datatype = 32; s.bitpix = 64; })), "datatype");
  expect_refused(d, "dim.nii", nifti_bytes(with([](NiftiSpec& s) { s.dims = {4, -3}; })), "dim[2]");
  expect_refused(d, "ndim.nii", nifti_bytes(with([](NiftiSpec& s) { s.dims = {4}; })), "dimensions");
  expect_refused(d, "voxneg.nii", nifti_bytes(with([](NiftiSpec& s) { s.vox_offset = -352.0F; })), "vox_offset");
  expect_refused(d, "voxnan.nii", nifti_bytes(with([](NiftiSpec& s) { s.vox_offset = std::nanf(""); })), "vox_offset");
  expect_refused(d, "voxsmall.nii", nifti_bytes(with([](NiftiSpec& s) { s.vox_offset = 100.0F; })), "vox_offset");
  expect_refused(d, "voxhuge.nii", nifti_bytes(with([](NiftiSpec& s) { s.vox_offset = 1e24F; })), "vox_offset");
  expect_refused(d, "voxfrac.nii", nifti_bytes(with([](NiftiSpec& s) { s.vox_offset = 352.5F; })), "vox_offset");
  expect_refused(d, "pix0.nii", nifti_bytes(with([](NiftiSpec& s) { s.pixdim = {0.0F, 1.0F}; })), "pixdim[1]");
  expect_refused(d, "pixneg.nii", nifti_bytes(with([](NiftiSpec& s) { s.pixdim = {1.0F, -0.5F}; })), "pixdim[2]");
  expect_refused(d, "pixnan.nii", nifti_bytes(with([](NiftiSpec& s) { s.pixdim = {std::nanf(""), 1.0F}; })), "pixdim[1]");
  expect_refused(d, "pixinf.nii",
                 nifti_bytes(with([](NiftiSpec& s) {
                   s.dims = {2, 2, 2};
                   s.pixdim = {1.0F, 1.0F, std::numeric_limits<float>::infinity()};
                 })),
                 "pixdim[3]");
  expect_refused(d, "slope.nii",
                 nifti_bytes(with([](NiftiSpec& s) { s.scl_slope = std::numeric_limits<float>::infinity(); })), "scl_slope");
}

TEST(DamagedNifti, DataLengthAndGzipStreamAreChecked) {
  medport::testing::TempDir dir;
  const fs::path d = dir.path();
  const std::string whole = nifti_bytes(NiftiSpec{});
  expect_refused(d, "short.nii", whole.substr(0, whole.size() - 1), "truncated");
  expect_refused(d, "long.nii", whole + std::string(16, '\0'), "after the voxel data");
  expect_refused(d, "tiny.nii", whole.substr(0, 200), "348");
  const std::string gz = medport::testing::gzip(whole);
  expect_refused(d, "cut.nii.gz", gz.substr(0, gz.size() - 6), "truncated");
  expect_refused(d, "nocrc.nii.gz", gz.substr(0, gz.size() - 8), "checksum");
  std::string crc = gz;
  crc[crc.size() - 6] ^= 0x01;  // CRC-32 of the member
  expect_refused(d, "crc.nii.gz", crc, "corrupt");
  expect_refused(d, "flip.nii.gz", medport::testing::flip_byte(gz, 0.5), "gzip");
  expect_refused(d, "short.nii.gz", medport::testing::gzip(whole.substr(0, whole.size() - 4)), "truncated");
  expect_refused(d, "long.nii.gz", medport::testing::gzip(whole + "xxxx"), "more than");
  expect_refused(d, "garbage.nii.gz", gz + "trailing", "corrupt");
  expect_refused(d, "plain.nii.gz", whole, "gzip");
  // A header claiming 2 GB behind a few hundred compressed bytes: refused before inflating.
  NiftiSpec bomb;
  bomb.dims = {1024, 1024, 512};
  bomb.datatype = 2;
  bomb.header_only = true;
  const std::string head = nifti_bytes(bomb);
  expect_refused(d, "bomb.nii.gz", medport::testing::gzip(head + std::string(1 << 16, '\0')), "decompression bomb");
}

TEST(DamagedMetaImage, DataFileStaysInTheHeadersFolder) {
  medport::testing::TempDir dir;
  const fs::path d = dir / "case";
  fs::create_directories(d / "sub");
  const std::string raw(4, '\x07');
  write_bytes(dir / "outside.raw", raw);
  write_bytes(d / "sub" / "in.raw", raw);
  auto header = [](const std::string& file) {
    return medport::testing::metaimage_header(
        {{"NDims", "2"}, {"DimSize", "2 2"}, {"ElementType", "MET_UCHAR"}, {"ElementDataFile", file}});
  };
  write_bytes(d / "sub.mhd", header("sub/in.raw"));
  EXPECT_EQ(read_image(d / "sub.mhd").data, (std::vector<float>(4, 7.0F)));
  expect_refused(d, "up.mhd", header("../outside.raw"), "..");
  expect_refused(d, "abs.mhd", header((dir / "outside.raw").string()), "absolute");
  expect_refused(d, "etc.mhd", header("/etc/passwd"), "absolute");
  fs::create_symlink(dir / "outside.raw", d / "link.raw");
  expect_refused(d, "link.mhd", header("link.raw"), "outside the header's folder");
  fs::create_directory_symlink(dir.path(), d / "linkdir");
  expect_refused(d, "linkdir.mhd", header("linkdir/outside.raw"), "outside the header's folder");
}

TEST(DamagedMetaImage, SpacingAndLengthAreChecked) {
  medport::testing::TempDir dir;
  const fs::path d = dir.path();
  auto mha = [](const std::string& spacing, std::size_t bytes) {
    return medport::testing::metaimage_header({{"NDims", "2"},
                                               {"DimSize", "2 2"},
                                               {"ElementSpacing", spacing},
                                               {"ElementType", "MET_UCHAR"},
                                               {"ElementDataFile", "LOCAL"}}) +
           std::string(bytes, '\x01');
  };
  EXPECT_EQ(read_image((write_bytes(d / "ok.mha", mha("0.5 0.5", 4)), d / "ok.mha")).spacing, (std::vector<double>{0.5, 0.5}));
  expect_refused(d, "zero.mha", mha("0 0.5", 4), "ElementSpacing");
  expect_refused(d, "neg.mha", mha("-1 0.5", 4), "ElementSpacing");
  expect_refused(d, "nan.mha", mha("nan 0.5", 4), "ElementSpacing");
  expect_refused(d, "long.mha", mha("1 1", 5), "too long");
  expect_refused(d, "short.mha", mha("1 1", 3), "truncated");
}

TEST(DamagedNaturalImages, DecoderDamageIsRefused) {
  medport::testing::TempDir dir;
  const fs::path d = dir.path();
  using medport::testing::flip_byte;
  using medport::testing::truncate_to;
  const std::string jpg = medport::testing::jpeg_bytes(64, 64), png = medport::testing::png_bytes(64, 64),
                    tif = medport::testing::tiff_bytes(64, 64);
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{{"ok.jpg", jpg}, {"ok.png", png}, {"ok.tif", tif}}) {
    write_bytes(d / name, bytes);
    EXPECT_EQ(read_image(d / name).shape, (medport::Shape{1, 64, 64})) << name;
  }
  expect_refused(d, "cut.jpg", truncate_to(jpg, 0.6), "Premature end of JPEG");
  // JPEG has no checksum: damage shows when it breaks the entropy code or the markers.
  std::string stray = jpg;
  stray.insert(stray.size() * 2 / 3, "\xFF\xD9");
  expect_refused(d, "marker.jpg", stray, "Corrupt JPEG data");
  expect_refused(d, "cut.png", truncate_to(png, 0.6), "png");
  expect_refused(d, "flip.png", flip_byte(png, 0.5), "decode");
  expect_refused(d, "cut.tif", truncate_to(tif, 0.5), "TIFF");
  expect_refused(d, "huge.png", medport::testing::png_declaring(100000, 100000), "2^26");
  expect_refused(d, "nocodec.tif", medport::testing::tiff_declaring(65286, 2051, 0), "compression 0");
  expect_refused(d, "lzw.tif", medport::testing::tiff_declaring(8000, 8000, 5), "decompression bomb");
  expect_refused(d, "raw.tif", medport::testing::tiff_declaring(4000, 4000, 1), "decompression bomb");
  expect_refused(d, "lying.png", medport::testing::png_declaring(4000, 4000), "decompression bomb");
  expect_refused(d, "empty.png", "", "empty");
  // Other formats OpenCV knows are not read through a .png name (a JPEG 2000 codestream here).
  expect_refused(d, "j2k.png", std::string("\xff\x4f\xff\x51\x00\x2f\x00\x00", 8) + std::string(64, '\0'),
                 "not PNG, JPEG, TIFF or BMP");
  expect_refused(d, "text.png", "this is not an image", "decode");
}

TEST(DamagedNaturalImages, ValidButHugeImageRefusedFromItsHeader) {
  medport::testing::TempDir dir;
  const fs::path d = dir.path();
  // A real 16000 x 16000 PNG (~250 KB, 2^27.9 values: under the value cap) decodes to 256 MB and
  // 1 GiB as floats: refused by the 2^26-pixel cap before OpenCV allocates anything.
  const std::string big = medport::testing::png_black(16000, 16000);
  EXPECT_LT(big.size(), 1U << 20);
  expect_refused(d, "big.png", big, "more than the 2^26 pixels");
  // The cap's edge: 8192 x 8193 is over it; 8192 x 8192 passes it (and is then refused for
  // holding no pixel data).
  expect_refused(d, "over.png", medport::testing::png_declaring(8192, 8193), "2^26");
  expect_refused(d, "edge.png", medport::testing::png_declaring(8192, 8192), "decompression bomb");
}

TEST(NonFinitePixels, RefusedUnlessNanToNumSaysHow) {
  medport::testing::TempDir dir;
  NiftiSpec spec;
  spec.values = {1.0, std::nan(""), -std::numeric_limits<double>::infinity(), 4.0, std::numeric_limits<double>::infinity(), 6.0};
  write_bytes(dir / "nan.nii", nifti_bytes(spec));
  try {
    read_image(dir / "nan.nii");
    ADD_FAILURE() << "NaN pixels were read";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("nan.nii: holds non-finite pixel values (2 NaN, 2 +inf, 2 -inf; first at [0, 0, 1])"),
              std::string::npos)
        << e.what();
  }
  ReadOptions zero;
  zero.non_finite = parse_nan_to_num("0");
  const Image z = read_image(dir / "nan.nii", zero);
  EXPECT_EQ(z.data[1], 0.0F);
  EXPECT_EQ(z.data[2], 0.0F);
  EXPECT_EQ(z.data[4], 0.0F);
  ReadOptions extremes;
  extremes.non_finite = parse_nan_to_num("nan=-1,posinf=max,neginf=min");
  const Image e = read_image(dir / "nan.nii", extremes);
  EXPECT_EQ(e.data[1], -1.0F);
  EXPECT_EQ(e.data[2], 1.0F);  // min of the finite values 1, 4, 6, 1, 4, 6
  EXPECT_EQ(e.data[4], 6.0F);
  ReadOptions only_nan;
  only_nan.non_finite = parse_nan_to_num("nan=0");
  EXPECT_THROW(read_image(dir / "nan.nii", only_nan), InputError);  // the infinities are still refused
  for (const char* bad : {"", "x", "nan", "nan=", "nan=foo", "max", "foo=1", "1e999", "nan=inf"})
    EXPECT_THROW(parse_nan_to_num(bad), medport::UsageError) << bad;
  EXPECT_EQ(describe(parse_nan_to_num("inf=2")), "nan=refuse,posinf=2,neginf=2");
}

}  // namespace
