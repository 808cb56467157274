// A project: its datasets (each with a map link), its jobs with live state and progress, and its history.
"use strict";
(() => {
  const { api, esc, when, link } = Tessera;
  const key = new URLSearchParams(location.search).get("project");
  document.getElementById("home").href = link("/");
  const MAPPED = new Set(["embed", "cluster-supcon", "impute"]);

  async function refresh() {
    try {
      const p = await api(`/api/projects/${encodeURIComponent(key)}`);
      document.getElementById("title").textContent = `project ${p.name}`;
      document.title = `Tessera · ${p.name}`;
      const ds = await api(`/api/projects/${p.id}/datasets`);
      document.querySelector("#datasets tbody").innerHTML = ds.map((d) =>
        `<tr><td>${esc(d.name)}</td><td>${d.cells}</td><td>${d.genes}</td><td>${when(d.registeredAt)}</td>` +
        `<td><a href="${link(`map.html?src=datasets/${d.id}`)}">map</a></td></tr>`).join("") || `<tr><td colspan="5">No datasets: <code>tessera dataset add FILE --project ${esc(p.name)}</code></td></tr>`;
      const page = await api(`/api/jobs?project=${p.id}&limit=200`);
      document.getElementById("jobcount").textContent = `(${page.jobs.length} of ${page.total})`;
      const rows = [];
      for (const j of page.jobs) {
        let progress = "";
        if (j.state === "running") {
          const d = await api(`/api/jobs/${j.id}`), pr = d.progress;
          if (pr && pr.total) {
            const pct = Math.min(100, Math.round((100 * (pr.step || 0)) / pr.total));
            progress = `<span class="bar"><span style="width:${pct}%"></span></span> ${esc(pr.phase || "")} ${pct}%`;
          }
        }
        const map = j.state === "succeeded" && MAPPED.has(j.workflow) ? `<a href="${link(`map.html?src=jobs/${j.id}`)}">map</a>` : "";
        rows.push(`<tr class="job" data-job="${j.id}"><td><a href="${link(`job.html?job=${j.id}`)}"><code>${j.id.slice(0, 8)}</code></a></td>` +
          `<td>${esc(j.workflow)}</td><td><span class="state ${j.state}">${j.state}</span> ${j.attempts}/${j.maxAttempts}</td><td>${progress}</td>` +
          `<td>${when(j.createdAt)}</td><td>${when(j.finishedAt)}</td><td>${map}</td></tr>`);
      }
      document.querySelector("#jobs tbody").innerHTML = rows.join("") || `<tr><td colspan="7">No jobs yet.</td></tr>`;
      const h = await api(`/api/projects/${p.id}/history`);
      document.querySelector("#history tbody").innerHTML = h.slice(-200).reverse().map((e) =>
        `<tr><td>${when(e.at)}</td><td>${esc(e.kind)}${e.state ? ` → <span class="state ${e.state}">${e.state}</span>` : ""}</td>` +
        `<td>${esc(e.workflow || "")} <code>${esc(String(e.subject).slice(0, 8))}</code></td><td>${esc(e.text || "")}</td></tr>`).join("");
      document.body.dataset.loaded = "1";
    } catch (e) { Tessera.report(e.message); }
  }
  refresh();
  setInterval(refresh, 3000);
})();
