// Tessera's first page: projects and jobs with their live state, from the daemon's JSON API.
// A daemon with a token: open the page as /#token=TOKEN and the token is sent as a bearer header.
"use strict";
const { api, esc, when, link } = Tessera;
const details = {};   // job id → last detail fetched (progress of running jobs)
const artifacts = {}; // job id → artifact list (fetched once a job has finished)

async function refresh() {
  try {
    const health = await api("/api/health");
    document.getElementById("health").textContent =
      `tesserad ${health.version} · ${health.running} running · ${health.queued} queued · workflows: ${health.workflows.join(", ")}`;
    const projects = await api("/api/projects");
    const counts = await Promise.all(projects.map((p) => api(`/api/projects/${p.id}/datasets`).then((d) => d.length)));
    document.querySelector("#projects tbody").innerHTML = projects.map((p, i) =>
      `<tr><td><a href="${link(`project.html?project=${p.id}`)}">${esc(p.name)}</a></td><td>${counts[i]}</td><td>${when(p.createdAt)}</td><td>${esc(p.description)}</td></tr>`).join("")
      || `<tr><td colspan="4">No projects yet: <code>tessera project create NAME</code></td></tr>`;
    const select = document.getElementById("projectFilter"), chosen = select.value || new URLSearchParams(location.hash.slice(1)).get("project") || "";
    select.innerHTML = `<option value="">all</option>` + projects.map((p) => `<option value="${p.id}">${esc(p.name)}</option>`).join("");
    const match = projects.find((p) => p.id === chosen || p.name === chosen);
    select.value = match ? match.id : "";
    const page = await api("/api/jobs?limit=100" + (select.value ? `&project=${select.value}` : ""));
    document.getElementById("jobcount").textContent = `(${page.jobs.length} of ${page.total})`;
    for (const j of page.jobs) {
      if (j.state === "running") details[j.id] = await api(`/api/jobs/${j.id}`);
      if (j.state === "succeeded" && !artifacts[j.id]) artifacts[j.id] = await api(`/api/jobs/${j.id}/artifacts`);
    }
    document.querySelector("#jobs tbody").innerHTML = page.jobs.map(row).join("")
      || `<tr><td colspan="7">No jobs yet: <code>tessera submit workflows/embed.json --project P …</code></td></tr>`;
  } catch (e) {
    document.getElementById("health").textContent = "daemon unreachable: " + (e.message || e);
  }
}

function row(j) {
  const p = j.state === "running" && details[j.id] ? details[j.id].progress : null;
  let progress = "";
  if (p && p.total) {
    const pct = Math.min(100, Math.round((100 * (p.step || 0)) / p.total));
    const loss = p.values && p.values.loss !== undefined ? ` loss ${p.values.loss.toPrecision(4)}` : "";
    const eta = p.values && p.values.eta_s !== undefined ? ` ETA ${Math.round(p.values.eta_s)} s` : "";
    progress = `<span class="bar"><span style="width:${pct}%"></span></span> ${esc(p.phase || "")} ${pct}%${loss}${eta}`;
  }
  const files = (artifacts[j.id] || []).map((a) => `<a href="#" data-download="${a.url}" data-name="${esc(a.path.split("/").pop())}">${esc(a.path.split("/").pop())}</a>`).join(" ");
  const last = j.state === "failed" || j.state === "cancelled" ? `<span class="reason">${esc(j.exitReason)}</span>` : files;
  return `<tr><td><a href="${link(`job.html?job=${j.id}`)}"><code title="${j.id}">${j.id.slice(0, 8)}</code></a></td><td>${esc(j.workflow)}</td>` +
    `<td><span class="state ${j.state}">${j.state}</span> ${j.attempts}/${j.maxAttempts}</td><td>${progress}</td>` +
    `<td>${when(j.createdAt)}</td><td>${when(j.finishedAt)}</td><td>${last}</td></tr>`;
}

refresh();
setInterval(refresh, 2000);
