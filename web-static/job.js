// A job: state and history, parameters, metric curves (value against step, as SVG), artifacts (downloaded with
// the token through blob URLs), and its map (the render step's map.png) with a link to the map view.
"use strict";
(() => {
  const { api, esc, when, link, blobURL } = Tessera;
  const id = new URLSearchParams(location.search).get("job");
  document.getElementById("home").href = link("/");

  function curve(name, pts) {
    const W = 360, H = 160, P = 30;
    const xs = pts.map((p) => p.step), ys = pts.map((p) => p.value);
    const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    const sx = (x) => P + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * P), sy = (y) => H - P - ((y - y0) / (y1 - y0 || 1)) * (H - 2 * P);
    const path = pts.map((p, i) => `${i ? "L" : "M"}${sx(p.step).toFixed(1)},${sy(p.value).toFixed(1)}`).join("");
    return `<figure class="curve"><svg width="${W}" height="${H}" role="img" aria-label="${esc(name)}">` +
      `<rect x="${P}" y="${P / 2}" width="${W - 2 * P}" height="${H - 1.5 * P}" fill="#fff" stroke="#ddd"/>` +
      `<path d="${path}" fill="none" stroke="#2b6cb0" stroke-width="1.5"/>` +
      `<text x="${P}" y="${H - 8}" font-size="10">${x0}</text><text x="${W - P}" y="${H - 8}" font-size="10" text-anchor="end">step ${x1}</text>` +
      `<text x="2" y="${P / 2 + 8}" font-size="10">${y1.toPrecision(3)}</text><text x="2" y="${H - P}" font-size="10">${y0.toPrecision(3)}</text></svg>` +
      `<figcaption>${esc(name)} (${pts.length} points)</figcaption></figure>`;
  }

  async function load() {
    try {
      const j = await api(`/api/jobs/${encodeURIComponent(id)}`);
      document.getElementById("title").textContent = `${j.workflow} job ${j.id.slice(0, 8)}`;
      document.getElementById("state").innerHTML = `<span class="state ${j.state}">${j.state}</span> attempts ${j.attempts}/${j.maxAttempts}` +
        (j.exitReason ? ` <span class="reason">${esc(j.exitReason)}</span>` : "") +
        `<ol>${(j.transitions || []).map((t) => `<li>${when(t.at)} → ${esc(t.to || t.state)} ${esc(t.reason || "")}</li>`).join("")}</ol>`;
      let params = {}; try { params = JSON.parse(j.parameters); } catch (_) { params = j.parameters || {}; }
      document.querySelector("#params tbody").innerHTML = Object.entries(params).map(([k, v]) => `<tr><th>${esc(k)}</th><td><code>${esc(JSON.stringify(v))}</code></td></tr>`).join("");
      const metrics = await api(`/api/jobs/${j.id}/metrics`);
      const byName = {};
      for (const m of metrics) (byName[m.name] = byName[m.name] || []).push(m);
      document.getElementById("curves").innerHTML = Object.entries(byName).filter(([, v]) => v.length > 1).map(([n, v]) => curve(n, v)).join("") || "<p class=note>No metric series.</p>";
      const arts = await api(`/api/jobs/${j.id}/artifacts`);
      document.querySelector("#artifacts tbody").innerHTML = arts.map((a) =>
        `<tr><td><a href="#" data-download="${a.url}" data-name="${esc(a.path.split("/").pop())}">${esc(a.path)}</a></td><td>${esc(a.kind)}</td><td>${a.size}</td></tr>`).join("");
      const png = arts.find((a) => a.kind === "map");
      if (png) {
        document.getElementById("map").innerHTML = `<p><a href="${link(`map.html?src=jobs/${j.id}`)}">open the map view</a></p><img id="mapimg" alt="map of the job's main result">`;
        document.getElementById("mapimg").src = await blobURL(png.url);
      }
      document.body.dataset.loaded = "1";
      if (j.state === "running" || j.state === "queued") setTimeout(load, 3000);
    } catch (e) { Tessera.report(e.message); }
  }
  load();
})();
