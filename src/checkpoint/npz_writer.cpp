#include <zip.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <unordered_set>

#include "checkpoint/npy_format.hpp"
#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/util/atomic_file.hpp"
#include "medport/util/file_io.hpp"

namespace medport::ckpt {
namespace {

namespace fs = std::filesystem;

// Fixed member timestamp (2000-01-01 12:00 UTC, a valid DOS date in every time zone) so the
// same tensors always give the same bytes.
constexpr std::time_t kMemberTime = 946728000;

// One member's bytes as two pieces (header + array data) that libzip reads at close time;
// contiguous tensors are not copied.
struct Member {
  std::string entry;
  std::string header;
  std::vector<std::byte> gathered;  // only for non-contiguous tensors
  std::array<zip_buffer_fragment_t, 2> fragments{};
};

void prepare_member(Member& m, const std::string& name, const Tensor& tensor) {
  m.entry = name + ".npy";
  m.header = npy::format_header(tensor.dtype(), tensor.shape());
  const std::byte* data = tensor.raw_data();
  if (!tensor.is_contiguous()) {
    m.gathered = tensor.contiguous_bytes();
    data = m.gathered.data();
  }
  m.fragments[0] = {reinterpret_cast<zip_uint8_t*>(m.header.data()), m.header.size()};
  m.fragments[1] = {reinterpret_cast<zip_uint8_t*>(const_cast<std::byte*>(data)), tensor.nbytes()};
}

// Drops an unfinished archive (the AtomicFile removes its temporary file).
struct ArchiveGuard {
  zip_t* archive = nullptr;
  ~ArchiveGuard() {
    if (archive) zip_discard(archive);
  }
};

void validate_names(const NamedTensors& tensors, const std::string& target) {
  std::unordered_set<std::string> seen;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty()) throw InputError(target, "npz array names must not be empty");
    if (name.find('\0') != std::string::npos) throw InputError(target, "npz array name contains a NUL byte");
    if (!seen.insert(name).second) throw InputError(target, "npz array name '" + name + "' is used twice");
    if (!tensor.defined()) throw InputError(target, "npz array '" + name + "' is an undefined tensor");
  }
}

// An archive with no members is just the end-of-central-directory record.
std::vector<std::byte> empty_zip() {
  std::vector<std::byte> bytes(22, std::byte{0});
  const unsigned char signature[] = {'P', 'K', 5, 6};
  std::memcpy(bytes.data(), signature, sizeof(signature));
  return bytes;
}

}  // namespace

void write_npz(const fs::path& path, const NamedTensors& tensors, bool compress) {
  const std::string target = path.string();
  validate_names(tensors, target);
  if (tensors.empty()) {
    write_file_atomic(path, empty_zip());
    return;
  }

  std::vector<Member> members(tensors.size());
  try {
    for (std::size_t i = 0; i < tensors.size(); ++i) prepare_member(members[i], tensors[i].first, tensors[i].second);
  } catch (const InputError& e) {
    throw InputError(target, e.what());
  }

  AtomicFile file(path);
  file.release_handle();  // libzip writes the temporary by name
  ArchiveGuard temp;
  int error_code = 0;
  temp.archive = zip_open(file.temp_path().c_str(), ZIP_TRUNCATE, &error_code);
  if (!temp.archive) {
    zip_error_t err;
    zip_error_init_with_code(&err, error_code);
    const std::string why = zip_error_strerror(&err);
    zip_error_fini(&err);
    throw InputError(target, "cannot start the archive: " + why);
  }
  zip_t* archive = temp.archive;
  for (auto& m : members) {
    zip_source_t* source = zip_source_buffer_fragment(archive, m.fragments.data(), m.fragments.size(), 0);
    if (!source) throw InputError(target, "cannot add '" + m.entry + "': " + zip_strerror(archive));
    const zip_int64_t index = zip_file_add(archive, m.entry.c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(source);
      throw InputError(target, "cannot add '" + m.entry + "': " + zip_strerror(archive));
    }
    const auto i = static_cast<zip_uint64_t>(index);
    if (zip_set_file_compression(archive, i, compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) != 0 ||
        zip_file_set_mtime(archive, i, kMemberTime, 0) != 0)
      throw InputError(target, "cannot configure '" + m.entry + "': " + zip_strerror(archive));
  }
  if (zip_close(archive) != 0) throw InputError(target, std::string("cannot write the archive: ") + zip_strerror(archive));
  temp.archive = nullptr;  // zip_close freed it

  file.commit();
}

}  // namespace medport::ckpt
