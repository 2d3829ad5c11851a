// libFuzzer target for everything that reads user files and request bodies: the test-list, durations,
// partition record (which `tlb server` reads from the network) and timing-file readers must either read the
// input or throw InputError, never crash, hang or leak; a record that reads writes back to the same record;
// and the streaming JSON reader must read every document nlohmann-json accepts, to the same values.
//
//   cmake --preset fuzz && cmake --build --preset fuzz
//   build/fuzz/tests/fuzz/tlb_readers_fuzzer -max_total_time=120 tests/fuzz/corpus
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "io/durations.hpp"
#include "io/json_reader.hpp"
#include "io/record.hpp"
#include "io/test_list.hpp"
#include "io/text.hpp"
#include "store/file_store.hpp"

namespace {

using nlohmann::json;

json rebuild(tlb::io::JsonReader& reader, int depth) {
  if (depth > 200) reader.fail("deep");
  switch (reader.peek()) {
    case tlb::io::JsonReader::Kind::object: {
      json object = json::object();
      std::string key;
      reader.begin_object();
      while (reader.next_key(key)) object[key] = rebuild(reader, depth + 1);
      return object;
    }
    case tlb::io::JsonReader::Kind::array: {
      json array = json::array();
      reader.begin_array();
      while (reader.next_element()) array.push_back(rebuild(reader, depth + 1));
      return array;
    }
    case tlb::io::JsonReader::Kind::string:
      return reader.read_string();
    case tlb::io::JsonReader::Kind::number:
      return reader.read_number();
    case tlb::io::JsonReader::Kind::boolean:
      return reader.read_boolean();
    case tlb::io::JsonReader::Kind::null:
      reader.skip();
      return nullptr;
  }
  return nullptr;
}

json as_doubles(const json& value) {
  if (value.is_number()) return value.get<double>();
  json out = value.is_object() ? json::object() : json::array();
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) out[it.key()] = as_doubles(it.value());
    return out;
  }
  if (value.is_array()) {
    for (const json& item : value) out.push_back(as_doubles(item));
    return out;
  }
  return value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    tlb::io::parse_test_list(text, "fuzz");
  } catch (const tlb::io::InputError&) {
  }
  try {
    tlb::io::parse_durations(text, "fuzz");
  } catch (const tlb::io::InputError&) {
  }
  try {
    tlb::store::parse_timings(text, "fuzz");
  } catch (const tlb::io::InputError&) {
  }
  try {
    const tlb::io::PartitionRecord record = tlb::io::parse_record(text, "fuzz");
    std::string written;
    try {
      written = tlb::io::format_record(record, "fuzz");
    } catch (const tlb::io::InputError&) {
      return 0;  // A name that is not UTF-8: refused on writing, as documented.
    }
    // Numbers are written to the microsecond, so the text form is compared after one round.
    const tlb::io::PartitionRecord again = tlb::io::parse_record(written, "fuzz");
    if (tlb::io::format_record(again, "fuzz") != written) __builtin_trap();
  } catch (const tlb::io::InputError&) {
  }

  // Differential: what nlohmann accepts (within the reader's nesting limit) the reader reads the same.
  // nlohmann takes a NUL byte for the end of input and accepts "0\0garbage"; the reader rejects it, rightly.
  if (text.find('\0') != std::string_view::npos) return 0;
  json expected;
  try {
    expected = json::parse(text);
  } catch (const json::exception&) {
    return 0;
  }
  if (text.find(std::string(100, '[')) != std::string_view::npos ||
      text.find(std::string(100, '{')) != std::string_view::npos) {
    return 0;
  }
  std::string source = "fuzz";
  tlb::io::JsonReader reader(text, source);
  json actual = rebuild(reader, 0);
  reader.expect_end();
  // Numbers compare as doubles; nlohmann keeps integers exact where the reader returns doubles.
  if (as_doubles(actual) != as_doubles(expected)) __builtin_trap();
  return 0;
}
