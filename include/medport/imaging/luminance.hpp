#pragma once
// Colour frames for one-channel models: PNG/JPEG exports of echo loops are often RGB(A) even
// when they hold a gray image. segment and fewshot convert them the same way:
//   Y = 0.299 R + 0.587 G + 0.114 B   (ITU-R BT.601 luma, the weights of OpenCV's and PIL's
//                                       gray conversion), in double, stored as float32; alpha
//                                       is ignored.
// A gray image saved as RGB (R = G = B = v) gives back exactly v.
#include "medport/imaging/image.hpp"

namespace medport::imaging {

// True for a natural image (PNG/JPEG/BMP/TIFF) with 3 (RGB) or 4 (RGBA) channels.
bool is_colour_frame(const Image& image);

// The one-channel luminance image of a colour frame (geometry and spacing kept); any other image
// is returned unchanged.
Image to_luminance(const Image& image);

}  // namespace medport::imaging
