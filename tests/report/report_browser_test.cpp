// The report in a real browser: Debian's headless chromium loads a page render_html wrote from known records,
// and the DOM it built must hold what the records say: one predicted and one actual bar per partition with
// their numbers, the summary's figures, the hostile test name as text. A screenshot of the page is kept in
// the test's binary directory (tests/report/report.png), as an artifact to look at.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "report/report.hpp"
#include "report_fixture.hpp"
#include "support/process.hpp"
#include "support/scratch_dir.hpp"

namespace {

namespace fs = std::filesystem;
using tlb::report::RunData;
using tlb::testing::Bar;
using tlb::testing::bars;
using tlb::testing::figure;
using tlb::testing::ProcessResult;
using tlb::testing::run_process;

constexpr const char* kChromium = "/usr/bin/chromium";

class Browser : public tlb::testing::ScratchDirTest {
 protected:
  // Headless chromium as root in a container: no sandbox (it needs user namespaces), a throw-away profile,
  // no /dev/shm (often 64 MB there), no GPU; `timeout` ends it if it ever hangs.
  ProcessResult chromium(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"/usr/bin/timeout",
                                  "-k",
                                  "5",
                                  "60",
                                  kChromium,
                                  "--headless",
                                  "--no-sandbox",
                                  "--disable-gpu",
                                  "--disable-dev-shm-usage",
                                  "--no-first-run",
                                  "--hide-scrollbars",
                                  "--user-data-dir=" + (dir_ / "profile").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, {{"HOME", dir_.string()},
                              {"XDG_CONFIG_HOME", (dir_ / "config").string()},
                              {"XDG_CACHE_HOME", (dir_ / "cache").string()}});
  }

  static std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
};

std::uint32_t big_endian(const std::string& bytes, std::size_t at) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

TEST_F(Browser, ShowsEveryPartitionAndTheNumbers) {
  if (!fs::exists(kChromium)) {
    GTEST_SKIP() << kChromium
                 << " is not installed (Debian's package chromium; scripts/setup.sh installs it): the "
                    "report is not checked in a browser";
  }
  const auto start = std::chrono::steady_clock::now();
  RunData run;
  run.title = "tlb report in chromium";
  run.records = tlb::testing::small_run();
  run.earlier = tlb::testing::small_run();
  tlb::testing::set_status(run.earlier, "alpha.fast", tlb::io::ResultStatus::failed);  // It passes now.
  run.generated = "2026-05-02 10:00 UTC";
  const fs::path artifacts = TLB_REPORT_ARTIFACT_DIR;
  fs::create_directories(artifacts);
  const fs::path page = artifacts / "report.html";
  std::ofstream(page, std::ios::binary) << tlb::report::render_html(run);
  const std::string url = "file://" + page.string();

  const ProcessResult dom = chromium({"--dump-dom", url});
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  ASSERT_NE(dom.out.find("</html>"), std::string::npos) << dom.out << dom.err;
  const std::vector<Bar> expected{{1, "4.500", "4.650"}, {2, "4.500", "4.750"}};
  EXPECT_EQ(bars(dom.out, "predicted"), expected);
  EXPECT_EQ(bars(dom.out, "actual"), expected);
  EXPECT_EQ(figure(dom.out, "partitions"), "2");
  EXPECT_EQ(figure(dom.out, "tests"), "5");
  EXPECT_EQ(figure(dom.out, "predicted-makespan"), "4.500");
  EXPECT_EQ(figure(dom.out, "lower-bound"), "4.500");
  EXPECT_EQ(figure(dom.out, "predicted-ratio"), "1.000");
  EXPECT_EQ(figure(dom.out, "actual-makespan"), "4.750");
  EXPECT_EQ(figure(dom.out, "actual-bound"), "4.700");
  EXPECT_EQ(figure(dom.out, "actual-ratio"), "1.011");
  EXPECT_NE(dom.out.find(">4.75 s<"), std::string::npos);
  EXPECT_NE(dom.out.find("data-bound=\"4.500\""), std::string::npos);
  // The hostile name stayed text: the browser made no script element of it (the serializer escapes < and &
  // in text, not quotes).
  EXPECT_EQ(dom.out.find("<script"), std::string::npos);
  EXPECT_NE(dom.out.find("&lt;script&gt;alert('x')&lt;/script&gt; &amp; \"q\""), std::string::npos);
  EXPECT_NE(tlb::testing::section(dom.out, "flaky").find("alpha.fast"), std::string::npos);
  // Every test of the run is in the DOM's list of every test.
  std::vector<std::string> listed = tlb::testing::listed_tests(dom.out);
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(listed, (std::vector<std::string>{"&lt;script&gt;alert('x')&lt;/script&gt; &amp; \"q\"",
                                              "alpha.fast", "alpha.slow", "beta.one", "beta.two"}));

  const fs::path png = artifacts / "report.png";
  fs::remove(png);
  const ProcessResult shot = chromium({"--screenshot=" + png.string(), "--window-size=1280,1000", url});
  ASSERT_EQ(shot.exit_code, 0) << shot.err;
  ASSERT_TRUE(fs::is_regular_file(png)) << shot.err;
  const std::string image = read(png);
  ASSERT_GT(image.size(), 24u);
  EXPECT_EQ(image.substr(0, 8), "\x89PNG\r\n\x1a\n");
  EXPECT_EQ(big_endian(image, 16), 1280u);  // IHDR: width, height
  EXPECT_EQ(big_endian(image, 20), 1000u);
  // A blank 1280x1000 page compresses to a few kilobytes; the report, with its text and chart, to far more.
  EXPECT_GT(image.size(), 30'000u) << png;

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("seconds", std::to_string(seconds));
  std::cout << "chromium rendered and shot " << page.string() << " in " << seconds << " s; screenshot "
            << png.string() << "\n";
}

// A run with more tests than the page's tables show: every test must be findable in the page the browser
// built, in its partition's list, and named by a bar segment's <title>.
TEST_F(Browser, EveryTestOfTheRunIsOnThePage) {
  if (!fs::exists(kChromium))
    GTEST_SKIP() << kChromium << " is not installed: the report is not checked in a browser";
  RunData run;
  run.title = "twenty tests in chromium";
  run.records = tlb::testing::twenty_test_run();
  const fs::path page = dir_ / "twenty.html";
  std::ofstream(page, std::ios::binary) << tlb::report::render_html(run);
  const ProcessResult dom = chromium({"--dump-dom", "file://" + page.string()});
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  ASSERT_NE(dom.out.find("</html>"), std::string::npos) << dom.out << dom.err;
  const std::string list = tlb::testing::section(dom.out, "tests");
  for (const tlb::io::PartitionRecord& record : run.records) {
    const std::string id = "id=\"partition-" + std::to_string(record.partition) + "\"";
    const std::size_t start = list.find(id);
    ASSERT_NE(start, std::string::npos) << id;
    const std::string own = list.substr(start, list.find("</details>", start) - start);
    for (const std::string& name : record.tests) {
      EXPECT_NE(own.find("<td>" + name + "</td>"), std::string::npos)
          << name << " in partition " << record.partition;
      EXPECT_NE(dom.out.find("<title>" + name + ": "), std::string::npos) << name;
    }
  }
  EXPECT_EQ(tlb::testing::listed_tests(dom.out).size(), 20u);
  EXPECT_EQ(figure(dom.out, "actual-ratio"), "1.112");
}

}  // namespace
