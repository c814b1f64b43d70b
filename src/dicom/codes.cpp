#include "medport/dicom/codes.hpp"

#include <algorithm>
#include <cctype>

namespace medport::dicom {
namespace {

std::string normalized(std::string s) {
  std::string out;
  for (unsigned char c : s) out += std::isalnum(c) ? static_cast<char>(std::tolower(c)) : ' ';
  std::string collapsed;
  for (char c : out)
    if (c != ' ' || (!collapsed.empty() && collapsed.back() != ' ')) collapsed += c;
  while (!collapsed.empty() && collapsed.back() == ' ') collapsed.pop_back();
  return collapsed;
}

bool any_of(const std::string& name, std::initializer_list<const char*> names) {
  return std::any_of(names.begin(), names.end(), [&](const char* n) { return name == n; });
}

}  // namespace

SegmentAnatomy anatomy_for_label(const std::string& label) {
  const CodedConcept anatomical{"123037004", "SCT", "Anatomical Structure"};
  const std::string n = normalized(label);
  if (any_of(n, {"lv", "lv endo", "lv endocardium", "lv cavity", "left ventricle", "left ventricle cavity", "lv blood pool"}))
    return {anatomical, {"87878005", "SCT", "Left Ventricle"}, true};
  if (any_of(n, {"myo", "lv myo", "myocardium", "lv epi", "lv myocardium", "left ventricle myocardium"}))
    return {anatomical, {"49848007", "SCT", "Left Ventricle Myocardium"}, true};
  if (any_of(n, {"la", "left atrium", "la cavity"})) return {anatomical, {"82471001", "SCT", "Left atrium"}, true};
  const CodedConcept tissue{"85756007", "SCT", "Tissue"};
  return {tissue, tissue, false};
}

CodedConcept lv_end_diastolic_volume() { return {"18026-5", "LN", "Left Ventricular End Diastolic Volume"}; }
CodedConcept lv_end_systolic_volume() { return {"18148-7", "LN", "Left Ventricular End Systolic Volume"}; }
CodedConcept lv_ejection_fraction() { return {"18043-0", "LN", "Left Ventricular Ejection Fraction by US"}; }

}  // namespace medport::dicom
