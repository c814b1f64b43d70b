#pragma once
// The files of the browser viewer and the OpenAPI document, embedded in the binary: generated at
// build time (cmake/EmbedFiles.cmake) from src/server/web/, so the server needs no file beside it
// and no CDN.
#include <cstddef>
#include <span>
#include <string_view>

namespace medport::server {

struct WebAsset {
  const char* name;          // "index.html", "viewer.js", "openapi.json"
  const char* content_type;
  const unsigned char* data;
  std::size_t size;
};

std::span<const WebAsset> web_assets();
const WebAsset* find_web_asset(std::string_view name);  // nullptr when absent

}  // namespace medport::server
