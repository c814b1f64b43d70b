#pragma once
// Python (pydicom + highdicom) that reads a DICOM SEG back and compares it with a label map:
//   argv: SEG, expected .npy (Z, Y, X), source SOPInstanceUIDs (comma-separated, slice order),
//   source frame numbers (comma-separated; empty for single-frame sources). Prints "OK".
namespace medport::testing::dicom_data {

inline constexpr const char* kSegReadBack = R"PY(
import sys, numpy as np, pydicom, highdicom as hd
seg = hd.seg.Segmentation.from_dataset(pydicom.dcmread(sys.argv[1]))
expected = np.load(sys.argv[2])
uids = sys.argv[3].split(",")
frames = [int(f) for f in sys.argv[4].split(",")] if sys.argv[4] else []
if frames:
    got = seg.get_pixels_by_source_frame(uids[0], frames, combine_segments=True, relabel=False)
else:
    got = seg.get_pixels_by_source_instance(uids, combine_segments=True, relabel=False)
names = [seg.get_segment_description(n).segment_label for n in seg.segment_numbers]
types = [seg.get_segment_description(n).segmented_property_type.value for n in seg.segment_numbers]
print("labels", names, types)
assert got.shape == expected.shape, (got.shape, expected.shape)
assert (got == expected).all(), int((got != expected).sum())
print("OK")
)PY";

}  // namespace medport::testing::dicom_data
