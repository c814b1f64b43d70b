// The viewer end to end in headless Chromium (Debian's /usr/bin/chromium) driven by
// playwright-core: upload the four phantom views, wait for EF, check the overlays are drawn and
// the numbers are those the API returns, take screenshots; then a few-shot run if an IRIS model
// is loaded.
//
//   node viewer_e2e.mjs URL VIEWS_DIR PATIENT OUT_DIR [CHROMIUM]
// Exit 0 when every check passed; prints one JSON line with what it saw.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import path from "node:path";

const [url, viewsDir, patient, outDir, executable = "/usr/bin/chromium"] = process.argv.slice(2);
const seen = {};
const browser = await chromium.launch({
  executablePath: executable,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector("#server").textContent.includes("model"));
  seen.server = await page.textContent("#server");

  const view = (name) => path.join(viewsDir, `${patient}_${name}.png`);
  await page.setInputFiles("input[name=a2c_ed]", view("2CH_ED"));
  await page.setInputFiles("input[name=a2c_es]", view("2CH_ES"));
  await page.setInputFiles("input[name=a4c_ed]", view("4CH_ED"));
  await page.setInputFiles("input[name=a4c_es]", view("4CH_ES"));
  await page.fill("input[name=spacing_2ch]", process.env.SPACING_2CH || "0.3,0.3");
  await page.fill("input[name=spacing_4ch]", process.env.SPACING_4CH || "0.3,0.3");
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/v1/echo/ef")),
    page.click("#echo-run"),
  ]);
  const api = await response.json();
  assert.equal(response.status(), 200, JSON.stringify(api));
  await page.waitForSelector("#overlay-4CH_ES");
  seen.ef_text = await page.textContent("#ef");
  seen.edv_text = await page.textContent("#edv");
  seen.api_ef = api.EF_percent;
  assert.equal(seen.ef_text, api.EF_percent.toFixed(1));
  assert.equal(seen.edv_text, api.EDV_mL.toFixed(0));
  // Every overlay canvas shows a picture: many distinct colours, some of them label colours.
  seen.canvases = await page.evaluate(() => [...document.querySelectorAll("canvas.overlay")].map((c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    const colours = new Set();
    let coloured = 0;
    for (let i = 0; i < d.length; i += 4) {
      colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      if (Math.abs(d[i] - d[i + 1]) > 40 || Math.abs(d[i + 1] - d[i + 2]) > 40) coloured++;
    }
    return { id: c.id, width: c.width, height: c.height, colours: colours.size, coloured_fraction: coloured / (d.length / 4) };
  }));
  assert.equal(seen.canvases.length, 4);
  for (const c of seen.canvases) {
    assert.ok(c.colours > 50, `${c.id} is nearly blank: ${c.colours} colours`);
    assert.ok(c.coloured_fraction > 0.02, `${c.id} shows no label colour`);
  }
  await page.screenshot({ path: path.join(outDir, "viewer_echo.png"), fullPage: true });

  // Few-shot: label one view, segment another, if an IRIS model is there.
  const irisOptions = await page.$$eval("#tab-fewshot select option", (o) => o.map((x) => x.value).filter(Boolean));
  if (irisOptions.length && process.env.FEWSHOT_SUPPORT) {
    await page.click("button[data-tab=fewshot]");
    await page.setInputFiles("input[name=support_image]", process.env.FEWSHOT_SUPPORT);
    await page.setInputFiles("input[name=support_mask]", process.env.FEWSHOT_MASK);
    await page.setInputFiles("input[name=query]", process.env.FEWSHOT_QUERY);
    await page.click("#fewshot-form button[type=submit]");
    await page.waitForSelector("#overlay-fewshot", { timeout: 120000 });
    seen.fewshot_caption = await page.textContent("#fewshot-result figcaption");
    await page.screenshot({ path: path.join(outDir, "viewer_fewshot.png"), fullPage: true });
  }
  // Nothing was fetched from anywhere but the server.
  const origin = new URL(url).origin;
  seen.foreign_requests = requests.filter((r) => !r.startsWith(origin) && !r.startsWith("data:"));
  assert.deepEqual(seen.foreign_requests, []);
  assert.deepEqual(consoleErrors, []);
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
