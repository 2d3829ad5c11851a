#include "server/dashboard.hpp"

#include <chrono>
#include <cstdio>

#include "store/store.hpp"

namespace tlb::server::dashboard {
namespace {

using report::escape_html;

// Job and version names are [A-Za-z0-9._-] (names.hpp): safe in a query as they are; escaped for HTML anyway.
std::string job_link(const std::string& job) {
  return "/?job=" + escape_html(job);
}

std::string run_link(const std::string& job, const std::string& version) {
  return "/?job=" + escape_html(job) + "&amp;version=" + escape_html(version);
}

// What the dashboard adds to the report's style sheet: the way back, above each page's <main>.
constexpr std::string_view kNavStyle =
    "nav.tlb-dashboard { max-width: 1180px; margin: 0 auto; padding: 16px 32px 0; font-size: 13.5px; }\n"
    "nav.tlb-dashboard a, .tlb-job a { color: #365b86; }\n";

// The way back to the index (and to `job`'s page, when given).
std::string nav(const std::string& job = "") {
  std::string html = "<nav class=\"tlb-dashboard\"><a href=\"/\">All jobs</a>";
  if (!job.empty()) html += " &rsaquo; <a href=\"" + job_link(job) + "\">" + escape_html(job) + "</a>";
  return html + "</nav>\n";
}

// `way_back`: nav(), or "" on the index.
std::string page(std::string_view title, const std::string& way_back, std::string_view content) {
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  html += "<title>" + escape_html(title) + "</title>\n";
  html += "<style>" + std::string(report::style_sheet()) + std::string(kNavStyle) + "</style>\n";
  html += "</head>\n<body>\n" + way_back + "<main>\n";
  html.append(content);
  html += "</main>\n</body>\n</html>\n";
  return html;
}

std::string runs_table(const JobRuns& job) {
  if (job.runs.empty()) return "<p class=\"empty\">No CI run recorded (history only).</p>\n";
  std::string html =
      "<table class=\"tlb-runs\">\n<thead><tr><th>run</th><th>first seen</th><th "
      "class=\"num\">partitions</th>"
      "<th>tlb verify</th></tr></thead>\n<tbody>\n";
  for (const RunRow& run : job.runs) {
    html += "<tr data-job=\"" + escape_html(job.job) + "\" data-version=\"" + escape_html(run.version) +
            "\" data-partitions=\"" + std::to_string(run.partitions) + "\" data-proven=\"" +
            (run.proven ? "true" : "false") + "\">";
    if (run.partitions > 0) {
      html +=
          "<td><a href=\"" + run_link(job.job, run.version) + "\">" + escape_html(run.version) + "</a></td>";
    } else {
      html += "<td>" + escape_html(run.version) + "</td>";
    }
    html += "<td>" + escape_html(format_time(run.first_seen)) + "</td>";
    html += "<td class=\"num\">" + std::to_string(run.partitions) + "</td>";
    if (run.partitions == 0) {
      html += "<td><span class=\"status skipped\">no partition reported</span></td>";
    } else if (run.proven) {
      html += "<td><span class=\"status passed\">proven</span></td>";
    } else {
      html += "<td><span class=\"status failed\">not proven (" + std::to_string(run.problems) + " problem" +
              (run.problems == 1 ? "" : "s") + ")</span></td>";
    }
    html += "</tr>\n";
  }
  return html + "</tbody>\n</table>\n";
}

std::string footer(std::string_view tlb_version, std::string_view generated) {
  return "<footer>tlb server " + escape_html(tlb_version) + ", read-only; generated " +
         escape_html(generated) +
         ". The JSON API's routes: <a href=\"/api/v1/routes\">/api/v1/routes</a>.</footer>\n";
}

std::string status_text(int status) {
  switch (status) {
    case 400:
      return "400 Bad Request";
    case 404:
      return "404 Not Found";
    case 405:
      return "405 Method Not Allowed";
    default:
      return std::to_string(status);
  }
}

}  // namespace

std::string index_page(const std::vector<JobRuns>& jobs, std::string_view tlb_version,
                       std::string_view generated) {
  std::string content = "<header>\n<p class=\"eyebrow\">tlb server</p>\n<h1>Jobs</h1>\n";
  if (jobs.empty()) {
    content += "<p class=\"meta\">No job yet: point a CI run's TLB_STORE here.</p>\n";
  } else {
    content += "<p class=\"meta\">" + std::to_string(jobs.size()) + " job" + (jobs.size() == 1 ? "" : "s") +
               ", each with its most recent CI runs, newest first.</p>\n";
  }
  content += "</header>\n";
  for (const JobRuns& job : jobs) {
    content += "<section class=\"panel tlb-job\" data-job=\"" + escape_html(job.job) + "\">\n<h2><a href=\"" +
               job_link(job.job) + "\">" + escape_html(job.job) + "</a></h2>\n";
    content += runs_table(job);
    if (job.all_runs > job.runs.size()) {
      content += "<p class=\"more\"><a href=\"" + job_link(job.job) + "\">All " +
                 std::to_string(job.all_runs) + " runs</a></p>\n";
    }
    content += "</section>\n";
  }
  content += footer(tlb_version, generated);
  return page("tlb server", "", content);
}

std::string job_page(const JobRuns& job, std::string_view tlb_version, std::string_view generated) {
  std::string content =
      "<header>\n<p class=\"eyebrow\">tlb server</p>\n<h1>" + escape_html(job.job) + "</h1>\n";
  content += "<p class=\"meta\">" + std::to_string(job.all_runs) + " run" + (job.all_runs == 1 ? "" : "s") +
             (job.all_runs > job.runs.size() ? ", the newest " + std::to_string(job.runs.size()) + " shown"
                                             : std::string()) +
             ", newest first.</p>\n</header>\n";
  content += "<section class=\"panel tlb-job\" data-job=\"" + escape_html(job.job) + "\">\n" +
             runs_table(job) + "</section>\n" + footer(tlb_version, generated);
  return page(job.job + ": tlb server", nav(), content);
}

std::string run_page(const std::string& job, const report::RunData& run) {
  std::string html = report::render_html(run);
  // A way back, first thing in the body, and its style; the report itself stays as the library made it.
  const std::size_t body = html.find("<body");
  const std::size_t end = body == std::string::npos ? std::string::npos : html.find('>', body);
  if (end != std::string::npos) html.insert(end + 1, "\n" + nav(job));
  const std::size_t style = html.find("</style>");
  if (style != std::string::npos) html.insert(style, kNavStyle);
  return html;
}

std::string error_page(int status, std::string_view message) {
  const std::string title = status_text(status);
  return page(title + ": tlb server", nav(),
              "<header>\n<p class=\"eyebrow\">tlb server</p>\n<h1>" + escape_html(title) +
                  "</h1>\n<p class=\"meta\">" + escape_html(message) + "</p>\n</header>\n");
}

std::string format_time(std::int64_t unix_seconds) {
  const std::chrono::sys_seconds time{std::chrono::seconds(unix_seconds)};
  const std::chrono::sys_days day = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::hh_mm_ss clock(time - day);
  char text[16];
  std::snprintf(text, sizeof text, " %02d:%02d UTC", static_cast<int>(clock.hours().count()),
                static_cast<int>(clock.minutes().count()));
  return store::format_date(day) + text;
}

}  // namespace tlb::server::dashboard
