#pragma once
// NumPy .npy arrays and .npz archives: how medport exchanges tensors with Python tooling
// (`medport run --inputs IN.npz -o OUT.npz`) and how parity fixtures are stored.
//
// Reading is strict and bounded: the header must be a well-formed Python dict literal with
// exactly 'descr', 'fortran_order' and 'shape'; the element count times the item size must
// equal the bytes present. Big-endian arrays are byte-swapped and Fortran-ordered arrays are
// returned as contiguous row-major tensors. Object arrays ('|O', pickles) are refused.
// Every problem is an InputError naming the source (the file, or "archive.npz:member.npy").
#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "medport/checkpoint/zip_archive.hpp"
#include "medport/tensor.hpp"

namespace medport::ckpt {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// One .npy array (format versions 1.0, 2.0 and 3.0).
Tensor read_npy(std::span<const std::byte> bytes, const std::string& source);

// What an array's header says, checked against the array's size, without reading the data.
struct NpyInfo {
  DType dtype = DType::F32;
  Shape shape;
  bool fortran_order = false;  // read_npy returns such arrays row-major
};
NpyInfo read_npy_info(std::span<const std::byte> bytes, const std::string& source);
Tensor read_npy_file(const std::filesystem::path& path);

// The .npy bytes NumPy itself would write for the tensor (version 1.0 unless the header needs
// 2.0; little-endian; C order). bfloat16 has no NumPy dtype: convert it to float32 first.
std::vector<std::byte> write_npy(const Tensor& tensor);
void write_npy_file(const std::filesystem::path& path, const Tensor& tensor);  // atomic

// An .npz archive opened once; members are decompressed and parsed on demand.
class NpzFile {
 public:
  static NpzFile open(const std::filesystem::path& path);  // memory-mapped
  NpzFile(std::shared_ptr<const std::vector<std::byte>> bytes, std::string source);
  explicit NpzFile(ZipArchive zip);
  ~NpzFile();
  NpzFile(NpzFile&&) noexcept;
  NpzFile& operator=(NpzFile&&) noexcept;

  const std::string& source() const;
  // Member names without the ".npy" suffix, in archive order.
  const std::vector<std::string>& names() const { return names_; }
  bool contains(const std::string& name) const;
  Tensor read(const std::string& name) const;
  NamedTensors read_all() const;
  // The member's header only: a compressed member is inflated just far enough to hold it, so
  // listing an archive costs no more than its headers whatever its members claim to expand to.
  NpyInfo info(const std::string& name) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<std::string> names_;
  void list_members();
  const std::string& entry_of(const std::string& name) const;
};

// Every member, in archive order, named without ".npy"; stored and deflated members.
NamedTensors read_npz(const std::filesystem::path& path);
NamedTensors read_npz(std::shared_ptr<const std::vector<std::byte>> bytes, const std::string& source);
Tensor read_npz_member(const std::filesystem::path& path, const std::string& name);

// Writes "<name>.npy" members in the given order, stored (or deflated when `compress`),
// through a temporary file renamed into place. Names must be unique and non-empty.
void write_npz(const std::filesystem::path& path, const NamedTensors& tensors, bool compress = false);

}  // namespace medport::ckpt
