// One map panel: a Leaflet map over the daemon's tiles for one colouring and basis, with its legend or colour bar,
// a µm scale bar that follows zoom, hover (nearest cell → id, label, value), shift-drag selection, and export.
"use strict";
class MapPanel {
  // spec: {basis, kind: "color"|"gene", key, layer, hide: Set<int>}
  constructor(view, index, spec) {
    this.view = view; this.index = index; this.spec = spec;
    this.el = document.createElement("section");
    this.el.className = "panel"; this.el.id = "panel" + index;
    this.el.innerHTML = `<div class="controls"></div><div class="body"><div class="leafmap"></div><div class="legend"></div></div>`;
    view.container.appendChild(this.el);
    this.painted = 0; this.hash = 0; this.tilesLoaded = 0;
  }

  query(extra) {
    const q = new URLSearchParams();
    if (this.spec.kind === "gene") { q.set("gene", this.spec.key); if (this.spec.layer === "imputed") q.set("layer", "imputed"); }
    else q.set("color", this.spec.key);
    if (this.spec.basis !== "spatial") q.set("basis", this.spec.basis);
    if (this.view.fov) q.set("fov", this.view.fov);
    if (this.spec.hide.size) q.set("hide", [...this.spec.hide].sort((a, b) => a - b).join(","));
    if (this.view.cmap) q.set("cmap", this.view.cmap);
    for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
    return q.toString();
  }

  url(path) { return `/api/maps/${this.view.src}/${path}?${this.query()}`; }

  controls() {
    const keys = this.view.keys, s = this.spec, esc = Tessera.esc;
    const cols = keys.columns.map((c) => `<option value="color:${esc(c.name)}" ${s.kind === "color" && s.key === c.name ? "selected" : ""}>${esc(c.name)} (${c.kind})</option>`).join("");
    const bases = (keys.hasCoordinates ? ["spatial"] : []).concat(keys.embeddings);
    const c = this.el.querySelector(".controls");
    c.innerHTML = `<label>colour <select class="key"><option value="">gene…</option>${cols}</select></label>` +
      `<label>gene <input type="text" class="gene" list="genes${this.index}" placeholder="type a gene" value="${s.kind === "gene" ? esc(s.key) : ""}">` +
      `<datalist id="genes${this.index}">${keys.genes.concat(keys.imputedGenes.filter((g) => !keys.genes.includes(g))).map((g) => `<option value="${esc(g)}">`).join("")}</datalist></label>` +
      (keys.imputedGenes.length ? `<label><select class="layer"><option value="measured">measured</option><option value="imputed" ${s.layer === "imputed" ? "selected" : ""}>imputed</option></select></label>` : "") +
      `<label>on <select class="basis">${bases.map((b) => `<option ${b === s.basis ? "selected" : ""}>${esc(b)}</option>`).join("")}</select></label>` +
      `<button type="button" class="export">export PNG</button>`;
    c.querySelector(".key").onchange = (e) => { if (e.target.value) { const [, k] = e.target.value.split(/:(.*)/s); this.set({ kind: "color", key: k }); } };
    const gene = c.querySelector(".gene");
    gene.onchange = () => { const g = gene.value.trim(); if (g) this.set({ kind: "gene", key: g }); };
    const layer = c.querySelector(".layer");
    if (layer) layer.onchange = () => { if (s.kind === "gene") this.set({ layer: layer.value }); else s.layer = layer.value; };
    c.querySelector(".basis").onchange = (e) => this.set({ basis: e.target.value });
    c.querySelector(".export").onclick = () => this.export();
  }

  set(change) {
    if (change.kind || change.key) this.spec.hide = new Set();
    Object.assign(this.spec, change);
    this.view.save();
    this.load();
  }

  async load() {
    this.controls();
    this.el.dataset.ready = "0";
    this.painted = 0; this.hash = 0; this.tilesLoaded = 0;
    try {
      const [info, pts] = await Promise.all([Tessera.api(this.url("legend")), Tessera.bytes(this.url("points"))]);
      this.info = info; this.legend = info.legend;
      this.points(pts);
      this.drawLegend();
      this.mount();
    } catch (e) {
      this.el.querySelector(".legend").innerHTML = `<p class="reason">${Tessera.esc(e.message)}</p>`;
      this.el.dataset.ready = "error"; this.el.dataset.error = e.message;
    }
  }

