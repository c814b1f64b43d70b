#include "medport/dicom/seg_writer.hpp"

#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgfracon.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmiod/iodreferences.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>

#include <cstdio>
#include <memory>
#include <set>

#include "dcmtk_support.hpp"
#include "medport/dicom/codes.hpp"
#include "medport/error.hpp"
#include "medport/util/atomic_file.hpp"
#include "uids.hpp"

namespace medport::dicom {
namespace {

void check(const OFCondition& status, const std::string& path, const std::string& what) {
  if (status.bad()) throw InputError(path, "cannot write DICOM SEG: " + what + " (" + status.text() + ")");
}

std::string decimal(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  std::string s = buf;
  if (s.size() > 16) {  // DS holds at most 16 characters
    std::snprintf(buf, sizeof buf, "%.9g", v);
    s = buf;
  }
  return s;
}

// DCMTK 3.6.7 writes neither the source frame numbers nor SpatialLocationsPreserved into the
// Source Image Sequence; frame f of the SEG is segment f / depth, slice f % depth.
void mark_source_references(DcmDataset& dataset, const Source& source, std::size_t segments, const std::string& out) {
  DcmSequenceOfItems* frames = nullptr;
  if (dataset.findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, frames).bad() || frames == nullptr ||
      frames->card() != segments * static_cast<std::size_t>(source.depth))
    throw InputError(out, "cannot write DICOM SEG: unexpected per-frame functional groups");
  for (unsigned long f = 0; f < frames->card(); ++f) {
    DcmItem* source_item = nullptr;
    DcmItem* derivation = nullptr;
    DcmItem* frame = frames->getItem(f);
    if (frame->findAndGetSequenceItem(DCM_DerivationImageSequence, derivation, 0).bad() ||
        derivation->findAndGetSequenceItem(DCM_SourceImageSequence, source_item, 0).bad())
      throw InputError(out, "cannot write DICOM SEG: no source image reference in frame " + std::to_string(f + 1));
    const SliceSource& slice = source.slices[f % static_cast<unsigned long>(source.depth)];
    check(source_item->putAndInsertString(DCM_SpatialLocationsPreserved, "YES"), out, "spatial locations");
    if (slice.frame > 0)
      check(source_item->putAndInsertString(DCM_ReferencedFrameNumber, std::to_string(slice.frame).c_str()), out,
            "source frame");
  }
}

void remove_placeholder_geometry(DcmDataset& dataset) {
  dataset.findAndDeleteElement(DCM_FrameOfReferenceUID);
  dataset.findAndDeleteElement(DCM_PositionReferenceIndicator);
  DcmItem* shared = nullptr;
  if (dataset.findAndGetSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, 0).good()) {
    shared->findAndDeleteElement(DCM_PlaneOrientationSequence);
    shared->findAndDeleteElement(DCM_PixelMeasuresSequence);
  }
  // Without Image Orientation (Patient), General Image needs Patient Orientation (type 2C).
  dataset.putAndInsertString(DCM_PatientOrientation, "");
  DcmSequenceOfItems* frames = nullptr;
  if (dataset.findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, frames).good())
    for (unsigned long f = 0; f < frames->card(); ++f) frames->getItem(f)->findAndDeleteElement(DCM_PlanePositionSequence);
}

CodeSequenceMacro code(const CodedConcept& c) { return CodeSequenceMacro(c.value.c_str(), c.scheme.c_str(), c.meaning.c_str()); }

}  // namespace

