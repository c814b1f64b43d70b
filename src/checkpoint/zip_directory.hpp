#pragma once
// The central directory of a zip archive (not a public header; ZipArchive uses it).
#include <span>
#include <string>
#include <vector>

#include "medport/checkpoint/zip_archive.hpp"

namespace medport::ckpt::detail {

// Every entry of the archive in `bytes`, in central directory order, each checked against the
// bytes (see zip_archive.hpp). ZIP64 end records and extra fields are honoured.
std::vector<ZipEntry> read_zip_directory(std::span<const std::byte> bytes, const std::string& source);

}  // namespace medport::ckpt::detail