  points(buf) {
    const head = new Uint32Array(buf, 4, 3), n = head[1];
    this.kind = head[2];
    this.x = new Float32Array(buf, 16, n); this.y = new Float32Array(buf, 16 + 4 * n, n); this.v = new Float32Array(buf, 16 + 8 * n, n);
    // A bucket grid for hover and selection.
    const b = this.legend.bounds, side = Math.max(1, Math.ceil(Math.sqrt(n / 4)));
    this.grid = { side, x0: b.x0, y0: b.y0, w: (b.x1 - b.x0) / side || 1, h: (b.y1 - b.y0) / side || 1, cells: new Map() };
    for (let i = 0; i < n; i++) {
      const k = this.bucket(this.x[i], this.y[i]);
      let a = this.grid.cells.get(k); if (!a) this.grid.cells.set(k, (a = [])); a.push(i);
    }
  }

  bucket(x, y) {
    const g = this.grid;
    const bx = Math.min(g.side - 1, Math.max(0, Math.floor((x - g.x0) / g.w))), by = Math.min(g.side - 1, Math.max(0, Math.floor((y - g.y0) / g.h)));
    return by * g.side + bx;
  }

  nearest(x, y, radius) {
    const g = this.grid; let best = -1, bd = radius * radius;
    const bx = Math.floor((x - g.x0) / g.w), by = Math.floor((y - g.y0) / g.h);
    for (let j = by - 1; j <= by + 1; j++) for (let i = bx - 1; i <= bx + 1; i++) {
      if (i < 0 || j < 0 || i >= g.side || j >= g.side) continue;
      for (const c of g.cells.get(j * g.side + i) || []) {
        const d = (this.x[c] - x) ** 2 + (this.y[c] - y) ** 2; if (d < bd) { bd = d; best = c; }
      }
    }
    return best;
  }

  mount() {
    const p = this.info.pyramid, sq = p.square, S = sq.x1 - sq.x0, k = 256 / S;
    const crs = L.extend({}, L.CRS.Simple, { transformation: new L.Transformation(k, -k * sq.x0, k, -k * sq.y0) });
    const holder = this.el.querySelector(".leafmap");
    if (this.map) { this.map.remove(); this.map = null; }
    const map = (this.map = L.map(holder, { crs, minZoom: 0, maxZoom: p.maxZoom + 2, zoomSnap: 0.25, zoomDelta: 0.5, boxZoom: false, attributionControl: false }));
    const panel = this;
    const Tiles = L.GridLayer.extend({
      createTile(c, done) {
        const img = document.createElement("img");
        img.alt = "";
        Tessera.blobURL(panel.url(`tiles/${c.z}/${c.x}/${c.y}`)).then((u) => {
          img.onload = () => { panel.count(img); done(null, img); };
          img.src = u;
        }).catch((e) => { done(e, img); Tessera.report("tile " + c.z + "/" + c.x + "/" + c.y + ": " + e.message); });
        return img;
      },
    });
    // Just inside the square, so Leaflet never asks for the tile beyond its last row or column.
    const eps = S * 1e-6, bounds = L.latLngBounds([sq.y0 + eps, sq.x0 + eps], [sq.y1 - eps, sq.x1 - eps]);
    this.tiles = new Tiles({ tileSize: 256, maxNativeZoom: p.maxZoom, bounds, noWrap: true, keepBuffer: 1 });
    this.tiles.on("tileunload", (e) => { if (e.tile.src.startsWith("blob:")) URL.revokeObjectURL(e.tile.src); });
    this.tiles.on("load", () => { this.el.dataset.ready = "1"; this.el.dataset.painted = this.painted; this.el.dataset.hash = this.hash >>> 0; this.el.dataset.tiles = this.tilesLoaded; this.view.ready(); });
    this.tiles.addTo(map);
    this.scale = L.control({ position: "bottomleft" });
    this.scale.onAdd = () => { const d = L.DomUtil.create("div", "scalebar"); d.innerHTML = `<div class="line"></div><span></span>`; return d; };
    this.scale.addTo(map);
    map.on("zoomend", () => this.drawScale());
    const e = this.legend.bounds;
    const v = this.view.viewFor(this);
    if (v) map.setView([v.y, v.x], v.z, { animate: false }); else map.fitBounds(L.latLngBounds([e.y0, e.x0], [e.y1, e.x1]));
    this.drawScale();
    map.on("moveend", () => this.view.moved(this));
    map.on("mousemove", (ev) => this.hover(ev.latlng));
    this.selectable();
  }

