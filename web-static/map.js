// The map view: one or two panels over the same source (a dataset or a job's result), all state in the URL:
//   map.html?src=jobs/ID&p1=spatial:color:leiden&p2=X_umap:color:leiden&z=2&x=500&y=400&h1=0,3
// p1/p2 are basis:kind:key[:layer] (kind color or gene; layer measured or imputed); z/x/y the first panel's zoom
// and centre in µm; h1/h2 hidden category codes. Two tissue panels share zoom and centre; any two panels share
// hover highlight and shift-drag selection (cells are the same rows in both).
"use strict";
(() => {
  const q = new URLSearchParams(location.search);
  const view = {
    src: q.get("src"), cmap: q.get("cmap") || "", fov: q.get("fov") || "", container: document.getElementById("panels"), panels: [], keys: null,
    initial: q.has("z") ? { z: +q.get("z"), x: +q.get("x"), y: +q.get("y") } : null,
    syncing: false,
  };
  document.getElementById("home").href = Tessera.link("/");

  function parse(s, hide) {
    if (!s) return null;
    const parts = s.split(":");
    const spec = { basis: parts.shift(), kind: parts.shift(), layer: "measured", hide: new Set((hide || "").split(",").filter((x) => x !== "").map(Number)) };
    if (spec.kind === "gene" && parts.length > 1 && ["measured", "imputed"].includes(parts[parts.length - 1])) spec.layer = parts.pop();
    spec.key = parts.join(":");
    return spec.kind === "color" || spec.kind === "gene" ? spec : null;
  }
  const format = (s) => `${s.basis}:${s.kind}:${s.key}${s.kind === "gene" && s.layer === "imputed" ? ":imputed" : ""}`;

  // The query string, readable (":" "/" "," kept literal), x/y to 0.1 µm.
  view.state = () => {
    const enc = (v) => encodeURIComponent(String(v)).replace(/%3A/gi, ":").replace(/%2F/gi, "/").replace(/%2C/gi, ",");
    const out = [["src", view.src]];
    view.panels.forEach((p, i) => {
      out.push([`p${i + 1}`, format(p.spec)]);
      if (p.spec.hide.size) out.push([`h${i + 1}`, [...p.spec.hide].sort((a, b) => a - b).join(",")]);
    });
    const m = view.panels[0] && view.panels[0].map;
    const v = m ? { z: m.getZoom(), x: m.getCenter().lng, y: m.getCenter().lat } : view.initial;
    if (v) out.push(["z", v.z], ["x", Number(v.x).toFixed(1)], ["y", Number(v.y).toFixed(1)]);
    if (view.cmap) out.push(["cmap", view.cmap]);
    if (view.fov) out.push(["fov", view.fov]);
    return out.map(([k, val]) => `${k}=${enc(val)}`).join("&");
  };
  view.save = () => {
    const s = view.state();
    history.replaceState(null, "", "map.html?" + s + location.hash);
    document.body.dataset.state = s;
  };
  view.viewFor = (panel) => {
    if (panel.index === 0 && view.initial) return view.initial;
    const first = view.panels[0];
    if (panel.index === 1 && first && first.map && first.spec.basis === panel.spec.basis) {
      const c = first.map.getCenter(); return { z: first.map.getZoom(), x: c.lng, y: c.lat };
    }
    return null;
  };
  view.moved = (panel) => {
    if (view.syncing) return;
    const other = view.panels[1 - panel.index];
    if (other && other.map && other.spec.basis === panel.spec.basis && other.spec.basis === "spatial") {
      view.syncing = true;
      other.map.setView(panel.map.getCenter(), panel.map.getZoom(), { animate: false });
      view.syncing = false;
    }
    if (panel.index === 0) view.initial = null;
    view.save();
  };
  view.highlight = (i) => { for (const p of view.panels) p.mark(i >= 0 ? [i] : [], true); };
  view.select = (cells) => { for (const p of view.panels) p.mark(cells, false); document.body.dataset.selected = cells.length; };
  view.ready = () => {
    const done = view.panels.every((p) => p.el.dataset.ready === "1" || p.el.dataset.ready === "error");
    if (done) document.body.dataset.ready = "1";
  };

  function defaults(keys) {
    const cat = keys.columns.find((c) => c.kind === "categorical" && c.source === "result") || keys.columns.find((c) => c.kind === "categorical");
    const base = keys.hasCoordinates ? "spatial" : keys.embeddings[0];
    const colour = cat ? { kind: "color", key: cat.name } : { kind: "gene", key: keys.genes[0] || keys.imputedGenes[0] };
    const p1 = { basis: base, ...colour, layer: "measured", hide: new Set() };
    const p2 = keys.hasCoordinates && keys.embeddings.length ? { basis: keys.embeddings[0], ...colour, layer: "measured", hide: new Set() } : null;
    return [p1, p2];
  }

  function build(specs) {
    view.container.innerHTML = ""; view.panels = [];
    specs.filter(Boolean).forEach((s, i) => view.panels.push(new MapPanel(view, i, s)));
    document.getElementById("split").checked = view.panels.length > 1;
    view.save();
    view.panels.forEach((p) => p.load());
  }

  async function start() {
    if (!view.src || !/^(datasets|jobs)\/[A-Za-z0-9-]+$/.test(view.src)) { Tessera.report("give ?src=datasets/ID or ?src=jobs/ID"); return; }
    document.getElementById("title").textContent = view.src;
    try { view.keys = await Tessera.api(`/api/maps/${view.src}/keys`); } catch (e) { Tessera.report(e.message); return; }
    const [d1, d2] = defaults(view.keys);
    const p1 = parse(q.get("p1"), q.get("h1")) || d1;
    const p2 = q.has("p2") ? parse(q.get("p2"), q.get("h2")) : (q.has("p1") ? null : d2);
    build([p1, p2]);
    document.getElementById("split").onchange = (e) => {
      const first = view.panels[0].spec;
      if (e.target.checked) {
        const other = view.keys.embeddings.length && first.basis === "spatial" ? view.keys.embeddings[0] : first.basis;
        build([first, { ...first, basis: other, hide: new Set(first.hide) }]);
      } else build([first]);
    };
    const fovs = view.keys.fovs || [];
    if (fovs.length) {
      const sel = document.getElementById("fov");
      sel.innerHTML = `<option value="">all, in their own coordinates</option>` + fovs.map((f) => `<option ${f === view.fov ? "selected" : ""}>${Tessera.esc(f)}</option>`).join("");
      sel.parentElement.hidden = false;
      sel.onchange = () => { view.fov = sel.value; view.initial = null; build(view.panels.map((p) => p.spec)); };
    }
    document.getElementById("copylink").onclick = () => navigator.clipboard && navigator.clipboard.writeText(location.origin + "/map.html?" + view.state());
  }
  start();
})();