void write_segmentation(const std::filesystem::path& path, const Source& source, std::span<const std::uint8_t> labels,
                        const std::vector<SegmentInfo>& segments, const CreatorInfo& creator) {
  detail::register_codecs();
  const std::string out = path.string();
  const std::size_t plane = static_cast<std::size_t>(source.rows * source.columns);
  if (source.slices.size() != static_cast<std::size_t>(source.depth) || source.slices.empty())
    throw InputError(out, "the source has no instance per slice");
  if (labels.size() != plane * static_cast<std::size_t>(source.depth))
    throw InputError(out, "label map of " + std::to_string(labels.size()) + " voxels does not match the source grid");
  std::set<std::uint8_t> known;
  for (const auto& s : segments) known.insert(s.label);
  for (std::uint8_t v : labels)
    if (v != 0 && !known.count(v)) throw InputError(out, "label " + std::to_string(v) + " has no segment description");

  IODGeneralEquipmentModule::EquipmentInfo equipment(creator.manufacturer.c_str(), creator.model_name.c_str(), "1",
                                                     creator.algorithm_version.empty() ? "unknown"
                                                                                       : creator.algorithm_version.c_str());
  ContentIdentificationMacro content("1", "SEGMENTATION", "label map", "medport^");
  DcmSegmentation* raw = nullptr;
  check(DcmSegmentation::createBinarySegmentation(raw, static_cast<Uint16>(source.rows), static_cast<Uint16>(source.columns),
                                                  equipment, content),
        out, "create");
  std::unique_ptr<DcmSegmentation> seg(raw);
  check(seg->importFromSourceImage(source.slices.front().file.c_str()), out, "patient/study from " + source.slices.front().file);
  // DCMTK 3.6.7 insists on a Frame of Reference and then on plane positions. A source without
  // one (an ultrasound cine) has no patient-space geometry to give: a placeholder satisfies
  // DCMTK and is removed from the written dataset, as is a SEG without a Frame of Reference.
  const bool placeholder_frame_of_reference = source.frame_of_reference_uid.empty();
  if (placeholder_frame_of_reference) {
    check(seg->getFrameOfReference().setFrameOfReferenceUID(detail::new_uid().c_str()), out, "frame of reference");
    std::unique_ptr<FGPlaneOrientationPatient> orientation(FGPlaneOrientationPatient::createMinimal("1", "0", "0", "0", "1", "0"));
    check(seg->addForAllFrames(*orientation), out, "placeholder orientation");
  }
  check(seg->getSeries().setSeriesInstanceUID(detail::new_uid().c_str()), out, "series UID");
  check(seg->getSeries().setSeriesNumber("300"), out, "series number");
  check(seg->getSeries().setSeriesDescription(creator.series_description.substr(0, 64).c_str()), out, "series description");
  check(seg->getSOPCommon().setSOPInstanceUID(detail::new_uid().c_str()), out, "SOP instance UID");
  const auto now = detail::date_time_now();
  check(seg->getGeneralImage().setContentDate(now.first.c_str()), out, "content date");
  check(seg->getGeneralImage().setContentTime(now.second.c_str()), out, "content time");
  check(seg->getSeries().setSeriesDate(now.first.c_str()), out, "series date");
  check(seg->getSeries().setSeriesTime(now.second.c_str()), out, "series time");
  if (source.lossy) check(seg->setLossyImageCompressionFlag("", "", OFFalse), out, "lossy flag");

  std::vector<Uint16> numbers;
  for (const auto& s : segments) {
    const SegmentAnatomy anatomy = anatomy_for_label(s.name);
    DcmSegment* segment = nullptr;
    check(DcmSegment::create(segment, s.name.substr(0, 64).c_str(), code(anatomy.category), code(anatomy.type),
                             DcmSegTypes::SAT_AUTOMATIC, creator.algorithm_name.substr(0, 64).c_str()),
          out, "segment '" + s.name + "'");
    Uint16 number = 0;
    check(seg->addSegment(segment, number), out, "segment '" + s.name + "'");
    numbers.push_back(number);
  }

  const std::string dimension_uid = detail::new_uid();
  auto& dimensions = seg->getDimensions();
  check(dimensions.addDimensionIndex(DCM_ReferencedSegmentNumber, dimension_uid.c_str(), DCM_SegmentIdentificationSequence,
                                     "ReferencedSegmentNumber"),
        out, "segment dimension");
  const bool spatial = source.has_geometry && source.positions.size() == source.slices.size();
  if (spatial)
    check(dimensions.addDimensionIndex(DCM_ImagePositionPatient, dimension_uid.c_str(), DCM_PlanePositionSequence,
                                       "ImagePositionPatient"),
          out, "position dimension");
  else if (source.depth > 1)
    check(dimensions.addDimensionIndex(DCM_TemporalPositionIndex, dimension_uid.c_str(), DCM_FrameContentSequence,
                                       "TemporalPositionIndex"),
          out, "frame dimension");

  if (spatial) {
    const auto& d = source.direction;  // columns: row cosines, column cosines
    std::unique_ptr<FGPlaneOrientationPatient> orientation(FGPlaneOrientationPatient::createMinimal(
        decimal(d[0]).c_str(), decimal(d[3]).c_str(), decimal(d[6]).c_str(), decimal(d[1]).c_str(),
        decimal(d[4]).c_str(), decimal(d[7]).c_str()));
    check(seg->addForAllFrames(*orientation), out, "plane orientation");
  }
  {
    FGPixelMeasures measures;
    check(measures.setPixelSpacing((decimal(source.spacing[1]) + "\\" + decimal(source.spacing[2])).c_str()), out, "pixel spacing");
    if (spatial) {
      check(measures.setSliceThickness(decimal(source.spacing[0]).c_str()), out, "slice thickness");
      if (source.depth > 1) check(measures.setSpacingBetweenSlices(decimal(source.spacing[0]).c_str()), out, "slice spacing");
    }
    check(seg->addForAllFrames(measures), out, "pixel measures");
  }

  std::vector<Uint8> frame(plane);
  for (std::size_t s = 0; s < segments.size(); ++s) {
    for (std::int64_t z = 0; z < source.depth; ++z) {
      const std::uint8_t* src = labels.data() + static_cast<std::size_t>(z) * plane;
      for (std::size_t i = 0; i < plane; ++i) frame[i] = src[i] == segments[s].label ? 1 : 0;
      FGFrameContent content_fg;
      check(content_fg.setDimensionIndexValues(numbers[s], 0), out, "dimension index");
      std::unique_ptr<FGPlanePosPatient> position;
      if (placeholder_frame_of_reference)
        position.reset(FGPlanePosPatient::createMinimal("0", "0", std::to_string(z).c_str()));
      if (spatial) {
        const auto& p = source.positions[static_cast<std::size_t>(z)];
        position.reset(FGPlanePosPatient::createMinimal(decimal(p[0]).c_str(), decimal(p[1]).c_str(), decimal(p[2]).c_str()));
        check(content_fg.setDimensionIndexValues(static_cast<Uint32>(z + 1), 1), out, "dimension index");
      } else if (source.depth > 1) {
        check(content_fg.setTemporalPositionIndex(static_cast<Uint32>(z + 1)), out, "temporal position");
        check(content_fg.setDimensionIndexValues(static_cast<Uint32>(z + 1), 1), out, "dimension index");
      }
      const SliceSource& slice = source.slices[static_cast<std::size_t>(z)];
      ImageSOPInstanceReferenceMacro* reference = nullptr;
      check(ImageSOPInstanceReferenceMacro::create(slice.sop_class_uid.c_str(), slice.sop_instance_uid.c_str(), {},
                                                   reference),
            out, "source reference");
      std::unique_ptr<ImageSOPInstanceReferenceMacro> owned(reference);
      OFVector<ImageSOPInstanceReferenceMacro> references;
      references.push_back(*owned);
      std::unique_ptr<FGDerivationImage> derivation(
          DcmSegmentation::createDerivationImageFG(references, "medport automatic segmentation"));
      if (!derivation) throw InputError(out, "cannot write DICOM SEG: derivation image reference");
      OFVector<FGBase*> per_frame;
      per_frame.push_back(&content_fg);
      if (position) per_frame.push_back(position.get());
      per_frame.push_back(derivation.get());
      check(seg->addFrame(frame.data(), numbers[s], per_frame), out, "frame");
    }
  }

  // Common Instance Reference: the source series and instances.
  IODReferences references;
  OFVector<OFString> files;
  std::set<std::string> seen;
  for (const auto& slice : source.slices)
    if (seen.insert(slice.file).second) files.push_back(slice.file.c_str());
  references.addFromFiles(files, IODReference::LEVEL_STUDY);
  seg->getCommonInstanceReference().addReferences(references, source.study_uid.c_str());

  DcmFileFormat format;
  check(seg->writeDataset(*format.getDataset()), out, "dataset");
  mark_source_references(*format.getDataset(), source, segments.size(), out);
  if (placeholder_frame_of_reference) remove_placeholder_geometry(*format.getDataset());
  AtomicFile file(path, ".dcm");
  file.release_handle();
  check(format.saveFile(file.temp_path().c_str(), EXS_LittleEndianExplicit), out, "save");
  file.commit();
}

}  // namespace medport::dicom
