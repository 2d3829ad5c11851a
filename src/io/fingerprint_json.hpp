// A split's fingerprint as JSON, for the files that carry it: partition records and plan files.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "io/fingerprint.hpp"

namespace tlb::io {

// {"hash", "tests", "test_list", "history", "total", "weights", "splitters", "parallel_level", "algorithm"}.
nlohmann::ordered_json fingerprint_json(const SplitFingerprint& fingerprint);

// fingerprint_json()'s document back. Throws InputError naming `source` when a member is missing or wrong, or
// the members do not give the hash (a fingerprint edited by hand).
SplitFingerprint fingerprint_from_json(const nlohmann::json& document, const std::string& source);

}  // namespace tlb::io
