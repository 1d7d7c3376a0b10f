// Opens the rycos monitor in Debian's chromium (headless) and checks, as a user would see it:
// the task table fills, a count changes live without the page reloading, filtering by name
// keeps only the matching tasks, and clicking a task opens its detail. Saves a screenshot.
//
//   node browser.mjs <monitor url> <screenshot path> [expected name prefix] [expected count]
//
// Prints one JSON line with what it saw; exits non-zero (with the reason) on any failure.
import { chromium } from "playwright-core";

const [url, screenshot, prefix = "worker-", expected = "8"] = process.argv.slice(2);
const wait = { timeout: 20_000 };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  let loads = 0;
  page.on("load", () => (loads += 1));

  await page.goto(url);
  await page.waitForFunction(() => document.querySelector("#status").textContent === "live", null, wait);
  await page.waitForSelector("#tasks tbody tr", wait);
  const rows = await page.locator("#tasks tbody tr").count();

  // A count changes while we look, with no reload.
  const before = await page.textContent("#live-tasks");
  await page.waitForFunction((seen) => document.querySelector("#live-tasks").textContent !== seen, before, wait);
  const after = await page.textContent("#live-tasks");

  // Filter by name.
  await page.fill("#filter-name", prefix);
  await page.waitForFunction(
    ([prefix, expected]) => {
      const names = [...document.querySelectorAll("#tasks tbody tr")].map((tr) => tr.children[1].textContent);
      return names.length === Number(expected) && names.every((name) => name.startsWith(prefix));
    },
    [prefix, expected],
    wait,
  );

  // Open a task.
  const id = await page.locator("#tasks tbody tr").first().getAttribute("data-id");
  await page.locator("#tasks tbody tr").first().click();
  await page.waitForFunction(
    ([id, prefix]) =>
      !document.querySelector("#detail").hidden &&
      document.querySelector("#detail-id").textContent === id &&
      (document.querySelector('dd[data-field="name"]')?.textContent || "").startsWith(prefix),
    [id, prefix],
    wait,
  );
  const spawnedAt = await page.textContent('dd[data-field="spawned at"]');
  await page.screenshot({ path: screenshot, fullPage: true });

  if (loads !== 1) problems.push(`the page loaded ${loads} times: it must update without reloading`);
  if (problems.length) throw new Error(problems.join("\n"));
  console.log(JSON.stringify({ rows, before, after, opened: id, spawnedAt }));
} finally {
  await browser.close();
}
