// Allure 3 configuration for `make report` (npx allure generate, pinned in package.json).
// Everything follows DUMONT_REPORTS_DIR (default "reports"), like the suite itself:
//   results  <reports>/allure-results   (written by behave; support/allure_out/ adds the run-level files)
//   report   <reports>/allure-report    (the HTML)
//   history  <reports>/history.jsonl    (Allure 3's history: kept across runs as long as reports/ is kept)
import { readFileSync } from "node:fs";
import { join } from "node:path";

const reports = process.env.DUMONT_REPORTS_DIR || "reports";
const results = join(reports, "allure-results");

// One source of truth for the categories: support/allure_out/categories.py CATEGORIES, written as categories.json
// (Allure 2's format). Allure 3's Awesome report reads categories from here, not from the results.
function categories() {
  try {
    const rules = JSON.parse(readFileSync(join(results, "categories.json"), "utf8"));
    return rules.map(({ name, matchedStatuses, messageRegex }) => ({
      name,
      matchers: messageRegex ? { statuses: matchedStatuses, message: messageRegex } : { statuses: matchedStatuses },
      groupBy: ["severity"],
      expand: true,
    }));
  } catch {
    return undefined; // no results yet: Allure's default categories
  }
}

// Written by `python -m support.allure_out prepare`: appendHistory is false when this run is already in history.
function generateOptions() {
  try {
    return JSON.parse(readFileSync(join(reports, "allure-generate.json"), "utf8"));
  } catch {
    return {};
  }
}

const language = (process.env.DUMONT_REPORT_LANG || process.env.LANG || "en").toLowerCase().startsWith("pt")
  ? "br"
  : "en";

export default {
  name: "Dumont Cloud acceptance",
  resultsDir: results,
  output: join(reports, "allure-report"),
  historyPath: join(reports, "history.jsonl"),
  appendHistory: generateOptions().appendHistory ?? true,
  categories: categories(),
  plugins: {
    awesome: {
      options: {
        reportName: "Dumont Cloud acceptance",
        reportLanguage: language,
        singleFile: false,
        groupBy: ["epic", "feature"],
      },
    },
  },
};
