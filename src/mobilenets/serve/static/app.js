// The page over the JSON API: no framework, no build step. Every text from the server (class
// names, file names, messages) goes in through textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
let models = [];
let land = ""; // the world's land as one SVG path (static/land-110m.json: Natural Earth 1:110m)

function el(tag, attributes = {}, text = null, namespace = null) {
  const node = namespace ? document.createElementNS(namespace, tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  return node;
}

function showError(message) {
  $("error").textContent = message || "";
  $("error").hidden = !message;
}

async function api(path, form) {
  const response = await fetch(path, form ? { method: "POST", body: form } : {});
  const body = await response.json().catch(() => ({ detail: response.statusText }));
  if (!response.ok) throw new Error(body.detail || `HTTP ${response.status}`);
  return body;
}

function selected() {
  return models.find((model) => model.id === $("model").value);
}

function fillModels() {
  for (const [select, wanted] of [[$("model"), (m) => m.kind !== "embedding"],
                                  [$("embedding-model"), (m) => m.kind === "embedding"]]) {
    select.replaceChildren();
    for (const model of models.filter(wanted)) {
      const option = el("option", { value: model.id }, `${model.name} (${model.kind}, ${model.source})`);
      option.disabled = !model.loadable;
      option.title = model.note;
      select.append(option);
    }
    const first = models.find((m) => wanted(m) && m.loadable);
    if (first) select.value = first.id;
  }
  $("similarity-section").hidden = !models.some((m) => m.kind === "embedding" && m.loadable);
  modelChanged();
}

function modelChanged() {
  const model = selected();
  $("model-note").textContent = model ? model.note : "no model";
  $("thresh-label").hidden = !model || model.kind !== "detection";
  $("latency").replaceChildren();
  $("latency-status").textContent = "";
}

function imageOf(file) {
  return new Promise((resolve) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => resolve(null); // the server's reader says why; its message is shown
    image.src = URL.createObjectURL(file);
  });
}

async function predictFiles(files) {
  showError("");
  $("photos").replaceChildren();
  const messages = [];
  for (const file of files) {
    const form = new FormData();
    form.append("file", file);
    form.append("model", $("model").value);
    form.append("score_thresh", $("score-thresh").value);
    try {
      const [answer, image] = await Promise.all([api("/api/predict", form), imageOf(file)]);
      $("photos").append(showAnswer(file.name, answer, image));
    } catch (error) {
      messages.push(error.message);
    }
  }
  showError(messages.join("\n"));
}

function showAnswer(name, answer, image) {
  const box = el("div", { class: "result", "data-kind": answer.kind, "data-name": name });
  const canvas = el("canvas", { class: "photo" });
  if (image) {
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    canvas.getContext("2d").drawImage(image, 0, 0);
  }
  box.append(canvas);
  if (answer.kind === "detection") {
    drawBoxes(canvas, answer.detections);
    box.append(detectionList(answer.detections));
  } else if (answer.kind === "geo") {
    box.append(placeTable(answer.top), worldMap(answer.top));
  } else {
    box.append(topTable(answer.top));
  }
  return box;
}

function topTable(top) {
  const table = el("table", { class: "top5" });
  for (const row of top) {
    const tr = el("tr", { class: "top" });
    const bar = el("div", { class: "bar" });
    bar.style.width = `${Math.round(200 * row.probability)}px`;
    const cell = el("td");
    cell.append(bar);
    tr.append(el("td", { class: "label" }, row.label),
              el("td", { class: "probability" }, `${(100 * row.probability).toFixed(1)}%`), cell);
    table.append(tr);
  }
  return table;
}

function drawBoxes(canvas, detections) {
  const context = canvas.getContext("2d");
  const line = Math.max(1, Math.round(canvas.width / 150));
  context.lineWidth = line;
  context.font = `${Math.max(10, 5 * line)}px sans-serif`;
  for (const found of detections) {
    const [x0, y0, x1, y1] = found.box;
    context.strokeStyle = context.fillStyle = "#e33";
    context.strokeRect(x0, y0, x1 - x0, y1 - y0);
    context.fillText(`${found.label} ${found.score.toFixed(2)}`, x0 + 2, Math.max(y0 - 3, 10));
  }
  canvas.dataset.boxes = String(detections.length);
}

