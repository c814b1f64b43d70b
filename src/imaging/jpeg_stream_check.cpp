// libjpeg decodes a damaged JPEG (cut short, corrupt entropy data) into a complete-looking image,
// filling what is missing with gray and only printing a warning. This decodes the stream once,
// one row at a time, and turns every warning into an InputError.
#include <csetjmp>
#include <cstdio>
#include <exception>
// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>

#include "encoded_image_headers.hpp"
#include "medport/error.hpp"

namespace medport::imaging::detail {
namespace {

struct ErrorState {
  jpeg_error_mgr manager;  // first member: libjpeg hands us a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr info) {
  auto* state = reinterpret_cast<ErrorState*>(info->err);
  (*info->err->format_message)(info, state->message);
  std::longjmp(state->jump, 1);
}

// Recoverable damage ("Premature end of JPEG file", "Corrupt JPEG data: ...") comes as a
// warning (level -1); libjpeg would go on.
void on_message(j_common_ptr info, int level) {
  if (level < 0) on_error(info);
}

// Only plain C objects live in this frame: longjmp skips destructors. The header check runs
// inside and may throw; its exception is carried out in `header_error`.
bool decode_clean(const unsigned char* data, unsigned long size, ErrorState& state,
                  const std::function<void(const DeclaredSize&)>& check_header, std::exception_ptr& header_error) {
  jpeg_decompress_struct info;
  info.err = jpeg_std_error(&state.manager);
  state.manager.error_exit = on_error;
  state.manager.emit_message = on_message;
  state.message[0] = '\0';
  if (setjmp(state.jump) != 0) {
    jpeg_destroy_decompress(&info);
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, data, size);
  jpeg_read_header(&info, TRUE);
  try {
    DeclaredSize declared;
    declared.width = info.image_width;
    declared.height = info.image_height;
    declared.channels = static_cast<std::uint64_t>(info.num_components);
    check_header(declared);
  } catch (...) {
    header_error = std::current_exception();
    jpeg_destroy_decompress(&info);
    return false;
  }
  jpeg_start_decompress(&info);
  const JDIMENSION row_size = info.output_width * static_cast<JDIMENSION>(info.output_components);
  JSAMPARRAY row = (*info.mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(&info), JPOOL_IMAGE, row_size, 1);
  while (info.output_scanline < info.output_height) jpeg_read_scanlines(&info, row, 1);
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return true;
}

}  // namespace

void check_jpeg_stream(std::span<const std::byte> bytes, const std::string& source,
                       const std::function<void(const DeclaredSize&)>& check_header) {
  ErrorState state{};
  std::exception_ptr header_error;
  if (decode_clean(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()), state,
                   check_header, header_error))
    return;
  if (header_error) std::rethrow_exception(header_error);
  throw InputError(source, std::string("damaged JPEG: ") + state.message);
}

}  // namespace medport::imaging::detail
