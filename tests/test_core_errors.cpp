// Error messages name their file once, even when a caller catches an error and re-throws it
// with the file's name (as the batch runners do).
#include <gtest/gtest.h>

#include "medport/error.hpp"

namespace {

TEST(CoreErrors, InputErrorNamesItsFileOnce) {
  const medport::InputError inner("scan.nii.gz", "NIfTI pixdim[1] is 0");
  EXPECT_STREQ(inner.what(), "scan.nii.gz: NIfTI pixdim[1] is 0");
  const medport::InputError rethrown("scan.nii.gz", inner.what());
  EXPECT_STREQ(rethrown.what(), "scan.nii.gz: NIfTI pixdim[1] is 0");
  const medport::InputError other("case_7", inner.what());
  EXPECT_STREQ(other.what(), "case_7: scan.nii.gz: NIfTI pixdim[1] is 0");
  EXPECT_STREQ(medport::InputError("", "bare").what(), "bare");
}

}  // namespace
