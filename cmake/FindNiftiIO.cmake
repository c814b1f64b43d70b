# nifticlib's NIfTI-1 I/O (Debian libniftiio-dev). Debian 12 ships a NIFTIConfig.cmake that points
# at /usr/lib/libznz.so.3.0.0, which does not exist, so find the pieces directly.
# Defines the imported target NiftiIO::niftiio.
find_path(NiftiIO_INCLUDE_DIR nifti1_io.h PATH_SUFFIXES nifti)
find_library(NiftiIO_LIBRARY niftiio)
find_library(NiftiIO_ZNZ_LIBRARY znz)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(NiftiIO REQUIRED_VARS NiftiIO_LIBRARY NiftiIO_ZNZ_LIBRARY NiftiIO_INCLUDE_DIR)
if(NiftiIO_FOUND AND NOT TARGET NiftiIO::niftiio)
  add_library(NiftiIO::niftiio UNKNOWN IMPORTED)
  set_target_properties(NiftiIO::niftiio PROPERTIES
    IMPORTED_LOCATION "${NiftiIO_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${NiftiIO_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${NiftiIO_ZNZ_LIBRARY};ZLIB::ZLIB;m")
endif()
mark_as_advanced(NiftiIO_INCLUDE_DIR NiftiIO_LIBRARY NiftiIO_ZNZ_LIBRARY)
