// The zip reader: central directory (ZIP64 included) parsed in place, stored entries viewed where
// they lie, deflated ones inflated, every record checked against the archive when it is opened.
#include "medport/checkpoint/zip_archive.hpp"

#include <sys/resource.h>

#include <cstring>

#include "medport/error.hpp"
#include "test_support.hpp"
#include "zip_builder.hpp"

namespace {

using namespace medport;
using medport::testing::ZipBuilder;

std::shared_ptr<const std::vector<std::byte>> shared(std::vector<std::byte> bytes) {
  return std::make_shared<const std::vector<std::byte>>(std::move(bytes));
}

std::string text(const std::vector<std::byte>& bytes) { return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()); }

void expect_open_error(std::vector<std::byte> bytes, const std::string& fragment) {
  try {
    ckpt::ZipArchive zip(shared(std::move(bytes)), "crafted.zip");
    FAIL() << "opened an archive that should be refused (" << fragment << ")";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("crafted.zip"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(ZipArchive, StoredAndDeflatedEntriesReadBack) {
  ZipBuilder b;
  b.add("a.txt", "hello stored");
  b.add("b.txt", std::string(5000, 'x') + "tail", {.deflate = true});
  b.add("empty", "");
  const ckpt::ZipArchive zip(shared(b.bytes()), "two.zip");
  EXPECT_EQ(zip.entry_names(), (std::vector<std::string>{"a.txt", "b.txt", "empty"}));
  EXPECT_EQ(text(zip.read("a.txt")), "hello stored");
  EXPECT_EQ(text(zip.read("b.txt")), std::string(5000, 'x') + "tail");
  EXPECT_EQ(zip.read("empty").size(), 0u);
  EXPECT_EQ(zip.entry("b.txt").method, 8);
  EXPECT_EQ(zip.entry_size("b.txt"), 5004u);
  EXPECT_EQ(text(zip.read_prefix("b.txt", 3)), "xxx");
  EXPECT_EQ(text(zip.read_prefix("a.txt", 100)), "hello stored");
  EXPECT_FALSE(zip.contains("c.txt"));
  EXPECT_THROW((void)zip.read("c.txt"), InputError);
}

TEST(ZipArchive, StoredEntryIsAViewOfTheArchive) {
  ZipBuilder b;
  b.add("pad", "x");
  b.add("data/0", std::string(256, '\x01'), {.align = 64});
  const auto bytes = shared(b.bytes());
  const ckpt::ZipArchive zip(bytes, "view.zip");
  const auto& e = zip.entry("data/0");
  EXPECT_EQ(e.data_offset % 64, 0u);
  const ByteView v = zip.contents("data/0");
  EXPECT_EQ(v.bytes.data(), bytes->data() + e.data_offset);  // no copy
  const auto storage = zip.storage("data/0", DType::F32, "0");
  EXPECT_FALSE(storage->loaded());  // nothing read until used
  EXPECT_EQ(storage->numel(), 64);
  EXPECT_EQ(storage->data(), bytes->data() + e.data_offset);
  EXPECT_FALSE(storage->owns_bytes());
}

TEST(ZipArchive, Zip64RecordsAndExtraFieldsAreHonoured) {
  ZipBuilder b;
  b.add("small", "zip64 sizes", {.zip64 = true});
  b.add("packed", std::string(3000, 'q'), {.deflate = true, .zip64 = true});
  b.force_zip64_end();
  const ckpt::ZipArchive zip(shared(b.bytes()), "z64.zip");
  EXPECT_EQ(zip.entry_names().size(), 2u);
  EXPECT_EQ(text(zip.read("small")), "zip64 sizes");
  EXPECT_EQ(text(zip.read("packed")), std::string(3000, 'q'));
  EXPECT_GT(zip.entry("packed").header_offset, 0u);
}

TEST(ZipArchive, DamagedArchivesAreRefusedWhenOpened) {
  ZipBuilder b;
  b.add("a", std::string(100, 'a'));
  b.add("b", std::string(100, 'b'));
  const auto good = b.bytes();

  auto truncated = good;
  truncated.resize(truncated.size() - 10);
  expect_open_error(truncated, "no end of central directory");

  // The central directory says the second entry holds more bytes than lie before the directory.
  auto longer = good;
  const std::size_t dir = good.size() - 22 - 2 * (46 + 1);
  const std::size_t second = dir + 46 + 1;
  longer[second + 20] = std::byte{0xff};  // compressed size
  longer[second + 24] = std::byte{0xff};  // size
  expect_open_error(longer, "past the end of the archive's data");

  // A central entry pointing at another entry's local header.
  auto renamed = good;
  for (int i = 0; i < 4; ++i) renamed[second + 42 + i] = std::byte{0};
  expect_open_error(renamed, "'b' has a different name");

  auto no_zip64 = good;
  no_zip64[good.size() - 22 + 16] = std::byte{0xff};
  for (int i = 0; i < 4; ++i) no_zip64[good.size() - 22 + 16 + i] = std::byte{0xff};
  expect_open_error(no_zip64, "ZIP64 locator is missing");

  expect_open_error(std::vector<std::byte>(10), "too short");
}

TEST(ZipArchive, OverlappingEntriesAreRefused) {
  // Entry "a" holds a complete local entry "b", and the directory points "b" inside "a".
  ZipBuilder inner;
  inner.add("b", "bbbb");
  const auto b_bytes = inner.bytes();
  const std::string b_local(reinterpret_cast<const char*>(b_bytes.data()), 30 + 1 + 4);
  ZipBuilder outer;
  outer.add("a", b_local);
  outer.add("b", "bbbb");
  auto bytes = outer.bytes();
  const std::size_t second = bytes.size() - 22 - (46 + 1);
  bytes[second + 42] = std::byte{30 + 1};  // b's local header: inside a's data
  for (int i = 1; i < 4; ++i) bytes[second + 42 + static_cast<std::size_t>(i)] = std::byte{0};
  expect_open_error(bytes, "overlap");
}

TEST(ZipArchive, DuplicateNamesAreRefused) {
  ZipBuilder b;
  b.add("same", "1");
  b.add("same", "2");
  expect_open_error(b.bytes(), "names 'same' twice");
}

TEST(ZipArchive, CorruptDataFailsItsCrcWhenRead) {
  ZipBuilder b;
  b.add("a", std::string(64, 'a'));
  auto bytes = b.bytes();
  bytes[30 + 1 + 10] = std::byte{'!'};  // inside the stored data of "a"
  const ckpt::ZipArchive zip(shared(bytes), "crc.zip");  // the directory is intact
  EXPECT_THROW((void)zip.read("a"), InputError);
  const auto storage = zip.storage("a", DType::U8, "a");
  try {
    (void)storage->data();
    FAIL() << "a corrupt record was handed out";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("CRC"), std::string::npos) << e.what();
  }
}

TEST(ZipArchive, DeflatedEntryClaimingMoreThanItHoldsIsRefused) {
  ZipBuilder b;
  b.add("a", std::string(1000, 'a'), {.deflate = true});
  auto bytes = b.bytes();
  const std::size_t dir = bytes.size() - 22 - (46 + 1);
  bytes[dir + 24] = std::byte{0x01};  // size 1000 -> 1001 (0x03e9)
  const ckpt::ZipArchive zip(shared(bytes), "short.zip");
  EXPECT_THROW((void)zip.read("a"), InputError);
}

TEST(ZipArchive, PrefixOfACompressedBombInflatesOnlyThePrefix) {
  // 64 MiB of zeros deflated to about 64 KiB: reading its first bytes must not inflate it all.
  const std::string zeros(std::size_t{64} << 20, '\0');
  ZipBuilder b;
  b.add("bomb.npy", zeros, {.deflate = true});
  const auto bytes = shared(b.bytes());
  ASSERT_LT(bytes->size(), std::size_t{1} << 20);
  const ckpt::ZipArchive zip(bytes, "bomb.npz");
  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  const auto head = zip.read_prefix("bomb.npy", 128);
  getrusage(RUSAGE_SELF, &after);
  EXPECT_EQ(head.size(), 128u);
  EXPECT_EQ(zip.entry_size("bomb.npy"), zeros.size());
  // Minor faults: a full inflation would touch 16384 fresh pages.
  EXPECT_LT(after.ru_minflt - before.ru_minflt, 1000);
}

}  // namespace
