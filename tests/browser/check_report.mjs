// node check_report.mjs REPORT.html SCREENSHOT.png [CHROMIUM]
// Opens a designer report in headless Chromium, sorts a column, filters, opens the first row's details
// (3D view or alignment), and prints one JSON line: what it saw and every console / page error.
import { chromium } from "playwright-core";

const [report, shot, executable] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: executable || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
});
const out = { errors: [], requests: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("console", (m) => { if (m.type() === "error") out.errors.push(m.text()); });
  page.on("pageerror", (e) => out.errors.push(String(e)));
  page.on("request", (r) => { if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) out.requests.push(r.url()); });
  await page.goto("file://" + report);
  out.title = await page.title();
  out.rows = await page.locator("tr.cand").count();
  out.summary = (await page.locator("#summary").innerText()).slice(0, 2000);
  out.headers = await page.locator("#candidates th").allInnerTexts();
  // sort by the objective column, twice (descending, then ascending)
  const col = out.headers.indexOf("objective");
  const values = async () => page.locator("tr.cand").evaluateAll(
    (rows, c) => rows.map((r) => parseFloat(r.cells[c].getAttribute("data-v"))), col);
  await page.locator("#candidates th").nth(col).click();
  out.sorted_asc = await values();
  await page.locator("#candidates th").nth(col).click();
  out.sorted_desc = await values();
  // filter by the first row's id, then clear
  const firstId = await page.locator("tr.cand").first().getAttribute("data-id");
  await page.fill("#filter", firstId);
  out.visible_after_filter = await page.locator("tr.cand:visible").count();
  out.count_text = await page.locator("#count").innerText();
  await page.fill("#filter", "");
  // open the first row's details
  await page.locator("tr.cand").first().click();
  const details = page.locator(`tr[data-details="${firstId}"]`);
  out.details_visible = await details.isVisible();
  out.canvas = await details.locator(".viewer canvas").count();
  out.alignment_marks = await details.locator(".align mark").count();
  out.legend = await details.locator(".legend span").allInnerTexts();
  out.details_text = (await details.innerText()).slice(0, 1000);
  await page.waitForTimeout(500);
  await page.screenshot({ path: shot, fullPage: false });
} catch (e) {
  out.errors.push("driver: " + String(e));
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
