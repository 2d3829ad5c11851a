#include "cli/hook_script.hpp"

namespace tlb::cli {

std::string cmake_bracket(std::string_view text) {
  // The closing bracket may not appear inside, nor complete one with the text's last characters.
  const std::string padded = std::string(text) + "]";
  std::string equals;
  while (padded.find("]" + equals + "]") != std::string::npos) equals += '=';
  std::string quoted = "[" + equals + "[";
  // CMake drops a newline that directly follows the opening bracket.
  if (!text.empty() && text.front() == '\n') quoted += '\n';
  quoted += text;
  quoted += "]" + equals + "]";
  return quoted;
}

std::string hex(std::string_view text) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() * 2);
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    out += kDigits[byte >> 4];
    out += kDigits[byte & 0xf];
  }
  return out;
}

std::string hook_script(const std::vector<PlannedTest>& ordered, std::string_view summary) {
  std::string script =
      "# Written by `tlb split --cmake-script` for the include(TLB) hook; read by ctest. Do not edit.\n";
  script += "set(_tlb_summary " + cmake_bracket(summary) + ")\n";
  script += "set(_tlb_selected " + std::to_string(ordered.size()) + ")\n";
  // ctest starts tests in decreasing COST, with -j and without; ranks keep TLB's order exactly.
  std::size_t cost = ordered.size();
  for (const PlannedTest& test : ordered) {
    script += "set(_tlb_cost_" + hex(test.name) + " " + std::to_string(cost--) + ")\n";
  }
  return script;
}

}  // namespace tlb::cli
