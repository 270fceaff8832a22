// Runs a cases file through the wasm entry point (web/src/lib.rs) and draws the table.
// `?cases=URL` picks the file (default: the shipped TensorFlow vectors); a picked or dropped
// file replaces it. When a run ends, `window.wgactReport` holds the report lines and
// `document.body.dataset.state` turns to "done" (or "error"): what web/check.sh waits for.
import init, { connect, Cases } from "./pkg/wgact_web.js";

const DEFAULT_CASES = "../tests/data/cases.json";
const $ = (id) => document.getElementById(id);
let runner = null;
let running = Promise.resolve();

function fail(message) {
  $("error").textContent = message;
  window.wgactReport = { error: message };
  document.body.dataset.state = "error";
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

async function run(label, text) {
  document.body.dataset.state = "running";
  $("source").textContent = label;
  $("rows").replaceChildren();
  $("summary").textContent = "";
  $("summary").className = "";
  $("error").textContent = "";
  let cases;
  const parseStart = performance.now();
  try {
    cases = new Cases(text);
  } catch (e) {
    return fail(`${label}: ${e.message ?? e}`);
  }
  const parseMs = performance.now() - parseStart;
  const lines = [];
  const times = [];
  let passed = 0;
  const start = performance.now();
  for (let i = 0; i < cases.count; i++) {
    const t0 = performance.now();
    const r = JSON.parse(await runner.run(cases, i));
    const ms = performance.now() - t0;
    times.push([ms, r.name]);
    lines.push(r.line);
    if (r.passed) passed++;
    const row = $("rows").insertRow();
    cell(row, i + 1, "num");
    cell(row, r.name);
    cell(row, r.op);
    cell(row, `[${r.shape.join(", ")}]`, "shape");
    cell(row, r.passed ? "ok" : "FAIL", r.passed ? "ok" : "FAIL");
    cell(row, ms.toFixed(1), "num");
    cell(row, r.detail ?? "", "detail");
    $("summary").textContent = `${passed} passed, ${i + 1 - passed} failed (${i + 1} of ${cases.count})`;
  }
  const totalMs = performance.now() - start;
  const failed = cases.count - passed;
  const summary = `${passed} passed, ${failed} failed`;
  $("summary").textContent = summary;
  $("summary").className = failed === 0 ? "pass" : "fail";
  times.sort((a, b) => b[0] - a[0]);
  const slowest = times.length ? `; slowest ${times[0][1]} ${times[0][0].toFixed(1)} ms` : "";
  $("timings").textContent =
    `device ${window.wgactConnectMs.toFixed(0)} ms; parse ${parseMs.toFixed(0)} ms; ` +
    `${cases.count} cases in ${totalMs.toFixed(0)} ms` +
    ` (${(totalMs / Math.max(cases.count, 1)).toFixed(1)} ms each)${slowest}`;
  cases.free();
  const edges = await edgeChecks();
  window.wgactReport = {
    lines, summary, passed, failed, timings: $("timings").textContent,
    edgeLines: edges.map((e) => `${e.passed ? "ok  " : "FAIL"}  browser: ${e.name}` +
      (e.passed ? "" : `: ${e.detail}`)),
    edgeFailed: edges.filter((e) => !e.passed).length,
  };
  document.body.dataset.state = "done";
}

// The library's browser-only behaviour (late error scopes), checked once per page load after
// the first run, so that a deliberate failure cannot touch a case.
let edgeResults = null;
async function edgeChecks() {
  edgeResults ??= JSON.parse(await runner.edge_checks());
  $("edges").replaceChildren(...edgeResults.map((e) => {
    const li = document.createElement("li");
    li.textContent = `${e.passed ? "ok" : "FAIL"}: ${e.name}`;
    li.title = e.detail;
    li.className = e.passed ? "ok" : "FAIL";
    return li;
  }));
  return edgeResults;
}

function runFile(file) {
  running = running.then(async () => run(file.name, await file.text()));
}

async function main() {
  await init();
  const t0 = performance.now();
  try {
    runner = await connect();
  } catch (e) {
    $("adapter").textContent = "no WebGPU adapter";
    return fail(`WebGPU: ${e.message ?? e}`);
  }
  window.wgactConnectMs = performance.now() - t0;
  const info = JSON.parse(runner.info());
  // WebGPU names its adapter only through GPUAdapterInfo (wgpu leaves the name empty); ask
  // for it once more, just for display, with the adapter's own feature list.
  const adapter = await navigator.gpu.requestAdapter();
  const ai = adapter?.info ?? {};
  info.name ||= [ai.vendor, ai.architecture, ai.description].filter(Boolean).join(" ") || "(unnamed)";
  const compute = ["shader-f16", "subgroups", "timestamp-query"];
  info.adapter_features = adapter ? compute.filter((f) => adapter.features.has(f)) : [];
  window.wgactAdapter = info;
  const used = Object.entries(info.features)
    .map(([name, on]) => (on ? name : `no ${name}`))
    .join(", ");
  const l = info.limits;
  $("adapter").textContent =
    `adapter: ${info.name} (${info.backend}); used: ${used}; ` +
    `max storage binding ${(l.max_storage_buffer_binding_size / 2 ** 20).toFixed(0)} MiB, ` +
    `${l.max_compute_invocations_per_workgroup} invocations per workgroup; ` +
    `the adapter offers: ${info.adapter_features.join(", ") || "none of"} ` +
    `(of ${compute.join(", ")})`;

  $("file").addEventListener("change", (e) => e.target.files[0] && runFile(e.target.files[0]));
  const drop = $("drop");
  document.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  document.addEventListener("dragleave", () => drop.classList.remove("over"));
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) runFile(e.dataTransfer.files[0]);
  });

  const query = new URLSearchParams(location.search);
  const url = query.get("cases") ?? DEFAULT_CASES;
  running = running.then(async () => {
    const response = await fetch(url);
    if (!response.ok) return fail(`cannot load ${url}: HTTP ${response.status}`);
    await run(query.get("label") ?? url, await response.text());
  });
}

main().catch((e) => fail(`${e.message ?? e}`));