  count(img) {
    const c = document.createElement("canvas"); c.width = img.naturalWidth; c.height = img.naturalHeight;
    const g = c.getContext("2d"); g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let painted = 0, h = this.hash;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3]) { painted++; h = (Math.imul(h, 31) + (d[i] << 16 | d[i + 1] << 8 | d[i + 2])) | 0; }
    this.painted += painted; this.hash = h; this.tilesLoaded++;
  }

  umPerPixel() { const sq = this.info.pyramid.square; return (sq.x1 - sq.x0) / (256 * 2 ** this.map.getZoom()); }

  drawScale() {
    const u = this.umPerPixel(), target = 110 * u, p = 10 ** Math.floor(Math.log10(target));
    const len = [5, 2, 1].map((m) => m * p).find((l) => l <= target) || p;
    const el = this.scale.getContainer();
    el.querySelector(".line").style.width = `${Math.round(len / u)}px`;
    const unit = this.spec.basis === "spatial" ? (len >= 1000 ? `${len / 1000} mm` : `${len} µm`) : `${len} units`;
    el.querySelector("span").textContent = unit;
    this.el.dataset.scale = unit;
    this.scaleText = unit; this.scalePx = Math.round(len / u);
  }

  drawLegend() {
    const L0 = this.legend, esc = Tessera.esc, box = this.el.querySelector(".legend");
    let html = `<div><b>${esc(L0.key)}</b> · ${L0.cells} cells${L0.positions ? `<br><small>${esc(L0.positions)}</small>` : ""}</div>`;
    if (L0.categories) {
      html += L0.categories.map((c) => `<div class="row ${c.drawn ? "" : "off"}" data-code="${c.code}" title="click to ${c.drawn ? "hide" : "show"}">` +
        `<span class="sw" style="background:${c.colour}"></span><span class="name">${esc(c.name)}</span><span class="count">${c.count}</span></div>`).join("");
    } else if (L0.colourBar) {
      const b = L0.colourBar;
      html += `<span class="bar" style="background:linear-gradient(to right, ${b.colours.join(",")})"></span>` +
        `<div class="ends"><span>${b.vmin.toPrecision(3)}</span><span>${esc(b.colorMap)}</span><span>${b.vmax.toPrecision(3)}</span></div><small>${esc(b.range)}</small>`;
      if (L0.zeros !== undefined) html += `<div>zeros: ${L0.zeros}</div>`;
    }
    if (L0.missing) html += `<div class="row"><span class="sw" style="background:${L0.missingColour}"></span>missing / NaN<span class="count">${L0.missing}</span></div>`;
    box.innerHTML = html;
    for (const row of box.querySelectorAll(".row[data-code]")) row.onclick = () => {
      const code = +row.dataset.code;
      if (this.spec.hide.has(code)) this.spec.hide.delete(code); else this.spec.hide.add(code);
      this.view.save(); this.load();
    };
  }

  async hover(ll) {
    if (!this.grid) return;
    const i = this.nearest(ll.lng, ll.lat, Math.max(this.legend.dotDiameter, 4 * this.umPerPixel()));
    this.view.highlight(i);
    if (i < 0) return;
    const label = this.kind === 0 ? (this.legend.categories?.[this.v[i]]?.name ?? "(none)") : (Number.isFinite(this.v[i]) ? this.v[i].toPrecision(4) : "NaN");
    const box = document.getElementById("hover");
    box.textContent = `cell ${i} · ${this.legend.key}: ${label}`;
    clearTimeout(this.hoverTimer);
    this.hoverTimer = setTimeout(async () => {
      try { const c = await Tessera.api(`/api/maps/${this.view.src}/cells/${i}?${this.query()}`); box.textContent = `cell ${c.id} · ${c.key}: ${c.value} · (${c.x.toFixed(1)}, ${c.y.toFixed(1)})`; } catch (_) { /* keep the local text */ }
    }, 120);
  }

  // Marks cells of the other panel: a ring for the hovered cell, dots for a selection.
  mark(cells, ring) {
    if (!this.map) return;
    if (ring) { if (this.ring) this.ring.remove(); this.ring = null; }
    else { if (this.sel) this.sel.remove(); this.sel = null; }
    if (!cells.length) return;
    const r = L.canvas({ padding: 0.2 });
    const group = L.layerGroup(cells.slice(0, 5000).map((i) => L.circleMarker([this.y[i], this.x[i]], ring
      ? { radius: 7, color: "#000", weight: 2, fill: false, renderer: r } : { radius: 2, color: "#e11", weight: 1, fillOpacity: 0.9, renderer: r })));
    group.addTo(this.map);
    if (ring) this.ring = group; else this.sel = group;
    if (!ring) this.el.dataset.selected = cells.length;
  }

  selectable() {
    const map = this.map; let start = null, rect = null;
    map.on("mousedown", (e) => {
      if (!e.originalEvent.shiftKey) return;
      map.dragging.disable(); start = e.latlng; rect = L.rectangle([start, start], { color: "#e11", weight: 1 }).addTo(map);
    });
    map.on("mousemove", (e) => { if (start) rect.setBounds([start, e.latlng]); });
    map.on("mouseup", (e) => {
      if (!start) return;
      const b = L.latLngBounds(start, e.latlng); start = null; map.dragging.enable(); rect.remove();
      this.view.select(this.cellsIn(b.getWest(), b.getNorth(), b.getEast(), b.getSouth()));
    });
  }

  cellsIn(x0, y0, x1, y1) {
    const lo = Math.min(y0, y1), hi = Math.max(y0, y1), out = [];
    for (let i = 0; i < this.x.length; i++) if (this.x[i] >= x0 && this.x[i] <= x1 && this.y[i] >= lo && this.y[i] <= hi) out.push(i);
    return out;
  }

  // The current view with its legend and scale bar, as a PNG download.
  export() {
    const holder = this.el.querySelector(".leafmap"), box = holder.getBoundingClientRect(), W = Math.round(box.width), H = Math.round(box.height);
    const c = document.createElement("canvas"); c.width = W + 230; c.height = Math.max(H, 60 + 16 * (this.legend.categories?.length || 4));
    const g = c.getContext("2d");
    g.fillStyle = "#fff"; g.fillRect(0, 0, c.width, c.height);
    for (const img of holder.querySelectorAll(".leaflet-tile-pane img")) {
      if (!img.complete || !img.naturalWidth) continue;
      const r = img.getBoundingClientRect();
      g.drawImage(img, r.left - box.left, r.top - box.top, r.width, r.height);
    }
    g.fillStyle = "#222"; g.fillRect(12, H - 20, this.scalePx, 3); g.font = "12px sans-serif"; g.fillText(this.scaleText, 12, H - 26);
    let y = 18; g.fillText(this.legend.key, W + 10, y); y += 18;
    if (this.legend.categories) for (const cat of this.legend.categories.filter((k) => k.drawn)) {
      g.fillStyle = cat.colour; g.beginPath(); g.arc(W + 16, y - 4, 5, 0, 7); g.fill(); g.fillStyle = "#222"; g.fillText(`${cat.name} (${cat.count})`, W + 26, y); y += 16;
    } else if (this.legend.colourBar) {
      const b = this.legend.colourBar, grad = g.createLinearGradient(W + 10, 0, W + 210, 0);
      b.colours.forEach((col, i) => grad.addColorStop(i / (b.colours.length - 1), col));
      g.fillStyle = grad; g.fillRect(W + 10, y, 200, 12); g.fillStyle = "#222"; g.fillText(b.vmin.toPrecision(3), W + 10, y + 26); g.fillText(b.vmax.toPrecision(3), W + 180, y + 26);
    }
    c.toBlob((blob) => {
      const a = document.createElement("a"); a.href = URL.createObjectURL(blob); a.download = `map-${this.legend.key}.png`; document.body.appendChild(a); a.click(); a.remove();
      this.el.dataset.exported = blob.size;
    }, "image/png");
  }
}
