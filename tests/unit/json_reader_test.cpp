// The streaming JSON reader against nlohmann-json: same values on valid documents, an error with a line on
// every malformed one, never a crash.
#include "io/json_reader.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "io/text.hpp"
#include "support/random_suite.hpp"

namespace tlb::io {
namespace {

using nlohmann::json;

// Rebuilds a document through JsonReader, to compare with nlohmann's reading of the same text.
json rebuild(JsonReader& reader) {
  switch (reader.peek()) {
    case JsonReader::Kind::object: {
      json object = json::object();
      std::string key;
      reader.begin_object();
      while (reader.next_key(key)) object[key] = rebuild(reader);
      return object;
    }
    case JsonReader::Kind::array: {
      json array = json::array();
      reader.begin_array();
      while (reader.next_element()) array.push_back(rebuild(reader));
      return array;
    }
    case JsonReader::Kind::string:
      return reader.read_string();
    case JsonReader::Kind::number:
      return reader.read_number();
    case JsonReader::Kind::boolean:
      return reader.read_boolean();
    case JsonReader::Kind::null:
      reader.skip();
      return nullptr;
  }
  return nullptr;
}

json read_with_reader(const std::string& text) {
  JsonReader reader(text, "doc.json");
  json value = rebuild(reader);
  reader.expect_end();
  return value;
}

// nlohmann keeps integers as integers; the reader returns doubles. Compare through doubles.
json numbers_as_doubles(const json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_object()) {
    json out = json::object();
    for (auto it = value.begin(); it != value.end(); ++it) out[it.key()] = numbers_as_doubles(it.value());
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (const json& item : value) out.push_back(numbers_as_doubles(item));
    return out;
  }
  return value;
}

TEST(JsonReader, ReadsWhatNlohmannReads) {
  const std::vector<std::string> documents = {
      R"({})",
      R"([])",
      R"({"a": [1, -2.5, 3e2, 0, -0.0, 1E-3], "b": {"c": null, "d": true, "e": false}, "f": "x"})",
      R"(  ["esc \" \\ \/ \b \f \n \r \t", "\u00fc\u4e2d", "\ud83d\ude00", "raw ü 中 😀"]  )",
      "{\"kind\":\"ctestInfo\",\n\"tests\":[{\"name\":\"a;b "
      "[c]\",\"properties\":[{\"name\":\"COST\",\"value\":3}]}]}",
      R"([[[[[]]]], {"": ""}, [{}], 123456789012, 1.5e300])",
  };
  for (const std::string& text : documents) {
    EXPECT_EQ(read_with_reader(text), numbers_as_doubles(json::parse(text))) << text;
  }
}

TEST(JsonReader, ReadsRandomDocumentsLikeNlohmann) {
  testing::Draw draw(7);
  std::function<json(int)> random_value = [&](int depth) -> json {
    switch (draw.between(0, depth > 4 ? 3 : 5)) {
      case 0:
        return draw.uniform() * 1e6 - 5e5;
      case 1: {
        std::string s;
        for (int i = draw.between(0, 12); i > 0; --i) {
          static const std::string alphabet = "ab \"\\/\b\f\n\r\t\x01;[]{}:,\xc3\xbc\xe4\xb8\xad";
          s += alphabet[static_cast<std::size_t>(draw.between(0, static_cast<int>(alphabet.size()) - 1))];
        }
        return json(s).get<std::string>().empty() ? json("") : json(s);
      }
      case 2:
        return draw.chance(0.5);
      case 3:
        return nullptr;
      case 4: {
        json array = json::array();
        for (int i = draw.between(0, 4); i > 0; --i) array.push_back(random_value(depth + 1));
        return array;
      }
      default: {
        json object = json::object();
        for (int i = draw.between(0, 4); i > 0; --i)
          object["k" + std::to_string(draw.between(0, 99))] = random_value(depth + 1);
        return object;
      }
    }
  };
  for (int i = 0; i < 300; ++i) {
    json document = random_value(0);
    // Invalid UTF-8 cannot be dumped; the alphabet above only combines whole characters, so replace is a
    // no-op.
    const std::string text =
        document.dump(i % 3 == 0 ? -1 : 1, ' ', i % 2 == 0, json::error_handler_t::replace);
    ASSERT_EQ(read_with_reader(text), numbers_as_doubles(json::parse(text))) << text;
  }
}

TEST(JsonReader, MalformedDocumentsFailWithALine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "doc.json:1: not valid JSON (unexpected end of input)"},
      {"{\n\"a\": 1,\n}", "doc.json:3: not valid JSON (expected a key in quotes)"},
      {"[1 2]", "doc.json:1: not valid JSON (expected ',', got '2')"},
      {"[1,]", "doc.json:1: not valid JSON (unexpected ']')"},
      {"{\"a\" 1}", "doc.json:1: not valid JSON (expected ':', got '1')"},
      {"\"abc", "doc.json:1: not valid JSON (unterminated string)"},
      {"\"a\\qb\"", "doc.json:1: not valid JSON (bad escape in string)"},
      {"\"\\ud800\"", "doc.json:1: not valid JSON (unpaired surrogate in \\u escape)"},
      {"\"\\u12\"", "doc.json:1: not valid JSON (truncated \\u escape)"},
      {"\"\\u12zz\"", "doc.json:1: not valid JSON (bad \\u escape)"},
      {"\"a\nb\"", "doc.json:1: not valid JSON (control character in string)"},
      {"01", "doc.json:1: not valid JSON (unexpected '1' after the document)"},
      {"-", "doc.json:1: not valid JSON (malformed number)"},
      {"1.", "doc.json:1: not valid JSON (malformed number)"},
      {"tru", "doc.json:1: not valid JSON (expected 'true')"},
      {"{} {}", "doc.json:1: not valid JSON (unexpected '{' after the document)"},
  };
  for (const auto& [text, message] : cases) {
    try {
      read_with_reader(text);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const InputError& e) {
      EXPECT_EQ(e.what(), message) << text;
    }
  }
  // Skipping checks the same grammar (it leaves surrogate pairing to reading), and bounds nesting.
  for (const std::string& text : {std::string("[1 2]"), std::string("{\"a\" 1}"), std::string("\"a\nb\""),
                                  std::string(300, '[') + std::string(300, ']')}) {
    JsonReader reader(text, "doc.json");
    EXPECT_THROW(reader.skip(), InputError) << text;
  }
}

}  // namespace
}  // namespace tlb::io
