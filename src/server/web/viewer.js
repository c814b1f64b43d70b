// The medport viewer: forms that post to the server's task endpoints and draw what comes back.
// No framework and nothing from elsewhere: every file is served by medport itself.
"use strict";

const $ = (selector) => document.querySelector(selector);

function authHeaders() {
  const token = $("#token").value.trim();
  sessionStorage.setItem("medport-token", token);
  return token ? { Authorization: "Bearer " + token } : {};
}

function showError(message) {
  const box = $("#error");
  box.textContent = message;
  box.hidden = !message;
}

async function call(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...(options.headers || {}), ...authHeaders() } });
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
  if (!response.ok) throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
  return body;
}

// Draws a base64 PNG into a new canvas; resolves when drawn.
function pngCanvas(base64, id) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => {
      const canvas = document.createElement("canvas");
      canvas.width = image.naturalWidth;
      canvas.height = image.naturalHeight;
      if (id) canvas.id = id;
      canvas.className = "overlay";
      canvas.getContext("2d").drawImage(image, 0, 0);
      resolve(canvas);
    };
    image.onerror = () => reject(new Error("the overlay is not a valid PNG"));
    image.src = "data:image/png;base64," + base64;
  });
}

function areaTable(labels) {
  const table = document.createElement("table");
  table.innerHTML = "<tr><th>label</th><th>pixels</th><th>area mm²</th></tr>";
  for (const l of labels || []) {
    if (l.value === 0) continue;
    const row = table.insertRow();
    row.insertCell().textContent = l.name;
    row.insertCell().textContent = l.pixels ?? l.voxels;
    row.insertCell().textContent = l.area_mm2 !== undefined ? l.area_mm2.toFixed(1) : (l.volume_ml !== undefined ? l.volume_ml.toFixed(2) + " mL" : "-");
  }
  return table;
}

function formWithFiles(form) {
  const data = new FormData();
  for (const element of form.elements) {
    if (!element.name) continue;
    if (element.type === "file") {
      for (const f of element.files) data.append(element.name, f, f.name);
    } else if (element.type === "checkbox") {
      continue;
    } else if (element.value !== "") {
      data.append(element.name, element.value);
    }
  }
  return data;
}

async function submitting(form, work) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  showError("");
  try { await work(); } catch (e) { showError(e.message); } finally { button.disabled = false; }
}

async function runEcho(event) {
  event.preventDefault();
  const form = event.target;
  await submitting(form, async () => {
    const data = formWithFiles(form);
    for (const [view, spacing] of [["2", "spacing_2ch"], ["4", "spacing_4ch"]]) {
      const has = form.elements[`a${view}c_ed`].files.length + form.elements[`a${view}c_es`].files.length > 0;
      if (!has) data.delete(spacing);
    }
    const r = await call("/v1/echo/ef", { method: "POST", body: data });
    $("#edv").textContent = r.EDV_mL.toFixed(0);
    $("#esv").textContent = r.ESV_mL.toFixed(0);
    $("#ef").textContent = r.EF_percent === null ? "n/a" : r.EF_percent.toFixed(1);
    $("#method").textContent = r.method_description;
    const views = $("#echo-views");
    views.replaceChildren();
    for (const key of ["2CH_ED", "2CH_ES", "4CH_ED", "4CH_ES"]) {
      const v = r.views_detail[key];
      if (!v) continue;
      const figure = document.createElement("figure");
      figure.append(await pngCanvas(v.overlay_png, "overlay-" + key));
      const lv = (v.labels || []).find((l) => l.name === "LV");
      const caption = document.createElement("figcaption");
      caption.textContent = `${key.replace("_", " ")}: LV ${lv && lv.area_mm2 !== undefined ? lv.area_mm2.toFixed(0) + " mm²" : ""}`;
      figure.append(caption, areaTable(v.labels));
      views.append(figure);
    }
    $("#echo-result").hidden = false;
  });
}

async function runSegment(event) {
  event.preventDefault();
  const form = event.target;
  await submitting(form, async () => {
    const r = await call("/v1/segment", { method: "POST", body: formWithFiles(form) });
    const out = $("#segment-result");
    out.replaceChildren();
    if (r.overlay_png) out.append(await pngCanvas(r.overlay_png, "overlay-segment"));
    out.append(areaTable(r.summary.labels));
    out.hidden = false;
  });
}

async function runFewshot(event) {
  event.preventDefault();
  const form = event.target;
  await submitting(form, async () => {
    const data = formWithFiles(form);
    data.append("options", JSON.stringify({ update_bank: form.elements.update_bank.checked }));
    const r = await call("/v1/fewshot", { method: "POST", body: data });
    const out = $("#fewshot-result");
    out.replaceChildren();
    for (const q of r.results) {
      const figure = document.createElement("figure");
      figure.append(await pngCanvas(q.overlay_png, "overlay-fewshot"));
      const caption = document.createElement("figcaption");
      const classes = q.report.classes.map((c) => `${c.name}: ${c.area_mm2 !== undefined ? c.area_mm2.toFixed(0) + " mm²" : c.volume_ml.toFixed(2) + " mL"}`);
      caption.textContent = `${classes.join(", ")}; confidence ${q.report.mean_confidence.toFixed(2)}; quality ${q.report.quality.passed ? "passed" : "failed"}`;
      figure.append(caption);
      out.append(figure);
    }
    out.hidden = false;
  });
}

async function loadModels() {
  try {
    const server = await call("/v2");
    const { models } = await call("/v1/models");
    $("#server").textContent = `${server.name} ${server.version}: ${models.filter((m) => m.state === "READY").length} model(s)`;
    for (const select of document.querySelectorAll("select.models")) {
      select.replaceChildren();
      for (const m of models.filter((m) => m.state === "READY" && m.pipeline === select.dataset.family)) {
        select.append(new Option(`${m.name} (v${m.version})`, m.name));
      }
      if (!select.options.length) select.append(new Option(`no ${select.dataset.family} model loaded`, ""));
    }
  } catch (e) {
    $("#server").textContent = "not connected";
    showError(e.message);
  }
}

function switchTab(name) {
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.tab === name);
  for (const panel of document.querySelectorAll(".panel")) panel.hidden = panel.id !== "tab-" + name;
}

document.addEventListener("DOMContentLoaded", () => {
  $("#token").value = sessionStorage.getItem("medport-token") || "";
  $("#token").addEventListener("change", loadModels);
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => switchTab(tab.dataset.tab));
  $("#echo-form").addEventListener("submit", runEcho);
  $("#segment-form").addEventListener("submit", runSegment);
  $("#fewshot-form").addEventListener("submit", runFewshot);
  loadModels();
});