function detectionList(detections) {
  const list = el("ol", { class: "detections" });
  for (const found of detections) {
    list.append(el("li", {}, `${found.label} ${found.score.toFixed(2)} at [${found.box.join(", ")}]`));
  }
  if (!detections.length) list.append(el("li", {}, "nothing above the threshold"));
  return list;
}

function placeTable(top) {
  const table = el("table", { class: "top5" });
  for (const row of top) {
    const tr = el("tr", { class: "top" });
    table.append(tr);
    tr.append(
      el("td", { class: "label" }, `cell ${row.cell}`),
      el("td", {}, `${row.lat.toFixed(2)}°, ${row.lng.toFixed(2)}°`),
      el("td", { class: "probability" }, `${(100 * row.probability).toFixed(1)}%`));
  }
  return table;
}

// A plain equirectangular world: longitude -180..180 left to right, latitude 90..-90 top to
// bottom, the land's outline and a graticule every 30 degrees; drawn here, no map tiles fetched.
function worldMap(top) {
  const svg = el("svg", { class: "world", viewBox: "-180 -90 360 180" }, null, SVG);
  svg.append(el("path", { class: "land", d: land }, null, SVG));
  for (let lng = -180; lng <= 180; lng += 30) {
    svg.append(el("line", { class: "grid", x1: lng, y1: -90, x2: lng, y2: 90 }, null, SVG));
  }
  for (let lat = -90; lat <= 90; lat += 30) {
    const kind = lat === 0 ? "grid equator" : "grid";
    svg.append(el("line", { class: kind, x1: -180, y1: -lat, x2: 180, y2: -lat }, null, SVG));
  }
  for (const row of top) {
    const dot = el("circle", { class: "place", cx: row.lng, cy: -row.lat,
                               r: 2 + 6 * Math.sqrt(row.probability) }, null, SVG);
    dot.append(el("title", {}, `cell ${row.cell}: ${(100 * row.probability).toFixed(1)}%`, SVG));
    svg.append(dot);
  }
  return svg;
}

async function compare() {
  const a = $("photo-a").files[0], b = $("photo-b").files[0];
  if (!a || !b) { $("similarity").textContent = "pick two photos"; return; }
  const form = new FormData();
  form.append("file_a", a);
  form.append("file_b", b);
  form.append("model", $("embedding-model").value);
  try {
    const answer = await api("/api/similarity", form);
    $("similarity").textContent = `cosine similarity ${answer.similarity.toFixed(3)}`;
  } catch (error) {
    $("similarity").textContent = error.message;
  }
}

async function timeModel() {
  const form = new FormData();
  form.append("model", $("model").value);
  $("latency-status").textContent = "timing (a few seconds per runtime)…";
  $("latency-button").disabled = true;
  try {
    const answer = await api("/api/latency", form);
    const table = $("latency");
    table.replaceChildren(el("tr"));
    for (const head of ["runtime", "median ms", "p90 ms"]) table.firstChild.append(el("th", {}, head));
    for (const row of answer.rows) {
      const tr = el("tr", { class: "runtime" });
      tr.append(el("td", {}, row.runtime));
      if (row.skipped) tr.append(el("td", { colspan: 2, class: "note" }, `skipped: ${row.skipped}`));
      else tr.append(el("td", {}, row.median_ms.toFixed(3)), el("td", {}, row.p90_ms.toFixed(3)));
      table.append(tr);
    }
    $("latency-status").textContent = `${answer.name}, batch 1`;
  } catch (error) {
    $("latency-status").textContent = error.message;
  } finally {
    $("latency-button").disabled = false;
  }
}

const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"];

