#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
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

// Removes the temporary file and drops the unfinished archive unless released.
class TempArchive {
 public:
  explicit TempArchive(std::string path) : path_(std::move(path)) {}
  ~TempArchive() {
    if (archive_) zip_discard(archive_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempArchive(const TempArchive&) = delete;
  TempArchive& operator=(const TempArchive&) = delete;
  zip_t*& archive() { return archive_; }
  const std::string& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  std::string path_;
  zip_t* archive_ = nullptr;
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

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
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

  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw InputError(parent.string(), "cannot create folder: " + ec.message());
  std::string tmpl = (parent / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) throw InputError(target, std::string("cannot create a temporary file: ") + std::strerror(errno));
  ::close(fd);
  TempArchive temp(tmpl);

  int error_code = 0;
  temp.archive() = zip_open(temp.path().c_str(), ZIP_TRUNCATE, &error_code);
  if (!temp.archive()) {
    zip_error_t err;
    zip_error_init_with_code(&err, error_code);
    const std::string why = zip_error_strerror(&err);
    zip_error_fini(&err);
    throw InputError(target, "cannot start the archive: " + why);
  }
  zip_t* archive = temp.archive();
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
  temp.archive() = nullptr;  // zip_close freed it

  ::chmod(temp.path().c_str(), 0644);
  fsync_path(temp.path());
  if (std::rename(temp.path().c_str(), target.c_str()) != 0)
    throw InputError(target, std::string("cannot move the finished file into place: ") + std::strerror(errno));
  temp.release();
}

}  // namespace medport::ckpt
