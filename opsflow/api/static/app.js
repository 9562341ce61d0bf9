// opsflow dashboard: polls /v1 once a second and redraws. No framework, no build step.
"use strict";

const POLL_MS = 1000;
const ENDED = new Set(["succeeded", "reverted", "failed"]);

function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

async function getJson(url) {
  const reply = await fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}});
  if (reply.status === 401) { window.location = "/dashboard/login"; throw new Error("signed out"); }
  if (!reply.ok) throw new Error((await reply.json()).error.message);
  return reply.json();
}

function badge(state) { return `<span class="state state-${esc(state)}">${esc(state)}</span>`; }

async function jobList(table) {
  const query = table.dataset.query;
  const body = table.querySelector("tbody");
  async function draw() {
    try {
      const page = await getJson("/v1/jobs?limit=200" + (query ? "&" + query : ""));
      body.innerHTML = page.jobs.map(job => `<tr data-job="${esc(job.id)}" data-state="${esc(job.state)}">
        <td><a href="/dashboard/jobs/${esc(job.id)}">${esc(job.id.slice(0, 8))}</a></td><td>${esc(job.name)}</td>
        <td>${badge(job.state)}</td><td>${job.tasks_total ? `${job.tasks_done}/${job.tasks_total}` : "not started"}</td>
        <td>${esc(job.claimed_by)}</td><td>${esc(job.submitted)}</td></tr>`).join("")
        || `<tr><td colspan="6" class="hint">No jobs on the board.</td></tr>`;
    } catch (err) { body.innerHTML = `<tr><td colspan="6" class="error">${esc(err.message)}</td></tr>`; }
  }
  await draw();
  setInterval(draw, POLL_MS);
}

function mb(rate) { return rate == null ? "" : (rate / 1e6).toFixed(1); }

async function jobPage(section) {
  const id = section.dataset.job;
  const stateEl = document.getElementById("job-state");
  let timer = null;
  async function draw() {
    try {
      const {job} = await getJson(`/v1/jobs/${id}`);
      const shown = job.on_board ? job.state : job.run_state;
      stateEl.className = `state state-${shown}`;
      stateEl.textContent = shown;
      section.dataset.state = shown;
      document.getElementById("job-name").textContent = job.name || "";
      const share = job.tasks_total ? Math.round(100 * job.tasks_done / job.tasks_total) : 0;
      document.getElementById("job-bar").style.width = share + "%";
      document.getElementById("job-progress").textContent = `${job.tasks_done} of ${job.tasks_total} tasks done (${share}%)`;
      const tasks = [...job.tasks].sort((a, b) => (a.started || "~").localeCompare(b.started || "~"));
      document.querySelector("#tasks tbody").innerHTML = tasks.map(t => `<tr data-task="${esc(t.path)}">
        <td>${esc(t.path)}</td><td>${badge(t.state)}</td><td>${esc(t.started)}</td>
        <td>${t.duration == null ? "" : t.duration.toFixed(2)}</td><td>${esc(t.error)}</td></tr>`).join("");
      const svg = await fetch(`/v1/jobs/${id}/graph?format=svg`, {credentials: "same-origin"});
      if (svg.ok) document.getElementById("graph").innerHTML = await svg.text();
      if ((job.name || "").startsWith("forklift")) await forklift(id);
      if (!job.on_board && ENDED.has(job.run_state) && timer) { clearInterval(timer); timer = null; }
    } catch (err) { stateEl.textContent = err.message; }
  }
  await draw();
  if (!ENDED.has(section.dataset.state)) timer = setInterval(draw, POLL_MS);
}

async function forklift(id) {
  const {report} = await getJson(`/v1/jobs/${id}/forklift`);
  document.getElementById("forklift").hidden = false;
  const s = report.summary;
  document.getElementById("forklift-summary").textContent =
    `${s.servers} servers: ${s.moved} moved, ${s.reverted} reverted, ${s.failed} failed, ${s.running} running; ` +
    `downtime p50 ${s.downtime_p50 == null ? "-" : s.downtime_p50.toFixed(1)} s, p99 ${s.downtime_p99 == null ? "-" : s.downtime_p99.toFixed(1)} s`;
  document.querySelector("#servers tbody").innerHTML = report.servers.map(r => `<tr data-server="${esc(r.server)}">
    <td>${esc(r.server)}</td><td>${badge(r.outcome)}</td><td>${r.downtime == null ? "" : r.downtime.toFixed(2)}</td>
    <td>${r.bytes}</td><td>${mb(r.rate)}</td><td>${esc(r.error)}</td></tr>`).join("");
}

async function reclaimList(table) {
  const query = table.dataset.query;
  const body = table.querySelector("tbody");
  const message = document.getElementById("reclaim-message");
  async function draw() {
    try {
      const {servers} = await getJson("/v1/reclaim/servers" + (query ? "?" + query : ""));
      body.innerHTML = servers.map(s => `<tr data-server="${esc(s.server)}" data-state="${esc(s.state)}">
        <td>${esc(s.name || s.server)}<br><code>${esc(s.server)}</code></td><td>${esc(s.project)}</td>
        <td>${esc(s.reasons)}</td><td>${esc(s.deadline)}</td><td>${badge(s.state)}</td><td>${esc(s.kept_until)}</td>
        <td>${s.state === "ended" ? "" : `<button class="keep" data-server="${esc(s.server)}">Keep 30 days</button>`}</td>
        </tr>`).join("") || `<tr><td colspan="7" class="hint">No server is being reclaimed.</td></tr>`;
    } catch (err) { body.innerHTML = `<tr><td colspan="7" class="error">${esc(err.message)}</td></tr>`; }
  }
  body.addEventListener("click", async event => {
    const button = event.target.closest("button.keep");
    if (!button) return;
    button.disabled = true;
    const reply = await fetch(`/v1/reclaim/servers/${encodeURIComponent(button.dataset.server)}/keep`, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-Opsflow-Dashboard": "1"}, body: JSON.stringify({days: 30})});
    const answer = await reply.json();
    message.className = reply.ok ? "ok" : "error";
    message.textContent = reply.ok ? answer.kept.message : answer.error.message;
    await draw();
  });
  await draw();
  setInterval(draw, 5 * POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("jobs");
  if (table) jobList(table);
  const section = document.getElementById("job");
  if (section) jobPage(section);
  const reclaim = document.getElementById("reclaim");
  if (reclaim) reclaimList(reclaim);
});