function drawChart(series) {
  const points = series.flatMap((s, i) => s.points.map((p) => ({ ...p, series: i, source: s.source })));
  $("chart-section").hidden = points.length === 0;
  if (!points.length) return;
  const svg = $("chart");
  svg.replaceChildren();
  const [left, right, top, bottom] = [60, 620, 34, 310];
  const range = (values) => {
    let low = Math.min(...values), high = Math.max(...values);
    const pad = (high - low) * 0.08 || Math.abs(high) * 0.1 || 1;
    return [low - pad, high + pad];
  };
  const [x0, x1] = range(points.map((p) => p.latency_ms));
  const [y0, y1] = range(points.map((p) => p.top1));
  const x = (v) => left + ((v - x0) / (x1 - x0)) * (right - left);
  const y = (v) => bottom - ((v - y0) / (y1 - y0)) * (bottom - top);
  svg.append(el("line", { class: "axis", x1: left, y1: bottom, x2: right, y2: bottom }, null, SVG),
             el("line", { class: "axis", x1: left, y1: top, x2: left, y2: bottom }, null, SVG));
  for (let i = 0; i <= 4; i++) {
    const vx = x0 + ((x1 - x0) * i) / 4, vy = y0 + ((y1 - y0) * i) / 4;
    svg.append(el("text", { x: x(vx), y: bottom + 16, "text-anchor": "middle", "font-size": 11 }, vx.toPrecision(3), SVG),
               el("text", { x: left - 6, y: y(vy) + 4, "text-anchor": "end", "font-size": 11 }, vy.toPrecision(3), SVG));
  }
  svg.append(el("text", { x: (left + right) / 2, y: 345, "text-anchor": "middle", "font-size": 12 }, "latency (ms)", SVG),
             el("text", { x: 14, y: (top + bottom) / 2, "font-size": 12, transform: `rotate(-90 14 ${(top + bottom) / 2})`,
                          "text-anchor": "middle" }, "top-1", SVG));
  // The legend sits above the plot, where no point can hide it.
  series.forEach((s, i) => svg.append(el("text", { x: left + 200 * i, y: 14, "font-size": 11,
    fill: COLOURS[i % COLOURS.length] }, `● ${s.source}`, SVG)));
  for (const point of points) {
    const dot = el("circle", { class: point.model ? "point loadable" : "point", cx: x(point.latency_ms),
      cy: y(point.top1), r: 6, fill: COLOURS[point.series % COLOURS.length], "data-name": point.name }, null, SVG);
    if (point.model) dot.dataset.model = point.model;
    dot.addEventListener("mouseenter", (event) => showTooltip(event, point));
    dot.addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
    dot.addEventListener("click", () => usePoint(point));
    svg.append(dot);
  }
}

function showTooltip(event, point) {
  const tip = $("tooltip");
  tip.textContent = `${point.name} (${point.source}): ${point.latency_ms.toFixed(3)} ms, top-1 ${point.top1.toFixed(4)}` +
    (point.model ? ", click to use it" : "");
  tip.style.left = `${event.clientX + 12}px`;
  tip.style.top = `${event.clientY + 12}px`;
  tip.hidden = false;
}

function usePoint(point) {
  if (!point.model) return;
  $("model").value = point.model;
  modelChanged();
  const files = $("photo").files;
  if (files.length) predictFiles(files);
}

function wireDrop() {
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    predictFiles(event.dataTransfer.files);
  });
  $("photo").addEventListener("change", () => predictFiles($("photo").files));
}

async function start() {
  wireDrop();
  $("model").addEventListener("change", modelChanged);
  $("similarity-button").addEventListener("click", compare);
  $("latency-button").addEventListener("click", timeModel);
  try {
    models = (await api("/api/models")).models;
    fillModels();
    drawChart((await api("/api/results")).series);
    land = (await api("/static/land-110m.json")).d;
    document.body.dataset.ready = "true";
  } catch (error) {
    showError(error.message);
  }
}

start();
